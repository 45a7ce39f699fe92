import { randomUUID } from 'node:crypto';
import {
  HostConnection,
  type HostMessage,
  HostRequestError,
  type HostStats,
  HostUnavailableError,
  type TerminalInfo,
} from '@tether/host-protocol';
import { CloseCode, ErrorCode, type SshAuth } from '@tether/protocol';
import {
  type AttachOptions,
  type ConnectInteraction,
  type KnownHostsStore,
  type TerminalEndDetails,
  TerminalError,
  type TerminalLogger,
  type TerminalStatus,
  type TerminalViewer,
  validateSize,
} from '@tether/terminal-engine';

export const HOST_STOPPED = 'The terminal host stopped; this SSH session ended with it.';

export interface RemoteTerminalEvents {
  onStatus?(terminal: RemoteTerminal, status: TerminalStatus, details: TerminalEndDetails | null): void;
  onOutput?(terminal: RemoteTerminal, at: Date): void;
}

export interface CreateRemoteTerminal {
  id: string;
  userId: string;
  target: { host: string; port: number; username: string };
  auth: SshAuth;
  cols: number;
  rows: number;
  title?: string;
  knownHosts: KnownHostsStore;
  interaction: ConnectInteraction;
  signal?: AbortSignal;
}

export type RemoteAttachOptions = AttachOptions & {
  /** The browser's input stream: its `ready` then carries how much of it the terminal took. */
  inputStream?: string;
};

interface ViewerState {
  viewer: TerminalViewer;
  terminal: RemoteTerminal;
  /** Offset of the next output byte (after `ready`), and the last one the browser acknowledged. */
  offset: number | null;
  acked: number;
}

/**
 * A terminal held by the node's terminal host, as the API sees it: the same surface the socket
 * and routes used on the in-process engine (attach, input, ack, resize, terminate), carried over
 * the local channel. State (status, size, viewers) follows the host's events.
 */
export class RemoteTerminal {
  readonly id: string;
  readonly userId: string;
  readonly target: { host: string; port: number; username: string };
  readonly address: string;
  readonly title: string | undefined;
  readonly createdAt: Date;
  status!: TerminalStatus;
  end!: TerminalEndDetails | null;
  cols!: number;
  rows!: number;
  viewerCount!: number;
  offset!: number;
  lastOutputAt!: Date | null;
  memory!: TerminalInfo['memory'];
  /** This API process's input stream into the terminal: bytes sent, and callbacks by end offset. */
  private readonly stream: string = randomUUID();
  private inputSent = 0;
  private readonly written: Array<{ stream: string; end: number; done: () => void }> = [];

  constructor(
    private readonly manager: RemoteTerminalManager,
    info: TerminalInfo,
  ) {
    this.id = info.id;
    this.userId = info.userId;
    this.target = info.target;
    this.address = info.address;
    this.title = info.title ?? undefined;
    this.createdAt = new Date(info.createdAt);
    this.update(info);
  }

  get ended(): boolean {
    return this.status !== 'running';
  }

  update(info: TerminalInfo): void {
    this.status = info.status;
    this.end = info.ended;
    this.cols = info.cols;
    this.rows = info.rows;
    this.viewerCount = info.viewers;
    this.offset = info.outputOffset;
    this.lastOutputAt = info.lastOutputAt === null ? null : new Date(info.lastOutputAt);
    this.memory = info.memory;
  }

  memoryUsage(): TerminalInfo['memory'] {
    return this.memory;
  }

  attach(viewer: TerminalViewer, options: RemoteAttachOptions = {}): Promise<void> {
    return this.manager.attach(this, viewer, options);
  }

  detach(viewer: TerminalViewer): void {
    this.manager.detach(viewer);
  }

  ack(viewer: TerminalViewer, offset: number): void {
    this.manager.ack(viewer, offset);
  }

  viewerBacklog(viewer: TerminalViewer): number {
    return this.manager.backlog(viewer);
  }

