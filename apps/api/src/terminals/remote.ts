import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import {
  generationOf,
  generationSocketPath,
  generationSocketPaths,
  HostConnection,
  type HostMessage,
  type HostMessageOf,
  HostRequestError,
  type HostStats,
  HostUnavailableError,
  outputSlabs,
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
  terminateUserTerminals,
  validateSize,
} from '@tether/terminal-engine';

export const HOST_STOPPED = 'The terminal host stopped; this SSH session ended with it.';

export interface RemoteTerminalEvents {
  onStatus?(terminal: RemoteTerminal, status: TerminalStatus, details: TerminalEndDetails | null): void;
  onOutput?(terminal: RemoteTerminal, at: Date): void;
  /** An ended terminal's last screen, from its host (this node's terminals only). */
  onScreen?(terminal: RemoteTerminal, screen: Omit<HostMessageOf<'screen'>, 't' | 'id'>): void;
}

export interface CreateRemoteTerminal {
  id: string;
  userId: string;
  target: { host: string; port: number; username: string };
  auth: SshAuth;
  cols: number;
  rows: number;
  title?: string;
  /** The browser's scrollback in lines (the host keeps up to its cap). */
  scrollback?: number;
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
  /** The connection to the host holding the terminal. */
  conn: HostConnection;
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
    /** The host (generation) holding it. */
    public hostId: string,
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
    if (this.ended || !this.manager.reaches(this)) return false;
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
    this.manager.sendFor(this, { t: 'input', id: this.id, data, stream: id, at });
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
    this.manager.sendFor(this, { t: 'resize', id: this.id, cols, rows });
  }

  terminate(reason: string): void {
    if (this.ended) return;
    this.manager.sendFor(this, { t: 'terminate', id: this.id, reason });
  }
}

export interface RemoteTerminalManagerOptions {
  socketPath: string;
  secret: string;
  /** Starts a host when none answers (spawn mode); absent: only connect, retrying. */
  startHost?: () => Promise<void> | void;
  /**
   * With `startHost`: the build of the host installed beside this API. A running host of another
   * build (this API was upgraded) is replaced by a new generation started at once; the old one
   * drains (keeps its terminals until they end or TERMINAL_HOST_DRAIN passes).
   */
  expectedBuild?: string;
  /**
   * With `startHost`: the peer port the host must serve (null: none). A running host started
   * with another (the peer link was turned on, off or moved) is replaced the same way.
   */
  expectedPeerPort?: number | null;
  events?: RemoteTerminalEvents;
  log?: TerminalLogger;
  /**
   * Connections to other nodes' hosts (peer links) are pinged this often and dropped when no
   * answer came for `timeoutMs`: a node cut off without a FIN is noticed in seconds.
   */
  peerHeartbeat?: { intervalMs: number; timeoutMs: number };
}

/** Where another node's terminal host takes attaches for one terminal (its peer port). */
export interface PeerTarget {
  host: string;
  port: number;
  tls: import('node:tls').ConnectionOptions;
  /** Signed by this node for that one (peer-link.ts). */
  ticket: string;
}

interface PeerLinkState {
  conn: HostConnection;
  terminal: RemoteTerminal;
  heartbeat: NodeJS.Timeout;
}

/**
 * The API's view of its node's terminal hosts: the newest generation, at the node's socket path,
 * takes new terminals; older ones that are draining (docs/decisions.md, "Host generations") keep
 * serving theirs, each over its own connection. A cache of every host's terminals is kept current
 * by their events, with the viewers (browser sockets) this process attached. The API holds no
 * terminal state of its own: after a restart it finds every live generation, lists what each
 * holds and carries on.
 */
