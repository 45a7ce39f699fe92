import { randomUUID } from 'node:crypto';
import { outputSlabs } from '@tether/host-protocol';
import {
  ClientMessageSchema,
  CloseCode,
  ErrorCode,
  type ParsedClientMessage,
  Permission,
  PROTOCOL_VERSION,
  type ServerMessage,
  TERMINAL_SOCKET_PATH,
} from '@tether/protocol';
import type { ConnectInteraction, TerminalViewer } from '@tether/terminal-engine';
import { isTerminalError } from '@tether/terminal-engine';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import { createAuditThrottle } from '../audit/throttle.js';
import type { AuthContext } from '../auth/auth-service.js';
import { FINGERPRINT_COOKIE } from '../auth/fingerprint.js';
import { AppError } from '../errors.js';
import { createKeyedBucket } from '../lib/keyed-bucket.js';
import { isDatabaseUnavailable } from '../plugins/errors.js';
import type { AttachKind } from '../plugins/metrics.js';
import type { RemoteTerminal as Terminal } from '../terminals/remote.js';
import type { SessionBoundSocket } from './session-sockets.js';

/** How long a socket may stay open without a valid `auth` message. */
export const AUTH_TIMEOUT_MS = 5_000;
/** Verifying a received `auth` (a database round trip) longer than this closes with 1013. */
const AUTH_VERIFY_TIMEOUT_MS = 8_000;
/** Protocol errors tolerated before a socket is considered hostile and closed. */
const MAX_PROTOCOL_ERRORS = 20;
/** The client is told to ack at least this often (bytes); the broker pauses well past it. */
const ACK_WINDOW_BYTES = 256 * 1024;
/**
 * Input flow control (`authenticated.inputWindowBytes`, `input_ack`): a client keeps at most this
 * much input unconfirmed. Beyond twice the window the broker stops reading the socket (TCP then
 * slows the client) instead of dropping anything; it reads again below one window.
 */
export const INPUT_WINDOW_BYTES = 256 * 1024;
/** `input_ack` goes out every this many applied bytes, and when the backlog empties. */
const INPUT_ACK_STEP = 16 * 1024;
const INPUT_ACK_MIN = 1024;

type Phase = 'unauthenticated' | 'authenticated' | 'opening' | 'attached' | 'closed';

/** Allowed: no Origin (non-browser clients), the broker's own origin, or a CORS_ORIGIN entry. */
export function originAllowed(request: FastifyRequest, allowed: readonly string[]): boolean {
  const origin = request.headers.origin;
  if (!origin) return true;
  if (allowed.includes(origin)) return true;
  try {
    return new URL(origin).host === request.host;
  } catch {
    return false;
  }
}

/**
 * The terminal socket (DESIGN §6). One socket per attached terminal: `auth` first (the token
 * never travels in the URL), then `open` or `attach`. Binary frames are keystrokes in and
 * output out. Closing the socket only detaches; the terminal keeps running.
 */