  /**
   * Queues keystrokes; `written` runs once the host has handed them to the SSH channel. With
   * `stream`, the bytes are at `at` in a browser's own input stream (the host skips what it
   * already took of it); without, in this API process's stream into the terminal.
   */
  input(data: Uint8Array, written?: () => void, stream?: { id: string; at: number }): boolean {
    if (this.ended || !this.manager.connected) return false;
    if (data.length === 0) {
      written?.();
      return true;
    }
    let id = this.stream;
    let at = this.inputSent;
    if (stream) {
      id = stream.id;
      at = stream.at;
    } else this.inputSent += data.length;
    const end = at + data.length;
    if (written) this.written.push({ stream: id, end, done: written });
    this.manager.send({ t: 'input', id: this.id, data, stream: id, at });
    return true;
  }

  /** The host applied `stream` up to `offset`. */
  applied(stream: string | undefined, offset: number): void {
    // Callbacks run in the order the input was sent (the host applies it in that order).
    while (this.written.length > 0) {
      const next = this.written[0]!;
      if (next.stream !== stream || next.end > offset) break;
      this.written.shift();
      next.done();
    }
  }

  /** Input that will never be applied (the host went away): released so no client waits on it. */
  releaseInput(): void {
    for (const w of this.written.splice(0)) w.done();
  }

  resize(cols: number, rows: number): void {
    validateSize(cols, rows);
    if (this.ended || (cols === this.cols && rows === this.rows)) return;
    this.cols = cols;
    this.rows = rows;
    this.manager.send({ t: 'resize', id: this.id, cols, rows });
  }

  terminate(reason: string): void {
    if (this.ended) return;
    this.manager.send({ t: 'terminate', id: this.id, reason });
  }
}

export interface RemoteTerminalManagerOptions {
  socketPath: string;
  secret: string;
  /** Starts a host when none answers (spawn mode); absent: only connect, retrying. */
  startHost?: () => Promise<void> | void;
  events?: RemoteTerminalEvents;
  log?: TerminalLogger;
}

/**
 * The API's view of its node's terminal host: one connection (re-established when it drops),
 * a cache of the host's terminals kept current by its events, and the viewers (browser sockets)
 * this process attached. The API holds no terminal state of its own: after a restart it lists the
 * host's terminals and carries on.
 */
export class RemoteTerminalManager {
  private conn: HostConnection | null = null;
  private hostId: string | null = null;
  private readonly terminals = new Map<string, RemoteTerminal>();
  private readonly viewers = new Map<number, ViewerState>();
  private readonly vidOf = new Map<TerminalViewer, number>();
  private readonly opens = new Map<number, CreateRemoteTerminal>();
  private nextVid = 1;
  private closed = false;
  private reconnecting: Promise<void> | null = null;

  constructor(private readonly options: RemoteTerminalManagerOptions) {}

  get connected(): boolean {
    return this.conn !== null && !this.conn.closed;
  }

  /** The host process this API talks to (null while disconnected). */
  get host(): { id: string; pid: number } | null {
    return this.conn && !this.conn.closed
      ? { id: this.conn.welcome.hostId, pid: this.conn.welcome.pid }
      : null;
  }

  /**
   * Connects (starting a host if allowed and needed) and lists what the host holds. Returns that
   * list, for the caller to reconcile its records with.
   */
  async start(timeoutMs = 15_000): Promise<TerminalInfo[]> {
    await this.connect(timeoutMs);
    return this.refresh();
  }

  /** Re-reads every terminal from the host (sizes, memory, status). */
  async refresh(): Promise<TerminalInfo[]> {
    const conn = this.requireConnection();
    const infos = await conn.request<TerminalInfo[]>({ t: 'list' });
    const seen = new Set<string>();
    for (const info of infos) {
      seen.add(info.id);
      const known = this.terminals.get(info.id);
      if (known) known.update(info);
      else this.terminals.set(info.id, new RemoteTerminal(this, info));
    }
    for (const id of this.terminals.keys()) if (!seen.has(id)) this.terminals.delete(id);
    return infos;
  }

  private lastRefresh: { at: number; done: Promise<void> } | null = null;