export class RemoteTerminalManager {
  /** Connections by host id; `current` is the one new terminals open on. */
  private readonly links = new Map<string, HostConnection>();
  /**
   * Connections to other nodes' hosts, one per browser socket attached through this node to a
   * terminal held there (issue #16), by the key its RemoteTerminal carries as `hostId`. Kept
   * apart from this node's own: never listed, refreshed, reconciled or ended in bulk here.
   */
  private readonly peerLinks = new Map<string, PeerLinkState>();
  private current: HostConnection | null = null;
  private readonly terminals = new Map<string, RemoteTerminal>();
  private readonly viewers = new Map<number, ViewerState>();
  private readonly vidOf = new Map<TerminalViewer, number>();
  private readonly opens = new Map<number, CreateRemoteTerminal>();
  private nextVid = 1;
  private closed = false;
  private resolving: Promise<void> | null = null;

  constructor(private readonly options: RemoteTerminalManagerOptions) {}

  get connected(): boolean {
    return this.current !== null && !this.current.closed;
  }

  /** The newest host process this API talks to (null while disconnected). */
  get host(): { id: string; pid: number } | null {
    const c = this.current;
    return c && !c.closed ? { id: c.welcome.hostId, pid: c.welcome.pid } : null;
  }

  /** Every host this API is connected to, newest first, with the draining deadline of older ones. */
  get hosts(): Array<{ id: string; pid: number; version: string; drainingUntil: number | null }> {
    return [...this.links.values()]
      .map((c) => ({
        id: c.welcome.hostId,
        pid: c.welcome.pid,
        version: c.welcome.version,
        // Set from the host's welcome or its `draining` message: still true while this API has
        // not yet switched to the newer generation for new terminals.
        drainingUntil: c.welcome.drainingUntil ?? null,
      }))
      .sort(
        (a, b) =>
          (a.drainingUntil ?? Number.POSITIVE_INFINITY) - (b.drainingUntil ?? Number.POSITIVE_INFINITY),
      )
      .reverse();
  }

  /**
   * Connects to the newest host (starting one if allowed and needed) and to every older
   * generation still draining, and lists what they hold. Returns that list, for the caller to
   * reconcile its records with.
   */
  async start(timeoutMs = 15_000): Promise<TerminalInfo[]> {
    await this.connectCurrent(timeoutMs);
    await this.upgradeIfOutdated(timeoutMs);
    await this.discoverGenerations();
    return this.refresh();
  }

