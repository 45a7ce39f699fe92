import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { chmodSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import {
  type ApiMessage,
  type ApiMessageOf,
  ApiMessageSchema,
  currentGenerationPath,
  DEFAULT_MAX_FRAME_BYTES,
  encodeFrame,
  encodeOutputFrame,
  FINAL_SCREEN_MAX_BYTES,
  FrameError,
  FrameReader,
  generationOf,
  generationSocketPath,
  generationSocketPaths,
  HOST_PROTOCOL_VERSION,
  HostConnection,
  type HostMessage,
  type HostStats,
  type PeerLink,
  type PeerTicket,
  PeerTicketError,
  type TerminalInfo,
} from '@tether/host-protocol';
import { ErrorCode, type ServerMessage } from '@tether/protocol';
import {
  isTerminalError,
  type TargetPolicy,
  type Terminal,
  type TerminalLogger,
  TerminalManager,
  type TerminalManagerConfig,
  type TerminalViewer,
} from '@tether/terminal-engine';

export interface TerminalHostOptions {
  /**
   * The node's socket path. The host listens on its generation's own socket next to it (mode
   * 0600) and points this path at it (a symlink); a host already there is told to drain first.
   */
  socketPath: string;
  /** How long, once a newer generation took over, this host keeps its terminals (default 24 h). */
  drainLimitMs?: number;
  /** Called when, draining, the host has no running terminal left (or the limit passed). */
  onDrained?: () => void;
  /** Shared with the API through a file in DATA_DIR; the first frame of a connection must carry it. */
  secret: string;
  engine: TerminalManagerConfig;
  policy: TargetPolicy;
  log?: TerminalLogger;
  version?: string;
  /**
   * The peer port (issue #16): other nodes' APIs reach this node's terminals here, over TLS-PSK,
   * each connection for the one terminal its ticket names. Only the newest generation listens;
   * it relays a ticket for a terminal an older, draining generation holds to that one.
   */
  peer?: { host: string; port: number; link: PeerLink };
  /** For fault-injection tests only. */
  connect?: ConstructorParameters<typeof TerminalManager>[1]['connect'];
}

/** Before `hello`, a peer may send only a small frame; afterwards the protocol's limit applies. */
const HELLO_MAX_FRAME_BYTES = 4096;
const HELLO_TIMEOUT_MS = 5_000;
/** An API that stops reading has this much queued for it before its connection is dropped. */
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;
/** Input streams remembered per terminal (one per browser tab that typed into it). */
const MAX_INPUT_STREAMS = 64;
/** Longest a Node timer may wait; longer drain limits are waited for in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;
export const DRAIN_ENDED_REASON =
  'The terminal host was upgraded and this session outlived its drain limit; it was ended.';

/**
 * The terminal host: holds a node's SSH terminals (the engine's TerminalManager) and serves them
 * to the node's API over a Unix socket (DESIGN §11). It keeps no database connection and has no
 * web-facing port; the API can restart at any time and reconnect, and the terminals carry on.
 *
 * Each connection authenticates with the shared secret in its first frame. Viewers (browser
 * sockets of the API) are per connection: when the API goes away its viewers are detached and
 * the terminals keep running, exactly as when a browser goes away.
 */
export function createTerminalHost(options: TerminalHostOptions) {
  const hostId = randomUUID();
  const generation = generationOf(hostId);
  const ownSocket = generationSocketPath(options.socketPath, generation);
  const startedAt = Date.now();
  const drainLimitMs = options.drainLimitMs ?? 24 * 3_600_000;
  /** Set once a newer generation took over: the drain deadline (epoch ms). */
  let drainingUntil: number | null = null;
  let drainTimer: NodeJS.Timeout | null = null;
  let drained = false;
  const log = options.log;
  const secretDigest = createHash('sha256').update(options.secret).digest();
  const connections = new Set<Connection>();
  /** Per terminal: input stream id → bytes of that stream accepted so far (order of last use). */
  const inputStreams = new WeakMap<Terminal, Map<string, number>>();

  const broadcast = (message: HostMessage) => {
    const about = 'id' in message ? message.id : null;
    for (const c of connections) {
      if (!c.authenticated) continue;
      // A peer connection hears about its own terminal only.
      if (c.grant && about !== null && about !== c.grant.tid) continue;
      c.send(message);
    }
  };

  const manager = new TerminalManager(options.engine, {
    policy: options.policy,
    ...(log ? { log } : {}),
    ...(options.connect ? { connect: options.connect } : {}),
    events: {
      onStatus(terminal, status, details) {
        broadcast({ t: 'status', id: terminal.id, status, ended: details });
        if (status !== 'running') {
          queueMicrotask(checkDrained);
          sendLastScreen(terminal);
        }
      },
      onOutput(terminal, at) {
        broadcast({ t: 'activity', id: terminal.id, at: at.getTime() });
      },
      onAttachChange(terminal, viewers) {
        broadcast({ t: 'viewers', id: terminal.id, count: viewers });
      },
      onRemoved(terminal) {
        broadcast({ t: 'removed', id: terminal.id });
      },
    },
  });

  /** An ended terminal's last screen, for the API to keep once the terminal is freed here. */
  function sendLastScreen(terminal: Terminal): void {
    terminal
      .screen({ scrollback: 0, maxBytes: FINAL_SCREEN_MAX_BYTES })
      .then((snap) => {
        if (Buffer.byteLength(JSON.stringify(snap.data)) > FINAL_SCREEN_MAX_BYTES) return;
        broadcast({
          t: 'screen',
          id: terminal.id,
          data: snap.data,
          cols: snap.cols,
          rows: snap.rows,
          offset: snap.offset,
        });
      })
      .catch((err: unknown) =>
        log?.warn({ terminalId: terminal.id, err: (err as Error).message }, 'last screen not captured'),
      );
  }

  function info(terminal: Terminal): TerminalInfo {
    return {
      id: terminal.id,
      userId: terminal.userId,
      status: terminal.status,
      target: terminal.target,
      address: terminal.address,
      title: terminal.title ?? null,
      cols: terminal.cols,
      rows: terminal.rows,
      viewers: terminal.viewerCount,
      outputOffset: terminal.offset,
      createdAt: terminal.createdAt.getTime(),
      lastOutputAt: terminal.lastOutputAt?.getTime() ?? null,
      ended: terminal.end,
      memory: terminal.memoryUsage() as TerminalInfo['memory'],
    };
  }

  function errorOf(err: unknown) {
    if (isTerminalError(err)) {
      return { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) };
    }
    return { code: ErrorCode.INTERNAL, message: 'The terminal host failed to do that.' };
  }

  class Connection {
    authenticated = false;
    /** On the peer port: what the ticket allows (set by `hello`). */
    grant: PeerTicket | null = null;
    /** On the peer port, for a terminal of an older generation: the relay to it. */
    private relay: Socket | null = null;
    private readonly reader = new FrameReader(HELLO_MAX_FRAME_BYTES);
    private readonly viewers = new Map<number, { terminal: Terminal; viewer: RemoteViewer }>();
    private readonly opens = new Map<
      number,
      { abort: AbortController; asks: Map<number, (a: Answer) => void> }
    >();
    private nextQid = 1;
    private readonly helloTimer: NodeJS.Timeout;
    private closed = false;

    constructor(
      readonly socket: Socket,
      /** Accepted on the peer port (a ticket, not the secret, authenticates it). */
      readonly viaPeer = false,
    ) {
      this.helloTimer = setTimeout(() => this.drop('no hello in time'), HELLO_TIMEOUT_MS);
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      socket.on('error', () => {});
      socket.on('close', () => this.onClose());
    }

    send(message: HostMessage): void {
      // A relayed connection carries the older generation's frames only.
      if (this.closed || this.relay) return;
      if (this.socket.writableLength > MAX_QUEUED_BYTES) {
        this.drop('the API stopped reading');
        return;
      }
      this.socket.write(encodeFrame(message));
    }

    /** Terminal output: a 9-byte header in front of the terminal's own buffers, one writev. */
    sendOutput(vid: number, data: Uint8Array | readonly Uint8Array[]): void {
      if (this.closed) return;
      if (this.socket.writableLength > MAX_QUEUED_BYTES) {
        this.drop('the API stopped reading');
        return;
      }
      const parts = encodeOutputFrame(vid, data);
      this.socket.cork();
      for (const part of parts) this.socket.write(part);
      this.socket.uncork();
    }

    /** What the API has not written to its browser sockets yet, plus what waits here for the API. */
    queuedBytes(): number {
      return this.socket.writableLength;
    }

    drop(reason: string): void {
      if (this.closed) return;
      log?.warn({ reason }, 'API connection dropped');
      this.socket.destroy();
    }

    private onData(chunk: Buffer): void {
      let messages: unknown[];
      try {
        messages = this.reader.push(chunk);
      } catch (err) {
        this.drop(err instanceof FrameError ? err.message : 'unreadable frame');
        return;
      }
      for (const raw of messages) {
        if (this.closed) return;
        const parsed = ApiMessageSchema.safeParse(raw);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          this.drop(`invalid message: ${issue?.path.join('.') || 't'} ${issue?.message ?? ''}`.trim());
          return;
        }
        try {
          this.handle(parsed.data);
        } catch (err) {
          log?.warn({ err: (err as Error).message, t: parsed.data.t }, 'API message failed');
        }
      }
    }

    private handle(msg: ApiMessage): void {
      if (!this.authenticated) {
        if (this.grant) this.drop('a message before the relay was ready');
        else this.hello(msg);
        return;
      }
      if (this.grant && !this.permits(msg)) {
        this.drop(`${msg.t} is not allowed on the peer port`);
        return;
      }
      if (this.relay) {
        this.relay.write(encodeFrame(msg));
        return;
      }
      switch (msg.t) {
        case 'hello':
          this.drop('hello twice');
          break;
        case 'ping':
          this.send({ t: 'result', rid: msg.rid, value: null });
          break;
        case 'stats':
          this.send({ t: 'result', rid: msg.rid, value: stats() });
          break;
        case 'drain':
          startDrain();
          this.send({ t: 'result', rid: msg.rid, value: null });
          break;
        case 'list':
          this.send({ t: 'result', rid: msg.rid, value: manager.list().map(info) });
          break;
        case 'open':
          void this.open(msg);
          break;
        case 'answer':
          this.opens.get(msg.rid)?.asks.get(msg.qid)?.(msg);
          break;
        case 'cancel':
          this.opens.get(msg.rid)?.abort.abort();
          break;
        case 'attach':
          void this.attach(msg);
          break;
        case 'detach': {
          const v = this.viewers.get(msg.vid);
          if (!v) break;
          this.viewers.delete(msg.vid);
          v.terminal.detach(v.viewer);
          break;
        }
        case 'ack': {
          const v = this.viewers.get(msg.vid);
          if (!v) break;
          v.viewer.reportedBuffered = msg.buffered;
          v.terminal.ack(v.viewer, msg.offset);
          break;
        }
        case 'input':
          this.input(msg);
          break;
        case 'resize':
          manager.find(msg.id)?.resize(msg.cols, msg.rows);
          break;
        case 'terminate':
          manager.find(msg.id)?.terminate(msg.reason);
          break;
      }
    }

    /** What a peer connection's ticket allows: its one terminal, for its one user. */
    private permits(msg: ApiMessage): boolean {
      const grant = this.grant!;
      switch (msg.t) {
        case 'ping':
          return true;
        case 'detach':
        case 'ack':
          // Viewer ids are this connection's own.
          return grant.act === 'attach';
        case 'attach':
          return grant.act === 'attach' && msg.id === grant.tid && msg.userId === grant.uid;
        case 'input':
        case 'resize':
          return grant.act === 'attach' && msg.id === grant.tid;
        case 'terminate':
          return msg.id === grant.tid;
        default:
          return false;
      }
    }

    private hello(msg: ApiMessage): void {
      if (msg.t !== 'hello') {
        this.drop('the first message must be hello');
        return;
      }
      if (this.viaPeer) {
        this.peerHello(msg);
        return;
      }
      if (msg.secret === undefined) {
        this.drop('no secret');
        return;
      }
      const digest = createHash('sha256').update(msg.secret).digest();
      if (!timingSafeEqual(digest, secretDigest)) {
        this.drop('wrong secret');
        return;
      }
      if (msg.protocol !== HOST_PROTOCOL_VERSION) {
        this.drop(`unsupported protocol ${msg.protocol}`);
        return;
      }
      this.welcome();
    }

    private welcome(): void {
      clearTimeout(this.helloTimer);
      this.authenticated = true;
      this.reader.maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;
      this.send({
        t: 'welcome',
        protocol: HOST_PROTOCOL_VERSION,
        hostId,
        pid: process.pid,
        startedAt,
        version: options.version ?? '0',
        drainingUntil,
        peerPort: options.peer?.port ?? null,
      });
    }

    /**
     * A connection on the peer port: the ticket (signed by a node with PEER_SECRET, for this
     * node, fresh and unused) is the only credential. Its terminal is here, or on an older
     * generation still draining (relayed to it), or nowhere (refused).
     */
    private peerHello(msg: ApiMessageOf<'hello'>): void {
      let grant: PeerTicket;
      try {
        grant = options.peer!.link.verify(msg.ticket ?? '');
      } catch (err) {
        this.drop(err instanceof PeerTicketError ? `peer refused: ${err.message}` : 'peer refused');
        return;
      }
      if (msg.protocol !== HOST_PROTOCOL_VERSION) {
        this.drop(`unsupported protocol ${msg.protocol}`);
        return;
      }
      this.grant = grant;
      const terminal = manager.find(grant.tid);
      if (terminal) {
        if (grant.act === 'attach' && terminal.userId !== grant.uid) {
          this.drop('peer refused: not their terminal');
          return;
        }
        log?.info({ terminalId: grant.tid, from: grant.from, act: grant.act }, 'peer connected');
        this.welcome();
        return;
      }
      void this.relayToOlder(grant);
    }

    /** The ticket's terminal is held by an older generation: pass this connection on to it. */
    private async relayToOlder(grant: PeerTicket): Promise<void> {
      for (const other of generationSocketPaths(options.socketPath)) {
        if (other === ownSocket || this.closed) continue;
        let holds = false;
        try {
          const probe = await HostConnection.connect(other, options.secret, 2_000);
          try {
            const list = await probe.request<TerminalInfo[]>({ t: 'list' });
            holds = list.some(
              (t) => t.id === grant.tid && (grant.act !== 'attach' || t.userId === grant.uid),
            );
          } finally {
            probe.close();
          }
        } catch {
          continue; // gone, or not a host
        }
        if (!holds || this.closed) continue;
        const relay = netConnect({ path: other });
        relay.on('error', () => this.socket.destroy());
        relay.on('close', () => this.socket.destroy());
        relay.once('connect', () => {
          relay.write(encodeFrame({ t: 'hello', protocol: HOST_PROTOCOL_VERSION, secret: options.secret }));
          // Its `welcome` and everything after go to the peer as they are.
          relay.pipe(this.socket);
        });
        this.relay = relay;
        clearTimeout(this.helloTimer);
        this.authenticated = true;
        this.reader.maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;
        log?.info(
          { terminalId: grant.tid, from: grant.from, generation: other },
          'peer relayed to an older generation',
        );
        return;
      }
      if (grant.act === 'terminate' && !this.closed) {
        // Ended and gone meanwhile: ending it again is nothing (and says so to no one).
        this.welcome();
        return;
      }
      this.drop('peer refused: no such terminal');
    }

    private async open(msg: ApiMessageOf<'open'>): Promise<void> {
      if (this.opens.has(msg.rid)) return this.drop('request id reused');
      if (drainingUntil !== null) {
        // The API opens it on the newer generation instead.
        this.send({
          t: 'result',
          rid: msg.rid,
          error: {
            code: ErrorCode.SERVICE_UNAVAILABLE,
            message: 'This terminal host is draining; a newer one takes new terminals.',
            details: { draining: 'true' },
          },
        });
        return;
      }
      const abort = new AbortController();
      const asks = new Map<number, (a: Answer) => void>();
      this.opens.set(msg.rid, { abort, asks });
      const ask = (question: Pick<HostMessage & { t: 'ask' }, 'hostKey' | 'prompt'>, signal: AbortSignal) =>
        new Promise<Answer>((resolve, reject) => {
          const qid = this.nextQid++;
          const onAbort = () => {
            asks.delete(qid);
            reject(signal.reason ?? new Error('cancelled'));
          };
          signal.addEventListener('abort', onAbort, { once: true });
          asks.set(qid, (answer) => {
            asks.delete(qid);
            signal.removeEventListener('abort', onAbort);
            resolve(answer);
          });
          this.send({ t: 'ask', rid: msg.rid, qid, ...question });
        });
      try {
        const terminal = await manager.create({
          id: msg.id,
          userId: msg.userId,
          target: msg.target,
          auth: msg.auth,
          cols: msg.cols,
          rows: msg.rows,
          ...(msg.title ? { title: msg.title } : {}),
          ...(msg.scrollback !== undefined ? { scrollback: msg.scrollback } : {}),
          signal: abort.signal,
          knownHosts: {
            lookup: () => msg.knownHost,
            remember: (host, port, key) =>
              this.send({
                t: 'remember',
                rid: msg.rid,
                host,
                port,
                keyType: key.keyType,
                fingerprint: key.fingerprint,
              }),
          },
          interaction: {
            confirmHostKey: async (hostKey, signal) => (await ask({ hostKey }, signal)).accept === true,
            prompt: async (name, instructions, prompts, signal) =>
              (await ask({ prompt: { name, instructions, prompts } }, signal)).responses ?? [],
          },
        });
        this.send({ t: 'result', rid: msg.rid, value: info(terminal) });
      } catch (err) {
        this.send({ t: 'result', rid: msg.rid, error: errorOf(err) });
      } finally {
        this.opens.delete(msg.rid);
      }
    }

    private async attach(msg: ApiMessageOf<'attach'>): Promise<void> {
      if (this.viewers.has(msg.vid)) return this.drop('viewer id reused');
      const terminal = manager.get(msg.id, msg.userId);
      if (!terminal) {
        this.send({
          t: 'result',
          rid: msg.rid,
          error: { code: ErrorCode.NOT_FOUND, message: 'No such terminal.' },
        });
        return;
      }
      const viewer = new RemoteViewer(this, msg.vid, terminal, msg.inputStream);
      this.viewers.set(msg.vid, { terminal, viewer });
      try {
        await terminal.attach(viewer, {
          ...(msg.resumeFrom !== undefined ? { resumeFrom: msg.resumeFrom } : {}),
          ...(msg.cols !== undefined ? { cols: msg.cols } : {}),
          ...(msg.rows !== undefined ? { rows: msg.rows } : {}),
          ...(msg.scrollback !== undefined ? { scrollback: msg.scrollback } : {}),
        });
        this.send({ t: 'result', rid: msg.rid, value: info(terminal) });
        if (drainingUntil !== null && !terminal.ended) viewer.sendJson(drainNotice(terminal.id));
      } catch (err) {
        this.viewers.delete(msg.vid);
        this.send({ t: 'result', rid: msg.rid, error: errorOf(err) });
      }
    }

    private input(msg: ApiMessageOf<'input'>): void {
      const terminal = manager.find(msg.id);
      let data = msg.data;
      let end: number | undefined;
      if (terminal && msg.stream !== undefined && msg.at !== undefined) {
        // Resent input (after the API or the browser reconnected) is skipped up to what this
        // stream already had accepted: typed once, never twice.
        let streams = inputStreams.get(terminal);
        if (!streams) {
          streams = new Map();
          inputStreams.set(terminal, streams);
        }
        const accepted = streams.get(msg.stream) ?? msg.at;
        const skip = Math.min(data.length, Math.max(0, accepted - msg.at));
        data = data.subarray(skip);
        end = Math.max(accepted, msg.at + msg.data.length);
        streams.delete(msg.stream);
        streams.set(msg.stream, end);
        if (streams.size > MAX_INPUT_STREAMS) streams.delete(streams.keys().next().value as string);
      }
      const done = () => {
        if (msg.stream !== undefined && end !== undefined)
          this.send({ t: 'applied', id: msg.id, stream: msg.stream, offset: end });
      };
      if (!terminal || data.length === 0 || !terminal.input(data, done)) done();
    }

    /** Every live viewer of this connection (for announcements). */
    liveViewers(): Array<{ terminal: Terminal; viewer: RemoteViewer }> {
      return [...this.viewers.values()];
    }

    private onClose(): void {
      this.closed = true;
      clearTimeout(this.helloTimer);
      this.relay?.destroy();
      connections.delete(this);
      if (this.authenticated) log?.info({ viewers: this.viewers.size }, 'API disconnected');
      for (const { terminal, viewer } of this.viewers.values()) terminal.detach(viewer);
      this.viewers.clear();
      for (const { abort } of this.opens.values()) abort.abort();
      this.opens.clear();
    }
  }

  type Answer = ApiMessageOf<'answer'>;

  /** The engine's viewer for one browser socket of the API: everything it is given goes there. */
  class RemoteViewer implements TerminalViewer {
    reportedBuffered = 0;
    constructor(
      private readonly connection: Connection,
      private readonly vid: number,
      private readonly terminal: Terminal,
      private readonly inputStream: string | undefined,
    ) {}
    sendBinary(data: Uint8Array): void {
      this.connection.sendOutput(this.vid, data);
    }
    sendBinaryParts(parts: readonly Uint8Array[]): void {
      this.connection.sendOutput(this.vid, parts);
    }
    sendJson(message: ServerMessage): void {
      // The browser resends its input from what this terminal took of its stream.
      const m =
        message.type === 'ready' && this.inputStream !== undefined
          ? {
              ...message,
              input: {
                stream: this.inputStream,
                applied: inputStreams.get(this.terminal)?.get(this.inputStream) ?? 0,
              },
            }
          : message;
      this.connection.send({ t: 'msg', vid: this.vid, m });
    }
    bufferedAmount(): number {
      return this.reportedBuffered + this.connection.queuedBytes();
    }
    close(code: number, reason: string): void {
      this.connection.send({ t: 'close', vid: this.vid, code, reason });
    }
  }

  // Event-loop delay, reset at each `stats` (one scrape interval's worth).
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  function stats(): HostStats {
    const memory = process.memoryUsage();
    const p99 = loopDelay.percentile(99) / 1e6;
    const max = loopDelay.max / 1e6;
    loopDelay.reset();
    return {
      pid: process.pid,
      startedAt,
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      eventLoopDelayP99Ms: Number.isFinite(p99) ? p99 : 0,
      eventLoopDelayMaxMs: Number.isFinite(max) ? max : 0,
      connections: connections.size,
      drainingUntil,
    };
  }

  function drainNotice(terminalId: string): ServerMessage {
    const until = new Date(drainingUntil ?? Date.now());
    return {
      type: 'notice',
      terminalId,
      code: 'HOST_DRAINING',
      message: `The terminal host was upgraded. This session keeps running on the previous version until it ends, at the latest ${until.toISOString()}; new terminals use the new version.`,
      endsAt: until.getTime(),
    };
  }

  /** A newer generation took over: serve what is held, take nothing new, end at the limit. */
  function startDrain(): void {
    if (drainingUntil !== null || drained) return;
    drainingUntil = Date.now() + drainLimitMs;
    // The newer generation takes the peer port (and relays to this one what it holds); the
    // connections already here carry on.
    closePeerServer();
    log?.info({ hostId, until: new Date(drainingUntil).toISOString() }, 'terminal host draining');
    broadcast({ t: 'draining', hostId, until: drainingUntil });
    for (const c of connections)
      for (const { terminal, viewer } of c.liveViewers())
        if (!terminal.ended) viewer.sendJson(drainNotice(terminal.id));
    const armTimer = () => {
      const left = (drainingUntil ?? 0) - Date.now();
      if (left > 0) {
        drainTimer = setTimeout(armTimer, Math.min(left, MAX_TIMER_MS));
        return;
      }
      drainTimer = null;
      for (const t of manager.list()) if (!t.ended) t.terminate(DRAIN_ENDED_REASON);
      queueMicrotask(checkDrained);
    };
    armTimer();
    queueMicrotask(checkDrained);
  }

  /** Draining and nothing left running: stop listening and let the process go. */
  function checkDrained(): void {
    if (drainingUntil === null || drained) return;
    if (manager.list().some((t) => !t.ended)) return;
    drained = true;
    if (drainTimer) clearTimeout(drainTimer);
    log?.info({ hostId }, 'terminal host drained');
    options.onDrained?.();
  }

  let server: Server | undefined;
  let peerServer: TlsServer | null = null;

  /** Stops accepting on the peer port at once (its connections carry on until they end). */
  function closePeerServer(): void {
    peerServer?.close();
    peerServer = null;
  }

  /**
   * Listens on the peer port. The previous generation gives it up when told to drain; if it
   * has not yet (or something else holds the port), this retries every second, saying so.
   */
  async function listenPeer(): Promise<void> {
    const peer = options.peer;
    if (!peer || drainingUntil !== null) return;
    const tlsServer = createTlsServer(peer.link.serverTls(), (socket) => {
      socket.setNoDelay(true);
      // Another machine: a peer gone without a FIN is noticed by TCP keepalive.
      socket.setKeepAlive(true, 15_000);
      connections.add(new Connection(socket, true));
    });
    // A node with another PEER_SECRET (or anything else knocking) fails the handshake: said at
    // most once a minute, since nothing else would show why its attaches fail.
    let warnedAt = Number.NEGATIVE_INFINITY;
    let failures = 0;
    tlsServer.on('tlsClientError', (err: Error, socket: { remoteAddress?: string }) => {
      failures++;
      if (Date.now() - warnedAt < 60_000) return;
      warnedAt = Date.now();
      log?.warn(
        { err: err.message, from: socket.remoteAddress, failures },
        'a peer failed the TLS handshake on the peer port (a node with another PEER_SECRET?)',
      );
      failures = 0;
    });
    for (let attempt = 0; ; attempt++) {
      try {
        await new Promise<void>((resolve, reject) => {
          tlsServer.once('error', reject);
          tlsServer.listen(peer.port, peer.host, () => {
            tlsServer.off('error', reject);
            resolve();
          });
        });
        break;
      } catch (err) {
        if (closing || drainingUntil !== null) return;
        if (attempt % 10 === 0)
          log?.warn({ err: (err as Error).message, port: peer.port }, 'peer port busy; retrying');
        await new Promise((r) => setTimeout(r, attempt < 10 ? 100 : 1_000));
      }
    }
    if (closing || drainingUntil !== null) {
      tlsServer.close();
      return;
    }
    peerServer = tlsServer;
    log?.info({ host: peer.host, port: peer.port }, 'peer port listening');
  }
  let closing = false;

  /** Asks the host at the node's socket path, if one answers, to drain. Returns its id. */
  async function drainPrevious(): Promise<string | null> {
    let conn: HostConnection;
    try {
      conn = await HostConnection.connect(options.socketPath, options.secret, 2_000);
    } catch {
      return null; // nothing there, or a stale file
    }
    try {
      if (conn.welcome.hostId === hostId) return null;
      await conn.request({ t: 'drain' });
      return conn.welcome.hostId;
    } catch (err) {
      log?.warn({ err: (err as Error).message }, 'the previous terminal host did not take the drain');
      return null;
    } finally {
      conn.close();
    }
  }

  return {
    hostId,
    manager,
    generation,
    /** This generation's own socket (the node's socket path points here while it is the newest). */
    ownSocket,
    get drainingUntil() {
      return drainingUntil;
    },
    /**
     * Starts serving on this generation's socket, tells a host already at the node's socket path
     * to drain, then points that path here (an atomic rename of a symlink).
     */
    async listen(): Promise<void> {
      rmSync(ownSocket, { force: true });
      server = createServer((socket) => {
        connections.add(new Connection(socket));
      });
      // Created 0600 from the start (umask), so no other user can connect even for a moment.
      const umask = process.umask(0o177);
      try {
        await new Promise<void>((resolve, reject) => {
          server!.once('error', reject);
          server!.listen(ownSocket, () => {
            server!.off('error', reject);
            resolve();
          });
        });
      } finally {
        process.umask(umask);
      }
      chmodSync(ownSocket, 0o600);
      const previous = await drainPrevious();
      const link = `${ownSocket}.link`;
      rmSync(link, { force: true });
      symlinkSync(path.basename(ownSocket), link);
      renameSync(link, options.socketPath);
      // The previous generation left the peer port when it took the drain. Waited for a while
      // (a busy port is retried in the background, and said).
      await Promise.race([listenPeer(), new Promise((r) => setTimeout(r, 5_000).unref())]);
      log?.info(
        { socket: options.socketPath, hostId, generation, ...(previous ? { replaced: previous } : {}) },
        'terminal host listening',
      );
    },
    /** The peer port's address once it listens (null: off, not yet, or draining). */
    peerAddress: () => {
      const a = peerServer?.address();
      return a && typeof a === 'object' ? { host: a.address, port: a.port } : null;
    },
    /** For tests: behave as if a newer generation had taken over. */
    drain: () => startDrain(),
    connectionCount: () => connections.size,
    /** Stops serving and ends every terminal (the host itself is going away). */
    async close(reason = 'The terminal host stopped.'): Promise<void> {
      closing = true;
      closePeerServer();
      for (const c of connections) {
        c.socket.end();
      }
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      loopDelay.disable();
      if (drainTimer) clearTimeout(drainTimer);
      await manager.shutdown(reason);
      for (const c of connections) c.socket.destroy();
      rmSync(ownSocket, { force: true });
      // The node's path is this host's only while it points here (a newer one may own it now).
      if (currentGenerationPath(options.socketPath) === path.resolve(ownSocket))
        rmSync(options.socketPath, { force: true });
    },
  };
}

export type TerminalHost = ReturnType<typeof createTerminalHost>;
