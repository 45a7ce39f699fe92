import { randomUUID } from 'node:crypto';
import { CloseCode, ErrorCode, type SshAuth } from '@tether/protocol';
import {
  type ConnectInteraction,
  connectSsh,
  type KnownHostsStore,
  openShell,
  type SshConnection,
  type SshConnectOptions,
} from './ssh-connect.js';
import type { TargetPolicy } from './target-policy.js';
import {
  type FlowControlOptions,
  Terminal,
  type TerminalEndDetails,
  type TerminalEvents,
  type TerminalStatus,
  validateSize,
} from './terminal.js';
import { TerminalError } from './terminal-error.js';

/** Plain values; the app wires them from its validated config (DESIGN §9). */
export interface TerminalManagerConfig {
  /** MAX_TERMINALS_PER_USER: running + connecting terminals of one user on this node. */
  maxTerminalsPerUser: number;
  /** MAX_CONNECTIONS: running + connecting terminals on this node. */
  maxConnections: number;
  /** CONNECTION_TIMEOUT in ms. */
  connectTimeoutMs: number;
  /** TERMINAL_BUFFER_BYTES. */
  bufferBytes: number;
  /** TERMINAL_DETACHED_TIMEOUT in ms (0 disables). */
  detachedTimeoutMs: number;
  /** TERMINAL_SCROLLBACK: lines of scrollback a terminal's mirror keeps when its client does not say. */
  scrollback?: number;
  /** TERMINAL_SCROLLBACK_MAX: most lines a client may ask a terminal's mirror to keep. */
  scrollbackMax?: number;
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  interactionTimeoutMs?: number;
  /** How long an ended terminal stays attachable (final output + exit) before it is freed. */
  endedRetentionMs?: number;
  mirrorHibernateAfterMs?: number;
  outputEventIntervalMs?: number;
  flow?: FlowControlOptions;
}

/** Minimal pino-compatible logger. Never given secrets or terminal contents. */
export interface TerminalLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface TerminalManagerDeps {
  policy: TargetPolicy;
  events?: TerminalEvents;
  log?: TerminalLogger;
  /** Overridable for fault-injection tests; defaults to the real SSH connect + shell. */
  connect?: (options: SshConnectOptions) => Promise<SshConnection>;
}

export interface CreateTerminalRequest {
  userId: string;
  target: { host: string; port: number; username: string };
  auth: SshAuth;
  cols: number;
  rows: number;
  title?: string;
  /** The client's scrollback in lines: the mirror keeps as many, up to `scrollbackMax`. */
  scrollback?: number;
  /** The user's known hosts. */
  knownHosts: KnownHostsStore;
  interaction: ConnectInteraction;
  signal?: AbortSignal;
  /** Use a given id (e.g. one the DB row was created with). */
  id?: string;
}

export class TerminalManager {
  private readonly config: Required<Omit<TerminalManagerConfig, 'flow'>> & { flow: FlowControlOptions };
  private readonly deps: TerminalManagerDeps;
  private readonly terminals = new Map<string, Terminal>();
  /** Connects in progress, counted against the limits so parallel opens cannot overshoot. */
  private readonly connecting = new Map<string, number>();
  private connectingTotal = 0;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly connectAborts = new Set<AbortController>();
  private closed = false;

  constructor(config: TerminalManagerConfig, deps: TerminalManagerDeps) {
    this.config = {
      scrollback: 1000,
      scrollbackMax: 10_000,
      keepaliveIntervalMs: 15_000,
      keepaliveCountMax: 3,
      interactionTimeoutMs: 120_000,
      endedRetentionMs: 5 * 60_000,
      mirrorHibernateAfterMs: 5 * 60_000,
      outputEventIntervalMs: 10_000,
      ...config,
      flow: config.flow ?? {},
    };
    this.deps = deps;
    const period = Math.min(30_000, Math.max(50, Math.floor(this.smallestTimeout() / 4)));
    this.sweepTimer = setInterval(() => this.sweep(), period);
    this.sweepTimer.unref();
  }

