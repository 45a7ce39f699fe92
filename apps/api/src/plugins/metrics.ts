import { createHash, timingSafeEqual } from 'node:crypto';
import type { HostStats } from '@tether/host-protocol';
import { ErrorCode } from '@tether/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { AuditInput } from '../audit/audit-repo.js';
import { errorBody } from './errors.js';

export type AttachKind = 'replay' | 'snapshot';

export interface Metrics {
  /** This app's own metrics (HTTP, sockets, logins, terminals). */
  readonly registry: Registry;
  /** A socket (re)attached: how long until it was live, and how many bytes that took. */
  observeAttach(kind: AttachKind, seconds: number, bytes: number): void;
  /** The Prometheus text exposition of process and app metrics. */
  render(): Promise<string>;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
}

/**
 * Process-wide metrics (CPU, memory, GC, event-loop lag, handles) exist once per process, however
 * many apps a test run builds: collectDefaultMetrics starts observers that are never stopped.
 */
let processRegistry: Registry | undefined;
function getProcessRegistry(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, eventLoopMonitoringPrecision: 20 });
  }
  return processRegistry;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time comparison of a presented bearer token with METRICS_TOKEN. */
export function metricsTokenMatches(expected: string, header: string | undefined): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m) return false;
  return timingSafeEqual(sha256(m[1]!), sha256(expected));
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Prometheus metrics at `{BASE_PATH}/metrics`, optionally behind `METRICS_TOKEN`.
 *
 * Nothing elsewhere in the code counts anything: HTTP figures come from an onResponse hook,
 * socket figures from the WebSocket server's `connection` event, logins, lockouts, revocations
 * and SSH connects from the audit trail (every such event is audited anyway), and terminal
 * gauges are read from the terminal manager at scrape time.
 */
/** The metric label of a failed sign-in: unknown user and wrong password are the same failure. */
function loginFailureReason(detail: Record<string, unknown>): string {
  const reason = String(detail.reason ?? 'unknown');
  return reason === 'unknown_user' || reason === 'bad_password' ? 'invalid_credentials' : reason;
}