  /**
   * Refreshes from the host unless that happened less than `maxAgeMs` ago (one request serves a
   * whole metrics scrape); never rejects (a host that is away leaves the last figures).
   */
  fresh(maxAgeMs = 500): Promise<void> {
    if (this.lastRefresh && Date.now() - this.lastRefresh.at < maxAgeMs) return this.lastRefresh.done;
    const done = this.connected
      ? this.refresh().then(
          () => {},
          () => {},
        )
      : Promise.resolve();
    this.lastRefresh = { at: Date.now(), done };
    return done;
  }

  private lastStats: { at: number; value: Promise<HostStats | null> } | null = null;

  /** The host process's own figures (one request per `maxAgeMs`); null while it is away. */
  stats(maxAgeMs = 500): Promise<HostStats | null> {
    if (this.lastStats && Date.now() - this.lastStats.at < maxAgeMs) return this.lastStats.value;
    const value =
      this.conn && !this.conn.closed
        ? this.conn.request<HostStats>({ t: 'stats' }).catch(() => null)
        : Promise.resolve(null);
    this.lastStats = { at: Date.now(), value };
    return value;
  }

  async create(request: CreateRemoteTerminal): Promise<RemoteTerminal> {
    if (this.closed) throw new TerminalError(ErrorCode.SERVICE_UNAVAILABLE, 'The broker is shutting down.');
    validateSize(request.cols, request.rows);
    const conn = this.requireConnection();
    const known = await request.knownHosts.lookup(
      request.target.host.trim().toLowerCase(),
      request.target.port,
    );
    let rid = -1;
    const onAbort = () => {
      if (rid >= 0) conn.send({ t: 'cancel', rid });
    };
    request.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const info = await conn.request<TerminalInfo>(
        {
          t: 'open',
          id: request.id,
          userId: request.userId,
          target: request.target,
          auth: request.auth,
          cols: request.cols,
          rows: request.rows,
          title: request.title ?? null,
          knownHost: known ? { keyType: known.keyType, fingerprint: known.fingerprint } : null,
        },
        (r) => {
          rid = r;
          this.opens.set(r, request);
        },
      );
      const terminal = this.terminals.get(info.id) ?? new RemoteTerminal(this, info);
      terminal.update(info);
      this.terminals.set(info.id, terminal);
      return terminal;
    } catch (err) {
      throw asTerminalError(err);
    } finally {
      this.opens.delete(rid);
      request.signal?.removeEventListener('abort', onAbort);
    }
  }

  get(id: string, userId: string): RemoteTerminal | undefined {
    const t = this.terminals.get(id);
    return t && t.userId === userId ? t : undefined;
  }

  list(): RemoteTerminal[] {
    return [...this.terminals.values()];
  }

  runningCount(): number {
    let n = 0;
    for (const t of this.terminals.values()) if (!t.ended) n++;
    return n;
  }

  terminateAllForUser(userId: string, reason: string): number {
    let n = 0;
    for (const t of this.terminals.values()) {
      if (t.userId === userId && !t.ended) {
        t.terminate(reason);
        n++;
      }
    }
    return n;
  }

  /** This API is going away: its viewers are told to reconnect; the terminals stay with the host. */
  async shutdown(): Promise<void> {
    this.closed = true;
    for (const state of this.viewers.values())
      state.viewer.close(CloseCode.SERVER_RESTARTING, 'server restarting');
    this.viewers.clear();
    this.vidOf.clear();
    const conn = this.conn;
    this.conn = null;
    conn?.close();
  }

  // ── used by RemoteTerminal ────────────────────────────────────────────────

  send(message: Parameters<HostConnection['send']>[0]): void {
    this.conn?.send(message);
  }

  async attach(
    terminal: RemoteTerminal,
    viewer: TerminalViewer,
    options: RemoteAttachOptions,
  ): Promise<void> {
    if (this.vidOf.has(viewer)) throw new TerminalError(ErrorCode.PROTOCOL_ERROR, 'Already attached.');
    const conn = this.requireConnection();
    const vid = this.nextVid++;
    this.vidOf.set(viewer, vid);
    this.viewers.set(vid, { viewer, terminal, offset: null, acked: 0 });
    try {
      await conn.request({
        t: 'attach',
        vid,
        id: terminal.id,
        userId: terminal.userId,
        ...(options.resumeFrom !== undefined ? { resumeFrom: options.resumeFrom } : {}),
        ...(options.cols !== undefined ? { cols: options.cols } : {}),
        ...(options.rows !== undefined ? { rows: options.rows } : {}),
        ...(options.inputStream !== undefined ? { inputStream: options.inputStream } : {}),
      });
    } catch (err) {
      this.forget(viewer);
      throw asTerminalError(err);
    }
  }

  detach(viewer: TerminalViewer): void {
    const vid = this.forget(viewer);
    if (vid !== undefined) this.conn?.send({ t: 'detach', vid });
  }

  ack(viewer: TerminalViewer, offset: number): void {
    const vid = this.vidOf.get(viewer);
    if (vid === undefined) return;
    const state = this.viewers.get(vid)!;
    if (offset > state.acked) state.acked = offset;
    this.conn?.send({ t: 'ack', vid, offset, buffered: viewer.bufferedAmount() });
  }

  backlog(viewer: TerminalViewer): number {
    const vid = this.vidOf.get(viewer);
    const state = vid === undefined ? undefined : this.viewers.get(vid);
    return state?.offset == null ? 0 : Math.max(0, state.offset - state.acked);
  }

  // ── the connection ────────────────────────────────────────────────────────

  private requireConnection(): HostConnection {
    if (!this.conn || this.conn.closed)
      throw new TerminalError(
        ErrorCode.SERVICE_UNAVAILABLE,
        'The terminal host is not available; try again shortly.',
      );
    return this.conn;
  }

  private forget(viewer: TerminalViewer): number | undefined {
    const vid = this.vidOf.get(viewer);
    if (vid === undefined) return undefined;
    this.vidOf.delete(viewer);
    this.viewers.delete(vid);
    return vid;
  }

  private async connect(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let started = false;
    let lastError: unknown;
    while (Date.now() < deadline && !this.closed) {
      try {
        const conn = await HostConnection.connect(this.options.socketPath, this.options.secret);
        this.adopt(conn);
        return;
      } catch (err) {
        lastError = err;
        if (!started && this.options.startHost) {
          started = true;
          await this.options.startHost();
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new TerminalError(
      ErrorCode.SERVICE_UNAVAILABLE,
      `The terminal host at ${this.options.socketPath} did not answer: ${(lastError as Error | undefined)?.message ?? 'timed out'}`,
    );
  }

  private adopt(conn: HostConnection): void {
    const previousHost = this.hostId;
    this.conn = conn;
    this.hostId = conn.welcome.hostId;
    if (previousHost && previousHost !== this.hostId) this.hostReplaced();
    this.options.log?.info(
      { hostId: conn.welcome.hostId, pid: conn.welcome.pid, version: conn.welcome.version },
      'connected to the terminal host',
    );
    conn.on('message', (m) => this.onMessage(m));
    conn.on('close', () => this.onClose(conn));
  }

  private onMessage(m: HostMessage): void {
    switch (m.t) {
      case 'out': {
        const state = this.viewers.get(m.vid);
        if (!state) return;
        if (state.offset !== null) state.offset += m.data.length;
        state.viewer.sendBinary(m.data);
        return;
      }
      case 'msg': {
        const state = this.viewers.get(m.vid);
        if (!state) return;
        if (m.m.type === 'ready') {
          state.offset = m.m.offset;
          state.acked = m.m.offset;
        }
        state.viewer.sendJson(m.m);
        return;
      }
      case 'close': {
        const state = this.viewers.get(m.vid);
        if (!state) return;
        this.forget(state.viewer);
        state.viewer.close(m.code, m.reason);
        return;
      }
      case 'applied':
        this.terminals.get(m.id)?.applied(m.stream, m.offset);
        return;
      case 'status': {
        const t = this.terminals.get(m.id);
        if (!t) return;
        t.status = m.status;
        t.end = m.ended;
        if (m.status !== 'running') t.releaseInput();
        this.safe(() => this.options.events?.onStatus?.(t, m.status, m.ended));
        return;
      }
      case 'activity': {
        const t = this.terminals.get(m.id);
        if (!t) return;
        t.lastOutputAt = new Date(m.at);
        this.safe(() => this.options.events?.onOutput?.(t, t.lastOutputAt!));
        return;
      }
      case 'viewers': {
        const t = this.terminals.get(m.id);
        if (t) t.viewerCount = m.count;
        return;
      }
      case 'removed':
        this.terminals.delete(m.id);
        return;
      case 'ask': {
        const request = this.opens.get(m.rid);
        if (!request) return;
        const signal = request.signal ?? new AbortController().signal;
        const answer = (fields: { accept?: boolean; responses?: string[] }) =>
          this.conn?.send({ t: 'answer', rid: m.rid, qid: m.qid, ...fields });
        if (m.hostKey) {
          request.interaction.confirmHostKey(m.hostKey, signal).then(
            (accept) => answer({ accept }),
            () => answer({ accept: false }),
          );
        } else if (m.prompt) {
          request.interaction.prompt(m.prompt.name, m.prompt.instructions, m.prompt.prompts, signal).then(
            (responses) => answer({ responses }),
            () => answer({ responses: [] }),
          );
        }
        return;
      }
      case 'remember': {
        const request = this.opens.get(m.rid);
        if (!request) return;
        void Promise.resolve(
          request.knownHosts.remember(m.host, m.port, { keyType: m.keyType, fingerprint: m.fingerprint }),
        ).catch((err) => this.options.log?.warn({ err: (err as Error).message }, 'known host not stored'));
        return;
      }
      case 'welcome':
      case 'result':
        return;
    }
  }

  private onClose(conn: HostConnection): void {
    if (this.conn !== conn) return;
    this.conn = null;
    if (this.closed) return;
    this.options.log?.warn({ hostId: this.hostId }, 'terminal host connection lost');
    // Every viewer of this process was detached by the host (or the host is gone): their browsers
    // reconnect and attach again, to the same host or to find their terminal ended.
    for (const state of this.viewers.values())
      state.viewer.close(CloseCode.SERVER_RESTARTING, 'terminal host reconnecting');
    this.viewers.clear();
    this.vidOf.clear();
    this.reconnecting ??= this.reconnect().finally(() => {
      this.reconnecting = null;
    });
  }

  private async reconnect(): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        await this.connect(5_000);
        await this.refresh();
        return;
      } catch (err) {
        if (attempt === 0) this.hostGone();
        this.options.log?.warn({ err: (err as Error).message }, 'terminal host still unavailable');
        await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * 2 ** attempt)));
      }
    }
  }

  /** A different host answered: the old one's terminals are gone with it. */
  private hostReplaced(): void {
    this.hostGone();
  }

  /** Every terminal this API knew ended with the host that held it. */
  private hostGone(): void {
    for (const t of this.terminals.values()) {
      if (t.ended) continue;
      const details = { code: null, signal: null, reason: HOST_STOPPED };
      t.status = 'lost';
      t.end = details;
      t.releaseInput();
      this.safe(() => this.options.events?.onStatus?.(t, 'lost', details));
    }
    this.terminals.clear();
  }

  private safe(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.options.log?.warn({ err: (err as Error).message }, 'terminal event handler failed');
    }
  }
}

function asTerminalError(err: unknown): unknown {
  if (err instanceof HostRequestError)
    return new TerminalError(
      err.code as ErrorCode,
      err.message,
      err.details ? { details: err.details } : undefined,
    );
  if (err instanceof HostUnavailableError)
    return new TerminalError(
      ErrorCode.SERVICE_UNAVAILABLE,
      'The terminal host is not available; try again shortly.',
    );
  return err;
}