  /** Opens a new terminal: target policy, SSH connect, host key, auth, PTY shell. */
  async create(request: CreateTerminalRequest): Promise<Terminal> {
    if (this.closed) throw new TerminalError(ErrorCode.SERVICE_UNAVAILABLE, 'The broker is shutting down.');
    validateSize(request.cols, request.rows);
    const { userId } = request;
    const running = this.countFor(userId) + (this.connecting.get(userId) ?? 0);
    if (running >= this.config.maxTerminalsPerUser) {
      throw new TerminalError(
        ErrorCode.TERMINAL_LIMIT,
        `You already have ${this.config.maxTerminalsPerUser} open terminals; close one first.`,
      );
    }
    if (this.runningCount() + this.connectingTotal >= this.config.maxConnections) {
      throw new TerminalError(
        ErrorCode.NODE_LIMIT,
        'The broker has reached its connection limit; try again later.',
      );
    }

    this.connecting.set(userId, (this.connecting.get(userId) ?? 0) + 1);
    this.connectingTotal++;
    const abort = new AbortController();
    this.connectAborts.add(abort);
    const onOuterAbort = () => abort.abort();
    request.signal?.addEventListener('abort', onOuterAbort, { once: true });
    const id = request.id ?? randomUUID();
    const log = this.deps.log;
    let connection: SshConnection | undefined;
    try {
      connection = await (this.deps.connect ?? connectSsh)({
        target: request.target,
        auth: request.auth,
        policy: this.deps.policy,
        knownHosts: request.knownHosts,
        interaction: request.interaction,
        connectTimeoutMs: this.config.connectTimeoutMs,
        interactionTimeoutMs: this.config.interactionTimeoutMs,
        keepaliveIntervalMs: this.config.keepaliveIntervalMs,
        keepaliveCountMax: this.config.keepaliveCountMax,
        signal: abort.signal,
      });
      const channel = await openShell(connection.client, { cols: request.cols, rows: request.rows });
      if (this.closed) {
        connection.client.end();
        throw new TerminalError(ErrorCode.SERVICE_UNAVAILABLE, 'The broker is shutting down.');
      }
      const terminal = new Terminal({
        id,
        userId,
        target: request.target,
        address: connection.address,
        title: request.title,
        client: connection.client,
        channel,
        cols: request.cols,
        rows: request.rows,
        bufferBytes: this.config.bufferBytes,
        scrollback: request.scrollback ?? this.config.scrollback,
        scrollbackMax: Math.max(this.config.scrollbackMax, this.config.scrollback),
        mirrorHibernateAfterMs: this.config.mirrorHibernateAfterMs,
        outputEventIntervalMs: this.config.outputEventIntervalMs,
        flow: this.config.flow,
        events: this.wrapEvents(),
      });
      this.terminals.set(id, terminal);
      log?.info(
        { terminalId: id, userId, host: request.target.host, port: request.target.port },
        'terminal opened',
      );
      return terminal;
    } catch (err) {
      connection?.client.end();
      log?.warn(
        {
          userId,
          host: request.target.host,
          port: request.target.port,
          code: (err as { code?: unknown }).code,
        },
        'ssh connect failed',
      );
      throw err;
    } finally {
      request.signal?.removeEventListener('abort', onOuterAbort);
      this.connectAborts.delete(abort);
      const n = (this.connecting.get(userId) ?? 1) - 1;
      if (n > 0) this.connecting.set(userId, n);
      else this.connecting.delete(userId);
      this.connectingTotal--;
    }
  }

  /** The terminal with this id, whoever owns it (for a caller that checked ownership itself). */
  find(id: string): Terminal | undefined {
    return this.terminals.get(id);
  }

  /** The terminal if it exists and belongs to `userId`; another user's terminal is "not found". */
  get(id: string, userId: string): Terminal | undefined {
    const terminal = this.terminals.get(id);
    return terminal && terminal.userId === userId ? terminal : undefined;
  }

  /** Like `get`, but throws TERMINAL_NOT_FOUND. */
  require(id: string, userId: string): Terminal {
    const terminal = this.get(id, userId);
    if (!terminal) throw new TerminalError(ErrorCode.TERMINAL_NOT_FOUND, 'No such terminal.');
    return terminal;
  }