export default fp(
  async (app) => {
    const { config } = app;
    const registry = new Registry();
    const processMetrics = getProcessRegistry();

    // ── HTTP ──
    const httpRequests = new Counter({
      name: 'tether_http_requests_total',
      help: 'HTTP requests answered, by method, route template and status code.',
      labelNames: ['method', 'route', 'status_code'] as const,
      registers: [registry],
    });
    const httpDuration = new Histogram({
      name: 'tether_http_request_duration_seconds',
      help: 'HTTP request latency, by method, route template and status code.',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
    app.addHook('onResponse', async (request, reply) => {
      // The route template, never the raw URL: ids and typos must not create label values.
      const labels = {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode),
      };
      httpRequests.inc(labels);
      httpDuration.observe(labels, reply.elapsedTime / 1000);
    });

    // ── WebSocket ──
    const wsOpened = new Counter({
      name: 'tether_websocket_connections_total',
      help: 'WebSocket connections accepted.',
      registers: [registry],
    });
    new Gauge({
      name: 'tether_websocket_connections',
      help: 'WebSocket connections open now.',
      registers: [registry],
      collect() {
        this.set(app.websocketServer?.clients.size ?? 0);
      },
    });
    const wsClosed = new Counter({
      name: 'tether_websocket_closes_total',
      help: 'WebSocket connections closed, by close code.',
      labelNames: ['code'] as const,
      registers: [registry],
    });
    const wsDuration = new Histogram({
      name: 'tether_websocket_connection_duration_seconds',
      help: 'How long WebSocket connections stayed open.',
      buckets: [1, 10, 60, 300, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600],
      registers: [registry],
    });
    const wsMessages = new Counter({
      name: 'tether_websocket_messages_received_total',
      help: 'WebSocket messages received, by frame kind (text = control, binary = keystrokes).',
      labelNames: ['kind'] as const,
      registers: [registry],
    });
    const wsBytes = new Counter({
      name: 'tether_websocket_received_bytes_total',
      help: 'WebSocket payload bytes received.',
      registers: [registry],
    });
    app.websocketServer.on('connection', (socket) => {
      const opened = performance.now();
      wsOpened.inc();
      socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
        wsMessages.inc({ kind: isBinary ? 'binary' : 'text' });
        const size = Array.isArray(data)
          ? data.reduce((n, b) => n + b.length, 0)
          : (data as Buffer | ArrayBuffer).byteLength;
        wsBytes.inc(size);
      });
      socket.once('close', (code: number) => {
        wsClosed.inc({ code: String(code) });
        wsDuration.observe((performance.now() - opened) / 1000);
      });
    });

    // ── auth, from the audit trail ──
    const logins = new Counter({
      name: 'tether_logins_total',
      // One reason for a wrong name and a wrong password: /metrics must not tell which usernames
      // exist any more than the login answer does.
      help: 'Sign-in attempts, by outcome and failure reason (invalid_credentials, locked, disabled).',
      labelNames: ['outcome', 'reason'] as const,
      registers: [registry],
    });
    const lockouts = new Counter({
      name: 'tether_login_lockouts_total',
      help: 'Usernames locked after repeated failed sign-ins (whether or not an account has the name).',
      registers: [registry],
    });
    const revocations = new Counter({
      name: 'tether_sessions_revoked_total',
      help: 'Web sessions ended by the broker, by reason (replaced, idle, expired, admin).',
      labelNames: ['reason'] as const,
      registers: [registry],
    });
    const auditEvents = new Counter({
      name: 'tether_audit_events_total',
      help: 'Audit events recorded, by type and outcome.',
      labelNames: ['type', 'outcome'] as const,
      registers: [registry],
    });
    // The live-session count needs the database; a scrape while it is down keeps the last value.
    let liveSessions = 0;
    new Gauge({
      name: 'tether_web_sessions',
      help: 'Live web sessions (signed-in users).',
      registers: [registry],
      async collect() {
        try {
          liveSessions = (await app.auth.sessions.listLive()).length;
        } catch {
          // database unavailable: report the last known value
        }
        this.set(liveSessions);
      },
    });

    // ── terminals and SSH ──
    const sshConnect = new Histogram({
      name: 'tether_ssh_connect_seconds',
      help: 'Time from an open request to a running shell (includes host-key and login prompts the user answers).',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    });
    const sshFailures = new Counter({
      name: 'tether_ssh_connect_failures_total',
      help: 'Terminal opens that failed, by error code.',
      labelNames: ['code'] as const,
      registers: [registry],
    });
    const terminalsEnded = new Counter({
      name: 'tether_terminals_ended_total',
      help: 'Terminals that ended, by final status (exited, lost).',
      labelNames: ['status'] as const,
      registers: [registry],
    });
    const attachSeconds = new Histogram({
      name: 'tether_terminal_attach_seconds',
      help: 'Time to (re)attach a socket to a terminal, by kind (replay = missed bytes, snapshot = screen).',
      labelNames: ['kind'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
    const replayBytes = new Histogram({
      name: 'tether_terminal_replay_bytes',
      help: 'Bytes sent to bring an attaching socket up to date (ring replay or snapshot + tail).',
      labelNames: ['kind'] as const,
      buckets: [0, 1024, 16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024, 16 * 1024 * 1024],
      registers: [registry],
    });

    const terminalGauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge) => void) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [registry],
        // Figures come from the terminal host: one refresh serves every gauge of a scrape.
        async collect() {
          await app.terminals.manager.fresh();
          this.reset();
          fill(this);
        },
      });
    const terminalsNow = () => app.terminals.manager.list();
    terminalGauge(
      'tether_terminals',
      'Terminals held by this process, by state (running includes detached).',
      ['state'],
      (g) => {
        let running = 0;
        let ended = 0;
        for (const t of terminalsNow()) t.ended ? ended++ : running++;
        g.set({ state: 'running' }, running);
        g.set({ state: 'ended' }, ended);
      },
    );
    terminalGauge('tether_terminals_detached', 'Running terminals with no socket attached.', [], (g) => {
      g.set(terminalsNow().filter((t) => !t.ended && t.viewerCount === 0).length);
    });
    terminalGauge('tether_terminal_viewers', 'Sockets attached to terminals.', [], (g) => {
      g.set(terminalsNow().reduce((n, t) => n + (t.ended ? 0 : t.viewerCount), 0));
    });
    terminalGauge(
      'tether_terminal_ring_bytes',
      'Bytes allocated by terminal output rings (byte-exact resume).',
      [],
      (g) => g.set(terminalsNow().reduce((n, t) => n + t.memoryUsage().ringBytes, 0)),
    );
    terminalGauge(
      'tether_terminal_mirrors',
      'Headless screen mirrors, by state (empty = never needed, live = parsing, hibernated = serialized).',
      ['state'],
      (g) => {
        const counts: Record<string, number> = { empty: 0, live: 0, hibernated: 0 };
        for (const t of terminalsNow()) {
          const state = t.memoryUsage().mirror;
          counts[state] = (counts[state] ?? 0) + 1;
        }
        for (const [state, n] of Object.entries(counts)) g.set({ state }, n);
      },
    );
    terminalGauge(
      'tether_terminal_mirror_backlog_bytes',
      'Output bytes queued for the screen mirrors but not parsed yet.',
      [],
      (g) => g.set(terminalsNow().reduce((n, t) => n + t.memoryUsage().mirrorBacklog, 0)),
    );
    terminalGauge(
      'tether_terminal_channel_buffered_bytes',
      'Output bytes held in paused SSH channels (flow control).',
      [],
      (g) => g.set(terminalsNow().reduce((n, t) => n + t.memoryUsage().channelBuffered, 0)),
    );

    // The terminal host is its own process: its health, as it reports it over the local channel.
    const hostGauge = (name: string, help: string, pick: (s: HostStats) => number) =>
      new Gauge({
        name,
        help,
        registers: [registry],
        async collect() {
          const s = await app.terminals.manager.stats();
          this.reset();
          if (s) this.set(pick(s));
        },
      });
    new Gauge({
      name: 'tether_terminal_host_up',
      help: '1 while the API is connected to its terminal host.',
      registers: [registry],
      async collect() {
        this.set((await app.terminals.manager.stats()) ? 1 : 0);
      },
    });
    new Gauge({
      name: 'tether_terminal_hosts_draining',
      help: 'Older terminal host generations still serving their terminals after an upgrade.',
      registers: [registry],
      collect() {
        this.set(app.terminals.manager.hosts.filter((h) => h.drainingUntil !== null).length);
      },
    });
    hostGauge(
      'tether_terminal_host_start_time_seconds',
      'When the terminal host process started.',
      (s) => s.startedAt / 1000,
    );
    hostGauge(
      'tether_terminal_host_resident_memory_bytes',
      'Resident memory of the terminal host process.',
      (s) => s.rssBytes,
    );
    hostGauge(
      'tether_terminal_host_heap_used_bytes',
      'JavaScript heap in use in the terminal host.',
      (s) => s.heapUsedBytes,
    );
    hostGauge(
      'tether_terminal_host_event_loop_delay_p99_seconds',
      "p99 of the terminal host's event-loop delay since the previous scrape.",
      (s) => s.eventLoopDelayP99Ms / 1000,
    );
    hostGauge(
      'tether_terminal_host_event_loop_delay_max_seconds',
      'Longest event-loop delay of the terminal host since the previous scrape.',
      (s) => s.eventLoopDelayMaxMs / 1000,
    );

    const observeAudit = (e: AuditInput) => {
      auditEvents.inc({ type: e.type, outcome: e.outcome });
      const detail = e.detail ?? {};
      switch (e.type) {
        case 'auth.login':
          logins.inc({
            outcome: e.outcome,
            reason: e.outcome === 'success' ? '' : loginFailureReason(detail),
          });
          break;
        case 'auth.lockout':
          lockouts.inc();
          break;
        case 'session.revoked':
          revocations.inc({ reason: String(detail.reason ?? 'unknown') });
          break;
        case 'terminal.opened':
          if (typeof detail.connectMs === 'number') sshConnect.observe(detail.connectMs / 1000);
          break;
        case 'terminal.open_failed':
          sshFailures.inc({ code: String(detail.code ?? 'unknown') });
          break;
        case 'terminal.ended':
          terminalsEnded.inc({ status: String(detail.status ?? 'exited') });
          break;
      }
    };
    const unsubscribe = app.audit.subscribe(observeAudit);
    app.addHook('onClose', async () => unsubscribe());

    const metrics: Metrics = {
      registry,
      observeAttach(kind, seconds, bytes) {
        attachSeconds.observe({ kind }, seconds);
        replayBytes.observe({ kind }, bytes);
      },
      async render() {
        return `${await processMetrics.metrics()}\n${await registry.metrics()}`;
      },
    };
    app.decorate('metrics', metrics);

    const route = `${config.basePath}/metrics`;
    app.get(route, async (request: FastifyRequest, reply: FastifyReply) => {
      if (config.metricsToken && !metricsTokenMatches(config.metricsToken, request.headers.authorization)) {
        return reply
          .status(401)
          .header('www-authenticate', 'Bearer realm="metrics"')
          .send(errorBody(ErrorCode.UNAUTHENTICATED, 'A valid metrics token is required'));
      }
      const body = await metrics.render();
      return reply
        .header('content-type', registry.contentType)
        .header('cache-control', 'no-store')
        .send(body);
    });
  },
  { name: 'metrics', dependencies: ['config', 'auth', 'terminals', '@fastify/websocket'] },
);