  /** A host of another build answers (this API was upgraded): start a new generation of it. */
  private async upgradeIfOutdated(timeoutMs: number): Promise<void> {
    const { expectedBuild, expectedPeerPort, startHost } = this.options;
    const running = this.current;
    if (!expectedBuild || !startHost || !running) return;
    const samePeer =
      expectedPeerPort === undefined || (running.welcome.peerPort ?? null) === expectedPeerPort;
    if (running.welcome.version === expectedBuild && samePeer) return;
    this.options.log?.info(
      {
        running: running.welcome.version,
        installed: expectedBuild,
        runningPeerPort: running.welcome.peerPort ?? null,
        peerPort: expectedPeerPort ?? null,
      },
      samePeer
        ? 'the terminal host is another build: starting a new generation; the old one drains'
        : 'the terminal host serves another peer port: starting a new generation; the old one drains',
    );
    await startHost();
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !this.closed) {
      await new Promise((r) => setTimeout(r, 100));
      try {
        const conn = await HostConnection.connect(this.options.socketPath, this.options.secret, 2_000);
        if (conn.welcome.hostId === running.welcome.hostId) conn.close();
        else {
          this.adopt(conn, true);
          return;
        }
      } catch {
        // the new one is not listening yet
      }
    }
    this.options.log?.warn(
      {},
      'the new terminal host generation did not start; carrying on with the old one',
    );
  }

  /** Re-reads every terminal from every host (sizes, memory, status). */
  async refresh(): Promise<TerminalInfo[]> {
    this.requireConnection();
    const all: TerminalInfo[] = [];
    await Promise.all(
      [...this.links.values()].map(async (conn) => {
        const infos = await conn.request<TerminalInfo[]>({ t: 'list' }).catch((err) => {
          if (conn === this.current) throw err;
          return null; // a draining host that just exited: its close is handled there
        });
        if (!infos) return;
        const hostId = conn.welcome.hostId;
        const seen = new Set<string>();
        for (const info of infos) {
          seen.add(info.id);
          all.push(info);
          const known = this.terminals.get(info.id);
          if (known) {
            known.hostId = hostId;
            known.update(info);
          } else this.terminals.set(info.id, new RemoteTerminal(this, info, hostId));
        }
        for (const [id, t] of this.terminals)
          if (t.hostId === hostId && !seen.has(id)) this.terminals.delete(id);
      }),
    );
    return all;
  }

  private lastRefresh: { at: number; done: Promise<void> } | null = null;

  /**
   * Refreshes from the hosts unless that happened less than `maxAgeMs` ago (one request serves a
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

  /** The newest host process's own figures (one request per `maxAgeMs`); null while it is away. */
  stats(maxAgeMs = 500): Promise<HostStats | null> {
    if (this.lastStats && Date.now() - this.lastStats.at < maxAgeMs) return this.lastStats.value;
    const c = this.current;
    const value =
      c && !c.closed ? c.request<HostStats>({ t: 'stats' }).catch(() => null) : Promise.resolve(null);
    this.lastStats = { at: Date.now(), value };
    return value;
  }

  async create(request: CreateRemoteTerminal): Promise<RemoteTerminal> {
    if (this.closed) throw new TerminalError(ErrorCode.SERVICE_UNAVAILABLE, 'The broker is shutting down.');
    validateSize(request.cols, request.rows);
    this.requireConnection();
    const known = await request.knownHosts.lookup(
      request.target.host.trim().toLowerCase(),
      request.target.port,
    );
    for (let attempt = 0; ; attempt++) {
      const conn = this.requireConnection();
      try {
        return await this.openOn(conn, request, known);
      } catch (err) {
        // The host started draining under us: a newer one took the socket; open there.
        if (attempt === 0 && err instanceof HostRequestError && err.details?.draining === 'true') {
          await this.resolveCurrent();
          continue;
        }
        throw asTerminalError(err);
      }
    }
  }

  private async openOn(
    conn: HostConnection,
    request: CreateRemoteTerminal,
    known: Awaited<ReturnType<KnownHostsStore['lookup']>>,
  ): Promise<RemoteTerminal> {
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
          ...(request.scrollback !== undefined ? { scrollback: request.scrollback } : {}),
          knownHost: known ? { keyType: known.keyType, fingerprint: known.fingerprint } : null,
        },
        (r) => {
          rid = r;
          this.opens.set(r, request);
        },
      );
      const hostId = conn.welcome.hostId;
      const terminal = this.terminals.get(info.id) ?? new RemoteTerminal(this, info, hostId);
      terminal.hostId = hostId;
      terminal.update(info);
      this.terminals.set(info.id, terminal);
      return terminal;
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

  /** Ends every terminal of a user (account disabled), on whichever host holds it. */
  terminateAllForUser(userId: string, reason: string): number {
    return terminateUserTerminals(this.terminals.values(), userId, reason);
  }

  /** This API is going away: its viewers are told to reconnect; the terminals stay with the hosts. */
  async shutdown(): Promise<void> {
    this.closed = true;
    for (const state of this.viewers.values())
      state.viewer.close(CloseCode.SERVER_RESTARTING, 'server restarting');
    this.viewers.clear();
    this.vidOf.clear();
    const links = [...this.links.values()];
    this.links.clear();
    this.current = null;
    for (const conn of links) conn.close();
    for (const key of [...this.peerLinks.keys()]) this.dropPeer(key);
  }

  // ── other nodes' terminals ────────────────────────────────────────────────

  /**
   * A terminal another node's host holds, reached over its peer port for one browser socket:
   * the socket attaches to the returned terminal as to one of this node's (same input offsets,
   * acks and flow control, end to end with that host); detaching closes the connection.
   * `known` is what this node knows of it (its row), until the attach brings the host's figures.
   */
  async connectPeer(known: TerminalInfo, target: PeerTarget): Promise<RemoteTerminal> {
    if (this.closed) throw new TerminalError(ErrorCode.SERVICE_UNAVAILABLE, 'The broker is shutting down.');
    let conn: HostConnection;
    try {
      conn = await HostConnection.connectPeer(target);
    } catch (err) {
      throw new TerminalError(
        ErrorCode.TERMINAL_UNREACHABLE,
        `The node holding this terminal cannot be reached: ${(err as Error).message}`,
      );
    }
    const key = `peer:${randomUUID()}`;
    const terminal = new RemoteTerminal(this, known, key);
    const beat = this.options.peerHeartbeat ?? { intervalMs: 10_000, timeoutMs: 30_000 };
    let answeredAt = Date.now();
    const heartbeat = setInterval(() => {
      if (Date.now() - answeredAt > beat.timeoutMs) {
        this.options.log?.warn({ terminalId: known.id }, 'the node holding this terminal stopped answering');
        conn.close();
        return;
      }
      conn.request({ t: 'ping' }).then(
        () => {
          answeredAt = Date.now();
        },
        () => {},
      );
    }, beat.intervalMs);
    heartbeat.unref();
    this.peerLinks.set(key, { conn, terminal, heartbeat });
    conn.on('message', (m) => this.onMessage(conn, m, terminal));
    conn.on('close', () => this.dropPeer(key));
    if (this.closed) this.dropPeer(key);
    return terminal;
  }

  /** Resolves once the host behind a peer terminal's link answered everything sent before. */
  async pingPeer(terminal: RemoteTerminal): Promise<void> {
    const state = this.peerLinks.get(terminal.hostId);
    if (!state) throw new TerminalError(ErrorCode.TERMINAL_UNREACHABLE, 'The peer link is closed.');
    await state.conn.request({ t: 'ping' });
  }

  /** Closes the peer link a terminal from `connectPeer` came with (its socket is done with it). */
  releasePeer(terminal: RemoteTerminal): void {
    if (this.peerLinks.has(terminal.hostId)) this.dropPeer(terminal.hostId);
  }

  private dropPeer(key: string): void {
    const state = this.peerLinks.get(key);
    if (!state) return;
    this.peerLinks.delete(key);
    clearInterval(state.heartbeat);
    state.conn.close();
    state.terminal.releaseInput();
    // Its browser reconnects and attaches again: through this node, or it hears why not.
    for (const [vid, v] of this.viewers) {
      if (v.conn !== state.conn) continue;
      this.viewers.delete(vid);
      this.vidOf.delete(v.viewer);
      if (this.closed) continue;
      v.viewer.sendJson({
        type: 'error',
        code: ErrorCode.TERMINAL_UNREACHABLE,
        message: 'The node holding this terminal stopped answering.',
      });
      v.viewer.close(CloseCode.TRY_AGAIN_LATER, 'terminal node unreachable');
    }
  }

  // ── used by RemoteTerminal ────────────────────────────────────────────────

  /** Whether the host holding `terminal` is connected. */
  reaches(terminal: RemoteTerminal): boolean {
    const conn = this.linkOf(terminal.hostId);
    return conn !== undefined && !conn.closed;
  }

  sendFor(terminal: RemoteTerminal, message: Parameters<HostConnection['send']>[0]): void {
    this.linkOf(terminal.hostId)?.send(message);
  }

  private linkOf(hostId: string): HostConnection | undefined {
    return this.links.get(hostId) ?? this.peerLinks.get(hostId)?.conn;
  }

  async attach(
    terminal: RemoteTerminal,
    viewer: TerminalViewer,
    options: RemoteAttachOptions,
  ): Promise<void> {
    if (this.vidOf.has(viewer)) throw new TerminalError(ErrorCode.PROTOCOL_ERROR, 'Already attached.');
    const peer = this.peerLinks.has(terminal.hostId);
    const conn = this.linkOf(terminal.hostId);
    if ((!conn || conn.closed) && !peer) this.requireConnection();
    if (!conn || conn.closed)
      throw new TerminalError(
        ErrorCode.SERVICE_UNAVAILABLE,
        'The terminal host is not available; try again shortly.',
      );
    const vid = this.nextVid++;
    this.vidOf.set(viewer, vid);
    this.viewers.set(vid, { viewer, terminal, conn, offset: null, acked: 0 });
    try {
      const info = await conn.request<TerminalInfo>({
        t: 'attach',
        vid,
        id: terminal.id,
        userId: terminal.userId,
        ...(options.resumeFrom !== undefined ? { resumeFrom: options.resumeFrom } : {}),
        ...(options.cols !== undefined ? { cols: options.cols } : {}),
        ...(options.rows !== undefined ? { rows: options.rows } : {}),
        ...(options.scrollback !== undefined ? { scrollback: options.scrollback } : {}),
        ...(options.inputStream !== undefined ? { inputStream: options.inputStream } : {}),
      });
      // Another node's terminal: this is the first word from its host about it.
      if (peer && info) terminal.update(info);
    } catch (err) {
      this.forget(viewer);
      if (peer) this.releasePeer(terminal);
      throw peer && err instanceof HostUnavailableError
        ? new TerminalError(
            ErrorCode.TERMINAL_UNREACHABLE,
            'The node holding this terminal stopped answering.',
          )
        : asTerminalError(err);
    }
  }

  detach(viewer: TerminalViewer): void {
    const state = this.stateOf(viewer);
    const vid = this.forget(viewer);
    if (vid === undefined || !state) return;
    // Counted down here at once (the host's `viewers` confirms it): a list read right after a
    // socket closed shows the terminal detached.
    state.terminal.viewerCount = Math.max(0, state.terminal.viewerCount - 1);
    // A peer link serves one socket: closing it detaches the viewer there.
    if (this.peerLinks.has(state.terminal.hostId)) this.releasePeer(state.terminal);
    else state.conn.send({ t: 'detach', vid });
  }

  ack(viewer: TerminalViewer, offset: number): void {
    const vid = this.vidOf.get(viewer);
    if (vid === undefined) return;
    const state = this.viewers.get(vid)!;
    if (offset > state.acked) state.acked = offset;
    state.conn.send({ t: 'ack', vid, offset, buffered: viewer.bufferedAmount() });
  }

  backlog(viewer: TerminalViewer): number {
    const state = this.stateOf(viewer);
    return state?.offset == null ? 0 : Math.max(0, state.offset - state.acked);
  }

  // ── the connections ───────────────────────────────────────────────────────

  private stateOf(viewer: TerminalViewer): ViewerState | undefined {
    const vid = this.vidOf.get(viewer);
    return vid === undefined ? undefined : this.viewers.get(vid);
  }

  private requireConnection(): HostConnection {
    if (!this.current || this.current.closed)
      throw new TerminalError(
        ErrorCode.SERVICE_UNAVAILABLE,
        'The terminal host is not available; try again shortly.',
      );
    return this.current;
  }

  private forget(viewer: TerminalViewer): number | undefined {
    const vid = this.vidOf.get(viewer);
    if (vid === undefined) return undefined;
    this.vidOf.delete(viewer);
    this.viewers.delete(vid);
    return vid;
  }

  /** Connects to the node's socket path (the newest generation), starting a host if allowed. */
  private async connectCurrent(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let started = false;
    let lastError: unknown;
    while (Date.now() < deadline && !this.closed) {
      try {
        const conn = await HostConnection.connect(this.options.socketPath, this.options.secret);
        this.adopt(conn, true);
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

  /** Older generations still draining, each on its own socket next to the node's. */
  private async discoverGenerations(): Promise<void> {
    const known = new Set([...this.links.values()].map((c) => ownSocketOf(this.options.socketPath, c)));
    await Promise.all(
      generationSocketPaths(this.options.socketPath)
        .filter((p) => !known.has(p))
        .map(async (p) => {
          try {
            const conn = await HostConnection.connect(p, this.options.secret, 2_000);
            if (this.links.has(conn.welcome.hostId) || this.closed) conn.close();
            else this.adopt(conn, false);
          } catch (err) {
            // Left by a host that died (nothing listens): remove it so it is not tried again.
            if ((err as Error).message.includes('ECONNREFUSED')) rmSync(p, { force: true });
          }
        }),
    );
  }

  /** The host at the node's socket path changed (a newer generation): make it the current one. */
  private resolveCurrent(): Promise<void> {
    this.resolving ??= (async () => {
      try {
        const conn = await HostConnection.connect(this.options.socketPath, this.options.secret, 5_000);
        const existing = this.links.get(conn.welcome.hostId);
        if (existing && !existing.closed) {
          conn.close();
          this.current = existing;
        } else this.adopt(conn, true);
        await this.refresh().catch(() => {});
      } catch (err) {
        this.options.log?.warn({ err: (err as Error).message }, 'newest terminal host not reachable');
      }
    })().finally(() => {
      this.resolving = null;
    });
    return this.resolving;
  }

  private adopt(conn: HostConnection, current: boolean): void {
    const hostId = conn.welcome.hostId;
    this.links.set(hostId, conn);
    if (current) this.current = conn;
    this.options.log?.info(
      {
        hostId,
        pid: conn.welcome.pid,
        version: conn.welcome.version,
        ...(conn.welcome.drainingUntil
          ? { drainingUntil: new Date(conn.welcome.drainingUntil).toISOString() }
          : {}),
      },
      current ? 'connected to the terminal host' : 'connected to a draining terminal host',
    );
    conn.on('message', (m) => this.onMessage(conn, m));
    conn.on('close', () => this.onClose(conn));
  }

  private onMessage(conn: HostConnection, m: HostMessage, peer?: RemoteTerminal): void {
    if (peer) {
      this.onPeerMessage(conn, m, peer);
      return;
    }
    switch (m.t) {
      case 'out': {
        const state = this.viewers.get(m.vid);
        if (!state || state.conn !== conn) {
          outputSlabs.release(m.data); // nobody to write it
          return;
        }
        if (state.offset !== null) state.offset += m.data.length;
        state.viewer.sendBinary(m.data);
        return;
      }
      case 'msg': {
        const state = this.viewers.get(m.vid);
        if (!state || state.conn !== conn) return;
        if (m.m.type === 'ready') {
          state.offset = m.m.offset;
          state.acked = m.m.offset;
        }
        state.viewer.sendJson(m.m);
        return;
      }
      case 'close': {
        const state = this.viewers.get(m.vid);
        if (!state || state.conn !== conn) return;
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
      case 'screen': {
        const t = this.terminals.get(m.id);
        if (!t) return;
        const { t: _t, id: _id, ...screen } = m;
        this.safe(() => this.options.events?.onScreen?.(t, screen));
        return;
      }
      case 'removed':
        this.terminals.delete(m.id);
        return;
      case 'draining':
        // A newer generation took the node's socket: new terminals go there from now on.
        conn.welcome.drainingUntil = m.until;
        this.options.log?.info(
          { hostId: m.hostId, until: new Date(m.until).toISOString() },
          'terminal host draining; a newer one takes new terminals',
        );
        if (conn === this.current) void this.resolveCurrent();
        return;
      case 'ask': {
        const request = this.opens.get(m.rid);
        if (!request) return;
        const signal = request.signal ?? new AbortController().signal;
        const answer = (fields: { accept?: boolean; responses?: string[] }) =>
          conn.send({ t: 'answer', rid: m.rid, qid: m.qid, ...fields });
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

  /**
   * From another node's host: its viewer's frames as for this node's, and what it says of the
   * one terminal (its own API records it; no events here).
   */
  private onPeerMessage(conn: HostConnection, m: HostMessage, t: RemoteTerminal): void {
    switch (m.t) {
      case 'out':
      case 'msg':
      case 'close':
        this.onMessage(conn, m);
        return;
      case 'applied':
        if (m.id === t.id) t.applied(m.stream, m.offset);
        return;
      case 'status':
        if (m.id !== t.id) return;
        t.status = m.status;
        t.end = m.ended;
        if (m.status !== 'running') t.releaseInput();
        return;
      case 'activity':
        if (m.id === t.id) t.lastOutputAt = new Date(m.at);
        return;
      case 'viewers':
        if (m.id === t.id) t.viewerCount = m.count;
        return;
      default:
        return;
    }
  }

  private onClose(conn: HostConnection): void {
    const hostId = conn.welcome.hostId;
    if (this.links.get(hostId) !== conn) return;
    this.links.delete(hostId);
    const wasCurrent = this.current === conn;
    if (wasCurrent) this.current = null;
    if (this.closed) return;
    this.options.log?.warn({ hostId }, 'terminal host connection lost');
    // Every viewer on that host was detached by it (or the host is gone): their browsers
    // reconnect and attach again, to the same host or to find their terminal ended.
    for (const [vid, state] of this.viewers) {
      if (state.conn !== conn) continue;
      this.viewers.delete(vid);
      this.vidOf.delete(state.viewer);
      state.viewer.close(CloseCode.SERVER_RESTARTING, 'terminal host reconnecting');
    }
    void this.recover(conn, wasCurrent);
  }

  /**
   * After a connection closed: the same host again if it is still there (its own socket), else
   * its terminals ended with it; and a current host for new terminals.
   */
  private async recover(conn: HostConnection, wasCurrent: boolean): Promise<void> {
    const hostId = conn.welcome.hostId;
    // New terminals first: the node's socket leads to the same host if it is alive, else to a
    // newer generation, else (spawn mode) to one started now.
    if (wasCurrent) await this.reconnectCurrent();
    const own = ownSocketOf(this.options.socketPath, conn);
    for (let attempt = 0; attempt < 3 && !this.closed && !this.links.has(hostId); attempt++) {
      try {
        const again = await HostConnection.connect(own, this.options.secret, 2_000);
        if (again.welcome.hostId === hostId && !this.closed && !this.links.has(hostId))
          this.adopt(again, false);
        else again.close();
      } catch {
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
    if (this.closed) return;
    if (!this.links.has(hostId)) this.hostGone(hostId);
    else await this.refresh().catch(() => {});
  }

  private async reconnectCurrent(): Promise<void> {
    for (let attempt = 0; !this.closed && !this.connected; attempt++) {
      try {
        await this.connectCurrent(5_000);
        await this.refresh();
        return;
      } catch (err) {
        this.options.log?.warn({ err: (err as Error).message }, 'terminal host still unavailable');
        await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * 2 ** attempt)));
      }
    }
  }

  /** Every terminal of that host ended with it. */
  private hostGone(hostId: string): void {
    for (const [id, t] of this.terminals) {
      if (t.hostId !== hostId) continue;
      this.terminals.delete(id);
      if (t.ended) continue;
      const details = { code: null, signal: null, reason: HOST_STOPPED };
      t.status = 'lost';
      t.end = details;
      t.releaseInput();
      this.safe(() => this.options.events?.onStatus?.(t, 'lost', details));
    }
  }

  private safe(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.options.log?.warn({ err: (err as Error).message }, 'terminal event handler failed');
    }
  }
}

/** The socket a host listens on itself (the node's path, for a host before generations). */
function ownSocketOf(socketPath: string, conn: HostConnection): string {
  try {
    return generationSocketPath(socketPath, generationOf(conn.welcome.hostId));
  } catch {
    return socketPath;
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