export function registerTerminalSocket(app: FastifyInstance): void {
  const { config, auth, terminals, sessionSockets, metrics, sharedLimits } = app;
  // Refused upgrades are audited, rate-limited so that repeating them cannot flood the log.
  const refusalAudit = createAuditThrottle();
  const { wsMaxSocketsPerIp, wsMaxPendingPerIp, wsMaxSocketsPerUser, wsMessageRate, wsStallTimeoutMs } =
    config.limits;
  /** Sockets per client address: all of them, and those not authenticated yet. */
  const perIp = new Map<string, { open: number; pending: number }>();
  const ipEntry = (ip: string) => {
    const e = perIp.get(ip) ?? { open: 0, pending: 0 };
    perIp.set(ip, e);
    return e;
  };
  const releaseIp = (ip: string, wasPending: boolean) => {
    const e = perIp.get(ip);
    if (!e) return;
    e.open--;
    if (wasPending) e.pending--;
    if (e.open <= 0) perIp.delete(ip);
  };
  const overIpLimit = (e: { open: number; pending: number } | undefined) =>
    !!e && (e.open >= wsMaxSocketsPerIp || e.pending >= wsMaxPendingPerIp);

  app.get(
    TERMINAL_SOCKET_PATH,
    {
      websocket: true,
      // Cross-site WebSocket hijacking: browsers always send Origin; refuse foreign ones
      // before the upgrade completes.
      preValidation: async (request, reply) => {
        if (!originAllowed(request, config.corsOrigins)) {
          const origin = String(request.headers.origin).slice(0, 200);
          const admitted = refusalAudit.admit(request.ip);
          if (admitted) {
            // Not awaited: the refusal does not wait for the database, and a failing write
            // must not turn it into a 500.
            app.audit
              .record({
                type: 'terminal.socket_refused',
                outcome: 'failure',
                ip: request.ip,
                detail: { reason: 'origin', origin, suppressed: admitted.suppressed },
              })
              .catch((err) => request.log.warn({ err }, 'audit of a refused socket failed'));
          }
          await reply
            .status(403)
            .send({ error: { code: ErrorCode.FORBIDDEN, message: 'Origin not allowed' } });
          return;
        }
        // Cheap refusal before the upgrade: one address cannot hold descriptors without bound.
        if (overIpLimit(perIp.get(request.ip))) {
          await reply.status(429).send({
            error: { code: ErrorCode.SOCKET_LIMIT, message: 'Too many terminal sockets from this address' },
          });
        }
      },
    },
    (socket, request) => handle(socket as WebSocket, request),
  );

  function handle(socket: WebSocket, request: FastifyRequest): void {
    const log = request.log.child({ component: 'terminal-socket' });
    // Counted at once (the check before the upgrade can race with a burst of upgrades).
    const ip = request.ip;
    const mine = ipEntry(ip);
    const overIp = overIpLimit(mine);
    mine.open++;
    mine.pending++;
    let ipPending = true;
    const openedAt = performance.now();
    log.info({ url: request.url, ip: request.ip }, 'socket opened');
    const fingerprint = request.cookies?.[FINGERPRINT_COOKIE];
    let phase: Phase = 'unauthenticated';
    let ctx: AuthContext | null = null;
    /** This socket's row in the shared socket count (authenticated browser sockets only). */
    const socketId = randomUUID();
    let counted = false;
    let terminal: Terminal | null = null;
    let protocolErrors = 0;
    let lastSeen = Date.now();
    let pendingHostKey: ((accept: boolean) => void) | null = null;
    let pendingPrompt: ((responses: string[]) => void) | null = null;
    const openAbort = new AbortController();
    /** While an `attach` is in progress: what it costs to bring this socket up to date. */
    let attaching: { kind: AttachKind; bytes: number } | null = null;
    // Input flow control, counted in bytes of binary frames received on this socket.
    let inputReceived = 0;
    let inputApplied = 0;
    let inputAcked = 0;
    /** Input that arrived before the terminal was ready (behind `open`), delivered after it. */
    let heldInput: Buffer[] | null = null;
    /**
     * The client's input stream (`open`/`attach` `input`), once `ready` said where it stands:
     * the stream offset of the next byte to deliver, and how far stream offsets are ahead of
     * this socket's own count (acks are in stream offsets then).
     */
    let stream: { id: string; next: number; shift: number } | null = null;
    let streamRequested: string | null = null;

    const send = (message: ServerMessage) => {
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
    };
    const sendError = (code: string, message: string, details?: Record<string, string>) =>
      send({ type: 'error', code, message, ...(details ? { details } : {}) });

    const close = (code: number, reason: string) => {
      if (phase === 'closed') return;
      phase = 'closed';
      if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING)
        socket.close(code, reason);
    };

    const viewer: TerminalViewer = {
      sendBinary: (data) => {
        if (attaching) attaching.bytes += data.byteLength;
        // Output read from the terminal host lives in shared slabs until written (OutputSlabs).
        if (socket.readyState === socket.OPEN)
          socket.send(data, { binary: true }, () => outputSlabs.release(data));
        else outputSlabs.release(data);
      },
      sendJson: (message) => {
        if (attaching && message.type === 'snapshot') {
          attaching.kind = 'snapshot';
          attaching.bytes += Buffer.byteLength(message.data);
        }
        if (message.type === 'ready' && streamRequested && message.input?.stream === streamRequested) {
          // Delivered input from here on continues the client's stream where the terminal
          // stands; the client resends the rest of what it had sent.
          const applied = message.input.applied;
          stream = { id: streamRequested, next: applied, shift: applied - inputApplied };
        }
        send(message);
      },
      bufferedAmount: () => socket.bufferedAmount,
      close: (code, reason) => close(code, reason),
    };

    const bound: SessionBoundSocket & { sessionId: string; userId: string } = {
      sessionId: '',
      userId: '',
      end(code, reason, notice) {
        if (notice) send(notice);
        close(code, reason);
      },
    };

    const authTimer = setTimeout(() => {
      if (phase === 'unauthenticated') close(CloseCode.UNAUTHENTICATED, 'authentication timeout');
    }, AUTH_TIMEOUT_MS);
    if (overIp) {
      sendError(ErrorCode.SOCKET_LIMIT, 'Too many terminal sockets from this address');
      close(CloseCode.LIMIT_REACHED, 'too many sockets from this address');
    }

    // Reading is paused for two reasons, independently: input backpressure and message rate.
    const pausedFor = new Set<'input' | 'rate'>();
    const pauseReading = (why: 'input' | 'rate') => {
      if (pausedFor.size === 0) socket.pause();
      pausedFor.add(why);
    };
    const resumeReading = (why: 'input' | 'rate') => {
      if (!pausedFor.delete(why) || pausedFor.size > 0) return;
      if (phase !== 'closed') socket.resume();
    };

    // Message rate: a token bucket (bursts of 2 × rate). Messages beyond it wait, in order,
    // and the socket is not read meanwhile: nothing is dropped, and a flood costs the broker
    // at most `rate` messages a second.
    const messages = createKeyedBucket({
      capacity: 2 * wsMessageRate,
      perMinute: 60 * wsMessageRate,
      maxKeys: 1,
    });
    let rateTimer: NodeJS.Timeout | null = null;
    const deferred: Array<[Buffer, boolean]> = [];
    const takeToken = (): boolean => {
      if (messages.wait('') > 0) return false;
      messages.spend('');
      return true;
    };
    const drainDeferred = () => {
      rateTimer = null;
      while (deferred.length > 0 && phase !== 'closed' && takeToken()) {
        const [buf, isBinary] = deferred.shift()!;
        dispatch(buf, isBinary);
      }
      if (deferred.length === 0 || phase === 'closed') {
        deferred.length = 0;
        resumeReading('rate');
        return;
      }
      rateTimer = setTimeout(drainDeferred, messages.wait(''));
    };
    let rateNoticeAt = Number.NEGATIVE_INFINITY;
    const deferMessage = (buf: Buffer, isBinary: boolean) => {
      if (deferred.length === 0) {
        // Said once per flood, not each time the socket is read again in the middle of one.
        if (performance.now() - rateNoticeAt > 10_000) {
          sendError(ErrorCode.RATE_LIMITED, 'Too many messages; this socket is read more slowly');
        }
        rateNoticeAt = performance.now();
        pauseReading('rate');
        rateTimer = setTimeout(drainDeferred, messages.wait(''));
      }
      deferred.push([buf, isBinary]);
    };

    // A client that stops reading (but may still send pings) is dropped: output that neither
    // drains from its socket nor gets acknowledged for WS_STALL_TIMEOUT.
    let acked = -1;
    let lastBuffered = 0;
    let progressAt = Date.now();
    const stallTimer = setInterval(() => {
      if (phase === 'closed') return;
      const buffered = socket.bufferedAmount;
      const backlog = terminal ? terminal.viewerBacklog(viewer) : 0;
      if ((buffered === 0 && backlog === 0) || buffered < lastBuffered) progressAt = Date.now();
      lastBuffered = buffered;
      if (Date.now() - progressAt > wsStallTimeoutMs) {
        log.info({ userId: ctx?.userId, buffered, backlog }, 'client stopped reading; closing');
        close(CloseCode.STALLED, 'not reading');
        // The close frame waits behind unread data: do not wait for the handshake.
        setTimeout(() => socket.terminate(), 1_000).unref();
      }
    }, 1_000);
    stallTimer.unref();

    // Heartbeat: WebSocket-level pings; a socket silent past HEARTBEAT_TIMEOUT is dead and
    // dropped (its terminal merely detaches).
    const heartbeat = setInterval(() => {
      // While the broker itself stopped reading (backpressure, rate), pongs wait unread.
      if (pausedFor.size > 0) lastSeen = Date.now();
      if (Date.now() - lastSeen > config.limits.heartbeatTimeoutMs) {
        close(CloseCode.HEARTBEAT_TIMEOUT, 'heartbeat timeout');
        socket.terminate();
        return;
      }
      if (socket.readyState === socket.OPEN) socket.ping();
    }, config.limits.heartbeatIntervalMs);
    heartbeat.unref();
    socket.on('pong', () => {
      lastSeen = Date.now();
    });

    const protocolError = (message: string) => {
      sendError(ErrorCode.PROTOCOL_ERROR, message);
      if (++protocolErrors >= MAX_PROTOCOL_ERRORS)
        close(CloseCode.PROTOCOL_ERROR, 'too many protocol errors');
    };

    const interaction: ConnectInteraction = {
      confirmHostKey(info, signal) {
        return new Promise((resolve) => {
          pendingHostKey = (accept) => {
            pendingHostKey = null;
            resolve(accept);
          };
          signal.addEventListener('abort', () => {
            pendingHostKey = null;
            resolve(false);
          });
          send({
            type: 'hostkey_prompt',
            host: info.host,
            port: info.port,
            keyType: info.keyType,
            fingerprint: info.fingerprint,
          });
        });
      },
      prompt(name, instructions, prompts, signal, asking) {
        return new Promise((resolve) => {
          pendingPrompt = (responses) => {
            pendingPrompt = null;
            resolve(responses);
          };
          signal.addEventListener('abort', () => {
            pendingPrompt = null;
            resolve([]);
          });
          send({ type: 'prompt', name, instructions, prompts, ...asking });
        });
      },
    };

    const fail = (err: unknown, context: string) => {
      if (isTerminalError(err)) return sendError(err.code, err.message, err.details);
      if (err instanceof AppError) return sendError(err.code, err.message, err.extra.details);
      if (isDatabaseUnavailable(err)) {
        log.warn({ err: (err as Error).message }, `${context}: database unavailable`);
        return sendError(ErrorCode.SERVICE_UNAVAILABLE, 'The database is unavailable; try again shortly');
      }
      log.error({ err }, context);
      sendError(ErrorCode.INTERNAL, 'Internal error');
    };

    const attachTo = async (
      t: Terminal,
      resumeFrom?: number,
      view?: { cols?: number; rows?: number; scrollback?: number },
      reattach = false,
      inputStream?: string,
    ) => {
      terminal = t;
      phase = 'attached';
      streamRequested = inputStream ?? null;
      stream = null;
      const started = performance.now();
      if (reattach) attaching = { kind: 'replay', bytes: 0 };
      // Keystrokes that arrive while the viewer is being set up wait behind any sent before.
      heldInput ??= [];
      try {
        await t.attach(viewer, {
          resumeFrom,
          cols: view?.cols,
          rows: view?.rows,
          ...(view?.scrollback !== undefined ? { scrollback: view.scrollback } : {}),
          ...(inputStream ? { inputStream } : {}),
        });
        releaseHeldInput();
        terminals.markAttached(t);
        if (attaching) {
          const seconds = (performance.now() - started) / 1000;
          metrics.observeAttach(attaching.kind, seconds, attaching.bytes);
          log.info(
            {
              terminalId: t.id,
              userId: t.userId,
              kind: attaching.kind,
              bytes: attaching.bytes,
              ms: Math.round(seconds * 10_000) / 10,
            },
            'terminal attached',
          );
        }
      } catch (err) {
        terminal = null;
        phase = 'authenticated';
        discardHeldInput();
        fail(err, 'attach failed');
      } finally {
        attaching = null;
      }
    };

    async function handleText(msg: ParsedClientMessage): Promise<void> {
      if (msg.type === 'ping') {
        send({ type: 'pong', ...(msg.t !== undefined ? { t: msg.t } : {}) });
        return;
      }
      if (phase === 'unauthenticated') {
        if (msg.type !== 'auth') {
          close(CloseCode.UNAUTHENTICATED, 'authenticate first');
          return;
        }
        // The client did its part in time; if the database is slow to verify, that is not the
        // client's fault: it hears "try again later" (1013), never "sign in again" (4001).
        clearTimeout(authTimer);
        const verifying = setTimeout(() => {
          if (phase !== 'unauthenticated') return;
          sendError(ErrorCode.SERVICE_UNAVAILABLE, 'The database is slow to answer; try again shortly');
          close(CloseCode.TRY_AGAIN_LATER, 'database slow');
        }, AUTH_VERIFY_TIMEOUT_MS);
        try {
          ctx = await auth.authenticate(msg.token, fingerprint);
        } catch (err) {
          clearTimeout(verifying);
          if ((phase as Phase) === 'closed') return;
          if (isDatabaseUnavailable(err)) {
            // Not the client's fault: say so, and let it retry with backoff.
            sendError(ErrorCode.SERVICE_UNAVAILABLE, 'The database is unavailable; try again shortly');
            close(CloseCode.TRY_AGAIN_LATER, 'database unavailable');
            return;
          }
          const code = err instanceof AppError ? err.code : ErrorCode.UNAUTHENTICATED;
          sendError(code, err instanceof AppError ? err.message : 'Authentication failed');
          close(CloseCode.UNAUTHENTICATED, 'authentication failed');
          return;
        }
        if ((phase as Phase) === 'closed') return; // closed while verifying
        clearTimeout(verifying);
        // The per-user cap counts this user's sockets on every node (cluster/shared-limits.ts).
        let admitted: boolean;
        try {
          admitted = await sharedLimits.openSocket(socketId, ctx.userId, wsMaxSocketsPerUser);
        } catch (err) {
          if (!isDatabaseUnavailable(err)) log.error({ err }, 'socket count failed');
          sendError(ErrorCode.SERVICE_UNAVAILABLE, 'The database is unavailable; try again shortly');
          close(CloseCode.TRY_AGAIN_LATER, 'database unavailable');
          return;
        }
        if (!admitted) {
          sendError(
            ErrorCode.SOCKET_LIMIT,
            `Too many terminal sockets open for this user (${wsMaxSocketsPerUser}); close some tabs`,
          );
          close(CloseCode.LIMIT_REACHED, 'too many sockets for this user');
          return;
        }
        counted = true;
        if ((phase as Phase) === 'closed') {
          // Closed while being counted: uncount at once.
          void sharedLimits.closeSocket(socketId).catch(() => {});
          return;
        }
        if (mine) mine.pending--;
        ipPending = false;
        phase = 'authenticated';
        bound.sessionId = ctx.sessionId;
        bound.userId = ctx.userId;
        sessionSockets.add(bound);
        send({
          type: 'authenticated',
          protocolVersion: PROTOCOL_VERSION,
          userId: ctx.userId,
          maxMessageBytes: config.limits.messageSizeLimit,
          ackWindowBytes: ACK_WINDOW_BYTES,
          heartbeatIntervalMs: config.limits.heartbeatIntervalMs,
          inputWindowBytes: INPUT_WINDOW_BYTES,
          maxScrollback: Math.max(config.limits.terminalScrollbackMax, config.limits.terminalScrollback),
        });
        return;
      }
      const user = ctx!;
      switch (msg.type) {
        case 'auth':
          return protocolError('Already authenticated.');
        case 'open': {
          if (phase !== 'authenticated') return protocolError('This socket already has a terminal.');
          if (!user.permissions.has(Permission.SSH_CONNECT)) {
            return sendError(ErrorCode.FORBIDDEN, 'You do not have permission to open SSH connections.');
          }
          phase = 'opening';
          heldInput = [];
          // Not awaited: the host-key decision and prompt answers arrive as later messages.
          terminals
            .open(user, msg, interaction, openAbort.signal, request.ip)
            .then(async (t) => {
              if (phase !== 'opening') return; // socket closed while connecting: t stays, detached
              await attachTo(t, 0, undefined, false, msg.input?.stream);
            })
            .catch((err) => {
              if (phase === 'opening') phase = 'authenticated';
              discardHeldInput();
              fail(err, 'open failed');
            });
          return;
        }
        case 'attach': {
          if (phase !== 'authenticated') return protocolError('This socket already has a terminal.');
          let t = terminals.get(msg.terminalId, user.userId);
          if (!t) {
            // Held by another node: reached over the peer link, then attached like ours.
            const remote = await terminals.remoteTerminal(msg.terminalId, user.userId);
            if (remote) {
              if (!remote.owner.reachable) {
                sendError(ErrorCode.TERMINAL_UNREACHABLE, remote.owner.why);
                close(CloseCode.TRY_AGAIN_LATER, 'terminal unreachable');
                return;
              }
              try {
                t = await terminals.connectRemote(remote.row, remote.owner, user);
              } catch (err) {
                log.warn({ err: (err as Error).message, node: remote.row.nodeId }, 'peer link failed');
                sendError(ErrorCode.TERMINAL_UNREACHABLE, (err as Error).message);
                close(CloseCode.TRY_AGAIN_LATER, 'terminal unreachable');
                return;
              }
              if ((phase as Phase) === 'closed') {
                terminals.manager.releasePeer(t);
                return;
              }
              log.info({ terminalId: t.id, node: remote.row.nodeId }, 'attaching through the peer link');
            }
          }
          if (!t) {
            const ended = await terminals.endedInfo(msg.terminalId, user.userId);
            if (ended) {
              // Its last screen first (kept after its host freed it), then why it is over.
              if (ended.screen)
                send({
                  type: 'snapshot',
                  terminalId: msg.terminalId,
                  offset: ended.screen.outputOffset,
                  cols: ended.screen.cols,
                  rows: ended.screen.rows,
                  data: ended.screen.data,
                });
              sendError(ErrorCode.TERMINAL_ENDED, ended.row.endReason ?? 'This terminal has ended.');
              close(CloseCode.TERMINAL_ENDED, 'terminal ended');
            } else {
              sendError(ErrorCode.TERMINAL_NOT_FOUND, 'No such terminal.');
              close(CloseCode.UNKNOWN_TERMINAL, 'unknown terminal');
            }
            return;
          }
          await attachTo(
            t,
            msg.resumeFrom,
            { cols: msg.cols, rows: msg.rows, scrollback: msg.scrollback },
            true,
            msg.input?.stream,
          );
          return;
        }
        case 'resize':
          if (!terminal) return protocolError('No terminal attached.');
          try {
            terminal.resize(msg.cols, msg.rows);
          } catch (err) {
            fail(err, 'resize failed');
          }
          return;
        case 'ack':
          if (msg.offset > acked) {
            acked = msg.offset;
            progressAt = Date.now();
          }
          if (terminal) terminal.ack(viewer, msg.offset);
          return;
        case 'hostkey_decision':
          if (!pendingHostKey) return protocolError('No host key question is pending.');
          pendingHostKey(msg.accept);
          return;
        case 'prompt_response':
          if (!pendingPrompt) return protocolError('No prompt is pending.');
          pendingPrompt(msg.responses);
          return;
        case 'terminate':
          if (!terminal) return protocolError('No terminal attached.');
          await terminals.terminate(terminal, user, 'Ended by the user.');
          return;
      }
    }

    const ackInput = () => {
      const unacked = inputApplied - inputAcked;
      if (unacked >= INPUT_ACK_STEP || (inputApplied === inputReceived && unacked >= INPUT_ACK_MIN)) {
        inputAcked = inputApplied;
        send({ type: 'input_ack', offset: inputApplied + (stream?.shift ?? 0) });
      }
    };
    const applied = (bytes: number) => {
      inputApplied += bytes;
      ackInput();
      if (pausedFor.has('input') && inputReceived - inputApplied <= INPUT_WINDOW_BYTES) {
        resumeReading('input');
      }
    };
    const deliver = (buf: Buffer) => {
      // A terminal that ended takes nothing; the bytes count as consumed so a pacing client
      // is not left waiting (it hears `exit`).
      let at: { id: string; at: number } | undefined;
      if (stream) {
        at = { id: stream.id, at: stream.next };
        stream.next += buf.length;
      }
      if (!terminal?.input(buf, () => applied(buf.length), at)) applied(buf.length);
    };
    function releaseHeldInput() {
      const held = heldInput ?? [];
      heldInput = null;
      for (const buf of held) deliver(buf);
    }
    function discardHeldInput() {
      const held = heldInput ?? [];
      heldInput = null;
      // Input behind an `open` that failed goes nowhere; acknowledged all the same.
      applied(held.reduce((n, b) => n + b.length, 0));
    }

    const handleBinary = (buf: Buffer) => {
      if (heldInput === null && (phase !== 'attached' || !terminal))
        return protocolError('Binary input before a terminal is opened or attached.');
      inputReceived += buf.length;
      if (heldInput) heldInput.push(buf);
      else deliver(buf);
      // Never dropped: a client far beyond its window is slowed by TCP instead.
      if (!pausedFor.has('input') && inputReceived - inputApplied > 2 * INPUT_WINDOW_BYTES) {
        pauseReading('input');
      }
      if (ctx) void auth.touch(ctx).catch(() => {});
    };

    const handleFrame = async (buf: Buffer, isBinary: boolean) => {
      if (phase === 'closed') return;
      if (isBinary) return handleBinary(buf);
      let json: unknown;
      try {
        json = JSON.parse(buf.toString('utf8'));
      } catch {
        return protocolError('Text frames must be JSON.');
      }
      const parsed = ClientMessageSchema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return protocolError(
          `Invalid message: ${issue?.path.join('.') || 'type'} ${issue?.message ?? ''}`.trim(),
        );
      }
      await handleText(parsed.data);
    };

    // Messages are handled strictly in order. Handlers are attached synchronously, before any
    // await, so frames sent right after the handshake are never lost (fastify-websocket).
    // A keystroke with nothing queued ahead of it (the common case) is written to the SSH
    // channel at once; anything arriving while an earlier message is still being handled
    // (an `attach` awaiting its snapshot, say) waits its turn in the queue.
    let queue: Promise<void> = Promise.resolve();
    let queued = 0;
    function dispatch(buf: Buffer, isBinary: boolean) {
      if (queued === 0 && isBinary) {
        try {
          if (phase !== 'closed') handleBinary(buf);
        } catch (err) {
          fail(err, 'input failed');
        }
        return;
      }
      queued++;
      queue = queue
        .then(() => handleFrame(buf, isBinary))
        .catch((err) => fail(err, 'message handling failed'))
        .finally(() => {
          queued--;
        });
    }
    socket.on('message', (data: RawData, isBinary: boolean) => {
      lastSeen = Date.now();
      const buf = Buffer.isBuffer(data)
        ? data
        : Array.isArray(data)
          ? Buffer.concat(data)
          : Buffer.from(data);
      if (deferred.length > 0 || !takeToken()) return deferMessage(buf, isBinary);
      dispatch(buf, isBinary);
    });

    socket.on('close', (code: number) => {
      log.info(
        { code, userId: ctx?.userId, durationMs: Math.round(performance.now() - openedAt) },
        'socket closed',
      );
      phase = 'closed';
      clearTimeout(authTimer);
      clearInterval(heartbeat);
      clearInterval(stallTimer);
      if (rateTimer) clearTimeout(rateTimer);
      if (mine) releaseIp(ip, ipPending);
      if (counted) void sharedLimits.closeSocket(socketId).catch(() => {});
      openAbort.abort();
      sessionSockets.remove(bound);
      if (terminal) {
        if (!terminal.ended)
          log.info({ terminalId: terminal.id, userId: terminal.userId }, 'terminal detached');
        terminal.detach(viewer);
        terminals.markDetached(terminal);
      }
    });
    socket.on('error', (err) => log.debug({ err: err.message }, 'socket error'));
    terminals.trackSocket(socket as WebSocket, (code, reason) => close(code, reason), request.raw.socket);
  }
}
