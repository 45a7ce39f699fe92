import { request as httpsRequest } from 'node:https';
import {
  PEER_TERMINAL_SOCKET_PATH,
  PEER_TICKET_HEADER,
  type PeerLink,
  peerTerminatePath,
} from '@tether/host-protocol';
import { CloseCode } from '@tether/protocol';
import type { FastifyBaseLogger } from 'fastify';
import WebSocket, { type RawData } from 'ws';

export interface PeerForward {
  /** A frame from the browser, passed on as it is (queued until the peer socket is open). */
  send(data: Buffer | string, isBinary: boolean): void;
  /** Bytes waiting to go to the peer (the caller stops reading the browser while it is high). */
  bufferedAmount(): number;
  close(code?: number, reason?: string): void;
}

/** Close codes a WebSocket endpoint may not send (RFC 6455 §7.4.1): reported, never sent. */
const UNSENDABLE = new Set([1005, 1006, 1015]);

/**
 * The forwarding half of the peer link (issue #16): a browser attached to this node, its terminal
 * runs on another. This opens a socket to that node's peer port (TLS-PSK, a ticket bound to the
 * terminal, user and session) and passes every frame both ways untouched: the owning node speaks
 * the terminal protocol to the browser itself, so output offsets, acks, input offsets and flow
 * control are end to end, and nothing here can lose or double a byte. The first frame sent is the
 * browser's own `attach`.
 */
export function forwardToPeer(options: {
  link: PeerLink;
  peerUrl: string;
  ticket: string;
  attach: string;
  maxPayload: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  log: FastifyBaseLogger;
  onMessage(data: Buffer, isBinary: boolean): void;
  /** The peer socket ended: `code` is what to tell the browser. */
  onClose(code: number, reason: string, message?: string): void;
}): PeerForward {
  const { log } = options;
  const url = `${options.peerUrl.replace(/^https:/, 'wss:')}${PEER_TERMINAL_SOCKET_PATH}`;
  const ws = new WebSocket(url, {
    ...options.link.clientTls(),
    headers: { [PEER_TICKET_HEADER]: options.ticket },
    perMessageDeflate: false,
    maxPayload: options.maxPayload,
    handshakeTimeout: 10_000,
  });
  ws.binaryType = 'nodebuffer';
  const pending: Array<[Buffer | string, boolean]> = [[options.attach, false]];
  let pendingBytes = 0;
  let ended = false;
  let lastSeen = Date.now();

  const finish = (code: number, reason: string, message?: string) => {
    if (ended) return;
    ended = true;
    clearInterval(heartbeat);
    options.onClose(UNSENDABLE.has(code) ? CloseCode.SERVER_RESTARTING : code, reason, message);
  };

  ws.on('open', () => {
    for (const [data, binary] of pending.splice(0)) ws.send(data, { binary });
    pendingBytes = 0;
  });
  ws.on('message', (data: RawData, isBinary: boolean) => {
    lastSeen = Date.now();
    options.onMessage(data as Buffer, isBinary);
  });
  ws.on('pong', () => {
    lastSeen = Date.now();
  });
  ws.on('ping', () => {
    lastSeen = Date.now();
  });
  ws.on('unexpected-response', (_req, res) => {
    log.warn({ status: res.statusCode, peer: options.peerUrl }, 'peer node refused the forwarded attach');
    res.resume();
    ws.terminate();
    finish(
      CloseCode.TRY_AGAIN_LATER,
      'peer refused',
      `The node holding this terminal refused it (${res.statusCode}).`,
    );
  });
  ws.on('error', (err) => {
    log.warn({ err: err.message, peer: options.peerUrl }, 'peer link error');
    finish(
      CloseCode.TRY_AGAIN_LATER,
      'peer unreachable',
      'The node holding this terminal cannot be reached.',
    );
  });
  ws.on('close', (code: number, reason: Buffer) => finish(code, reason.toString() || 'peer closed'));

  // The owning node pings its side; this side pings too, so a peer gone without a FIN (a
  // partition) is noticed here in HEARTBEAT_TIMEOUT, not after TCP's own timeouts.
  const heartbeat = setInterval(() => {
    if (ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - lastSeen > options.heartbeatTimeoutMs) {
      ws.terminate();
      finish(
        CloseCode.TRY_AGAIN_LATER,
        'peer not answering',
        'The node holding this terminal stopped answering.',
      );
      return;
    }
    ws.ping();
  }, options.heartbeatIntervalMs);
  heartbeat.unref();

  return {
    send(data, isBinary) {
      if (ended) return;
      if (ws.readyState === WebSocket.OPEN) ws.send(data, { binary: isBinary });
      else {
        pending.push([data, isBinary]);
        pendingBytes += data.length;
      }
    },
    bufferedAmount: () => pendingBytes + ws.bufferedAmount,
    close(code = 1000, reason = '') {
      ended = true;
      clearInterval(heartbeat);
      if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
      else ws.terminate();
    },
  };
}

/**
 * Ends a terminal held by another node, acting for `ctx`'s user and session (its owner, or an
 * administrator): POST to that node's peer port with a `terminate` ticket. Resolves with the
 * peer's status (204 ended or already ended, 404 not found there, 403 refused).
 */
export function terminateOnPeer(options: {
  link: PeerLink;
  peerUrl: string;
  nodeId: string;
  terminalId: string;
  ctx: { userId: string; sessionId: string };
  timeoutMs?: number;
}): Promise<number> {
  const ticket = options.link.sign({
    act: 'terminate',
    tid: options.terminalId,
    uid: options.ctx.userId,
    sid: options.ctx.sessionId,
    to: options.nodeId,
  });
  const url = new URL(`${options.peerUrl}${peerTerminatePath(options.terminalId)}`);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        ...options.link.clientTls(),
        method: 'POST',
        headers: { [PEER_TICKET_HEADER]: ticket },
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('the peer node did not answer in time')));
    req.on('error', reject);
    req.end();
  });
}