  /** The user's terminals on this node, running and recently ended. */
  listByUser(userId: string): Terminal[] {
    return [...this.terminals.values()].filter((t) => t.userId === userId);
  }

  /** Every terminal on this node (admin views, metrics). */
  list(): Terminal[] {
    return [...this.terminals.values()];
  }

  runningCount(): number {
    let n = 0;
    for (const t of this.terminals.values()) if (!t.ended) n++;
    return n;
  }

  /** Ends every terminal of a user (account disabled, admin action). */
  terminateAllForUser(userId: string, reason: string): number {
    return terminateUserTerminals(this.terminals.values(), userId, reason);
  }

  /**
   * Broker shutdown: aborts connects, ends every terminal (status `lost`, since the user did not
   * end it) and closes viewers with SERVER_RESTARTING, then frees everything.
   */
  async shutdown(reason = 'The broker is shutting down.'): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweepTimer);
    for (const abort of this.connectAborts) abort.abort();
    for (const t of this.terminals.values()) {
      t.terminate(reason, { status: 'lost', closeCode: CloseCode.SERVER_RESTARTING });
    }
    // Give the SSH disconnect messages a moment to leave the process.
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (const t of this.terminals.values()) t.dispose();
    this.terminals.clear();
  }

  private countFor(userId: string): number {
    let n = 0;
    for (const t of this.terminals.values()) if (t.userId === userId && !t.ended) n++;
    return n;
  }

  private smallestTimeout(): number {
    const candidates = [this.config.endedRetentionMs, this.config.detachedTimeoutMs].filter((v) => v > 0);
    return candidates.length > 0 ? Math.min(...candidates) : 120_000;
  }

  /** Detached timeout and ended-terminal retention. */
  private sweep(): void {
    const now = Date.now();
    for (const [id, t] of this.terminals) {
      const since = t.detachedSince;
      if (t.ended) {
        const endedFor = since === null ? 0 : now - since;
        if (t.viewerCount === 0 && endedFor >= this.config.endedRetentionMs) {
          t.dispose();
          this.terminals.delete(id);
          safeCall(() => this.deps.events?.onRemoved?.(t), this.deps.log);
        }
      } else if (
        this.config.detachedTimeoutMs > 0 &&
        since !== null &&
        now - since >= this.config.detachedTimeoutMs
      ) {
        this.deps.log?.info({ terminalId: id, userId: t.userId }, 'terminal detached timeout');
        t.terminate('The terminal was closed after being detached for too long.');
      }
    }
  }

  private wrapEvents(): TerminalEvents {
    const outer = this.deps.events ?? {};
    const log = this.deps.log;
    return {
      onStatus: (terminal: Terminal, status: TerminalStatus, details: TerminalEndDetails | null) => {
        if (status !== 'running') {
          log?.info(
            { terminalId: terminal.id, userId: terminal.userId, status, code: details?.code },
            'terminal ended',
          );
        }
        safeCall(() => outer.onStatus?.(terminal, status, details), log);
      },
      onOutput: (terminal, at) => safeCall(() => outer.onOutput?.(terminal, at), log),
      onAttachChange: (terminal, viewers) => safeCall(() => outer.onAttachChange?.(terminal, viewers), log),
      onRemoved: (terminal) => safeCall(() => outer.onRemoved?.(terminal), log),
    };
  }
}

function safeCall(fn: () => void, log: TerminalLogger | undefined): void {
  try {
    fn();
  } catch (err) {
    log?.warn({ err }, 'terminal event handler failed');
  }
}

export function createTerminalManager(
  config: TerminalManagerConfig,
  deps: TerminalManagerDeps,
): TerminalManager {
  return new TerminalManager(config, deps);
}

/**
 * Ends every running terminal of `userId` among `terminals`; returns how many. Shared by the
 * engine's manager and the API's view of the terminal host (the same rule on either side).
 */
export function terminateUserTerminals(
  terminals: Iterable<{ userId: string; ended: boolean; terminate(reason: string): void }>,
  userId: string,
  reason: string,
): number {
  let n = 0;
  for (const t of terminals) {
    if (t.userId === userId && !t.ended) {
      t.terminate(reason);
      n++;
    }
  }
  return n;
}
