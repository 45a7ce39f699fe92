import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { nodeIdOf } from '@tether/host/config';
import {
  bool,
  duration,
  int,
  list,
  TERMINAL_HOST_SOCKET_MAX,
  TerminalEnvShape,
} from '@tether/terminal-engine';
import { z } from 'zod';

const basePath = z
  .string()
  .default('')
  .transform((v) => v.trim().replace(/\/+$/, ''))
  .refine((v) => v === '' || /^\/[A-Za-z0-9._~\-/]*$/.test(v), 'must be empty or a path like /ssh-ws');

const EnvSchema = z.object({
  // Shared with the terminal host (DATA_DIR, terminal limits, SSH targets, keepalive, LOG_LEVEL).
  ...TerminalEnvShape,
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(8080, 0, 65535),
  // Loopback unless told otherwise: the quick start serves plain HTTP, which must not reach the
  // LAN by accident. The image and compose file set 0.0.0.0 explicitly.
  HOST: z.string().default('127.0.0.1'),
  BASE_PATH: basePath,
  DATABASE_URL: z
    .string()
    .optional()
    .transform((v) => (v?.trim() ? v.trim() : undefined))
    .refine((v) => v === undefined || /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// URL'),
  DATABASE_STATEMENT_TIMEOUT: duration('10s'),
  DATABASE_LOCK_TIMEOUT: duration('3s'),
  JWT_SECRET: z.string().optional(),
  JWT_EXPIRES_IN: duration('15m'),
  SESSION_IDLE_TIMEOUT: duration('30m'),
  SESSION_ABSOLUTE_TIMEOUT: duration('12h'),
  SESSION_RETENTION: duration('30d'),
  // The backstop behind LISTEN/NOTIFY: how often each node re-reads its sockets' session rows.
  SESSION_CHECK_INTERVAL: duration('1s'),
  ADMIN_USERNAME: z.string().default('admin'),
  ADMIN_PASSWORD: z.string().optional(),
  ALLOW_REGISTRATION: bool(false),
  LOGIN_MAX_FAILURES: int(5, 1, 1000),
  LOGIN_LOCKOUT: duration('15m'),
  LOGIN_RATE_LIMIT: int(10, 1, 100_000),
  LOGIN_RATE_WINDOW: duration('1m'),
  CORS_ORIGIN: list,
  MESSAGE_SIZE_LIMIT: int(64 * 1024, 1024, 16 * 1024 * 1024),
  HEARTBEAT_INTERVAL: duration('15s'),
  HEARTBEAT_TIMEOUT: duration('45s'),
  WS_MAX_SOCKETS_PER_USER: int(64, 1, 100_000),
  WS_MAX_SOCKETS_PER_IP: int(256, 1, 1_000_000),
  WS_MAX_PENDING_PER_IP: int(32, 1, 100_000),
  WS_MESSAGE_RATE: int(500, 1, 1_000_000),
  WS_STALL_TIMEOUT: duration('2m'),
  ENCRYPTION_KEY: z.string().optional(),
  SSH_OPEN_FAILURES_PER_MINUTE: int(10, 1, 100_000),
  AUDIT_RETENTION_DAYS: int(90, 1),
  METRICS_TOKEN: z.string().optional(),
  TRUST_PROXY: z.string().default('false'),
  WEB_DIST: z.string().optional(),
  /**
   * How the API reaches its node's terminal host: `spawn` connects to TERMINAL_HOST_SOCKET and
   * starts the host there (detached) when none answers; `external` only connects (the host is its
   * own service: compose, systemd); `embedded` runs it inside the API process, so terminals end
   * when the API does (tests, a throwaway single process).
   */
  TERMINAL_HOST: z.enum(['spawn', 'external', 'embedded']).default('spawn'),
  NODE_ID: z.string().optional(),
  // Membership (issue #16): heartbeats by the database's clock; a node silent past
  // NODE_UNREACHABLE_AFTER shows as unreachable, past NODE_LOST_AFTER its terminals are lost.
  NODE_HEARTBEAT_INTERVAL: duration('2s'),
  NODE_UNREACHABLE_AFTER: duration('10s'),
  NODE_LOST_AFTER: duration('2m'),
  // The peer link (issue #16): how other nodes reach this one's terminals. Off unless both
  // PEER_SECRET and PEER_URL are set.
  PEER_SECRET: z.string().optional(),
  PEER_URL: z
    .string()
    .optional()
    .transform((v) => (v?.trim() ? v.trim().replace(/\/+$/, '') : undefined)),
  PEER_HOST: z.string().optional(),
  PEER_PORT: int(8081, 0, 65535),
  NETBOX_URL: z
    .string()
    .optional()
    .transform((v) => (v?.trim() ? v.trim().replace(/\/+$/, '') : undefined))
    .refine(
      (v) => v === undefined || /^https?:\/\/[^\s?#@]+$/.test(v),
      'must be an http(s) URL, e.g. https://netbox.example.net',
    ),
  NETBOX_TLS_VERIFY: bool(true),
  NETBOX_CA_FILE: z.string().optional(),
});

export type Env = z.input<typeof EnvSchema>;
/** Every variable the broker reads (docs and .env.example are checked against this list). */
export const ENV_VARIABLES = Object.keys(EnvSchema.shape) as Array<keyof Env>;

export interface Config {
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  basePath: string;
  /** Timeouts apply to PostgreSQL (PGlite serves one process: nothing else can hold a lock). */
  database: { url?: string; dataDir: string; statementTimeoutMs: number; lockTimeoutMs: number };
  dataDir: string;
  jwt: { secret: string; expiresInMs: number };
  session: { idleTimeoutMs: number; absoluteTimeoutMs: number; retentionMs: number; checkIntervalMs: number };
  admin: { username: string; password?: string };
  allowRegistration: boolean;
  login: { maxFailures: number; lockoutMs: number; rateLimit: number; rateWindowMs: number };
  corsOrigins: string[];
  limits: {
    maxConnections: number;
    maxTerminalsPerUser: number;
    connectionTimeoutMs: number;
    messageSizeLimit: number;
    heartbeatIntervalMs: number;
    heartbeatTimeoutMs: number;
    /** Terminal sockets: per user (authenticated), per client IP (all), not yet authenticated per IP. */
    wsMaxSocketsPerUser: number;
    wsMaxSocketsPerIp: number;
    wsMaxPendingPerIp: number;
    /** Messages per second per socket (bursts of twice that); beyond it the socket is read slower. */
    wsMessageRate: number;
    /** A socket whose output neither drains nor is acknowledged for this long is closed. */
    wsStallTimeoutMs: number;
    terminalBufferBytes: number;
    terminalDetachedTimeoutMs: number;
    terminalEndedRetentionMs: number;
    terminalScrollback: number;
    terminalScrollbackMax: number;
  };
  ssh: {
    allowedTargets: string[];
    deniedTargets: string[];
    keepaliveIntervalMs: number;
    keepaliveCountMax: number;
    /** Failed SSH opens per user per minute (bursts of as many); beyond it `RATE_LIMITED`. */
    openFailuresPerMinute: number;
  };
  /** 32-byte AES-256-GCM key from ENCRYPTION_KEY; when unset, one is kept in DATA_DIR/encryption-key. */
  encryptionKey?: Buffer;
  auditRetentionDays: number;
  metricsToken?: string;
  logLevel: string;
  trustProxy: TrustProxy;
  webDist?: string;
  /**
   * The node's terminal host: how it is reached, its socket, how long a replaced generation
   * drains, and the heap limit (MiB) of a host this API starts.
   */
  terminalHost: {
    mode: 'spawn' | 'external' | 'embedded';
    socketPath: string;
    drainMs: number;
    memoryMiB?: number;
  };
  nodeId: string;
  /**
   * The peer link (cluster/peer-link.ts): the secret every node shares, the URL other nodes use to
   * reach this one, and where this node listens for them. null when not configured (one node).
   */
  peer: { secret: string; url: string; host: string; port: number } | null;
  /** Membership of the nodes sharing the database (cluster/membership.ts). */
  cluster: { heartbeatIntervalMs: number; unreachableAfterMs: number; lostAfterMs: number };
  /** NetBox import: default base URL (an admin may override it at run time) and TLS trust. */
  netbox: { url?: string; tlsVerify: boolean; ca?: string };
}

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export type TrustProxy = boolean | string | ((address: string, hop: number) => boolean);

/** `true`/`false`, a hop count, or a comma list of trusted proxy addresses/CIDRs. */
function parseTrustProxy(value: string): TrustProxy {
  const v = value.trim();
  if (v === 'true') return true;
  if (v === 'false' || v === '') return false;
  if (/^\d+$/.test(v)) {
    const hops = Number(v);
    return (_address, hop) => hop < hops;
  }
  return v;
}

/**
 * A secret that must survive restarts (JWT signing key): taken from the environment, else read
 * from DATA_DIR, else generated once and written there with owner-only permissions.
 */
export function persistentValue(dataDir: string, file: string, make: () => string): string {
  const p = path.join(dataDir, file);
  if (existsSync(p)) return readFileSync(p, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const value = make();
  writeFileSync(p, `${value}\n`, { mode: 0o600, flag: 'wx' });
  return value;
}

/** A 256-bit key written as 64 hex characters or base64/base64url; null when it is anything else. */
export function decodeKey(value: string): Buffer | null {
  const v = value.trim();
  if (/^[0-9a-fA-F]{64}$/.test(v)) return Buffer.from(v, 'hex');
  if (!/^[A-Za-z0-9+/_-]{43}={0,2}$/.test(v)) return null;
  const key = Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return key.length === 32 ? key : null;
}

/** Parses and validates the environment once at start-up; every problem is reported at once. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  const problems: string[] = [];
  const dataDir = path.resolve(e.DATA_DIR);

  let jwtSecret = e.JWT_SECRET;
  if (jwtSecret !== undefined && jwtSecret.length < 32) {
    problems.push('JWT_SECRET: must be at least 32 characters (or unset to generate one in DATA_DIR)');
  }
  if (e.SESSION_IDLE_TIMEOUT > e.SESSION_ABSOLUTE_TIMEOUT) {
    problems.push('SESSION_IDLE_TIMEOUT: must not exceed SESSION_ABSOLUTE_TIMEOUT');
  }
  if (e.WS_STALL_TIMEOUT < 1_000) problems.push('WS_STALL_TIMEOUT: must be at least 1s');
  const socketPath = path.resolve(e.TERMINAL_HOST_SOCKET ?? path.join(e.DATA_DIR, 'terminal-host.sock'));
  if (Buffer.byteLength(socketPath) > TERMINAL_HOST_SOCKET_MAX)
    problems.push(
      `TERMINAL_HOST_SOCKET: ${socketPath} is ${Buffer.byteLength(socketPath)} bytes, longer than a Unix socket path may be (${TERMINAL_HOST_SOCKET_MAX}); set a shorter one`,
    );
  if (e.HEARTBEAT_TIMEOUT <= e.HEARTBEAT_INTERVAL) {
    problems.push('HEARTBEAT_TIMEOUT: must be longer than HEARTBEAT_INTERVAL');
  }
  if (e.NODE_HEARTBEAT_INTERVAL < 100) problems.push('NODE_HEARTBEAT_INTERVAL: must be at least 100ms');
  if (e.NODE_UNREACHABLE_AFTER < 2 * e.NODE_HEARTBEAT_INTERVAL) {
    problems.push('NODE_UNREACHABLE_AFTER: must be at least twice NODE_HEARTBEAT_INTERVAL');
  }
  if (e.NODE_LOST_AFTER < e.NODE_UNREACHABLE_AFTER) {
    problems.push('NODE_LOST_AFTER: must not be shorter than NODE_UNREACHABLE_AFTER');
  }
  if (e.NODE_ID !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(e.NODE_ID)) {
    problems.push('NODE_ID: must be 1..63 letters, digits, dots, dashes or underscores');
  }
  const peerSecret = e.PEER_SECRET?.trim() ? e.PEER_SECRET.trim() : undefined;
  if (peerSecret !== undefined && peerSecret.length < 32) {
    problems.push(
      'PEER_SECRET: must be at least 32 characters (the same on every node; e.g. `openssl rand -base64 32`)',
    );
  }
  if ((peerSecret === undefined) !== (e.PEER_URL === undefined)) {
    problems.push(
      'PEER_SECRET and PEER_URL: set both (a node reachable by its peers) or neither (a single node)',
    );
  }
  if (e.PEER_URL !== undefined && !/^https:\/\/[^\s/?#@]+$/.test(e.PEER_URL)) {
    problems.push(
      "PEER_URL: must be https://host:port, how the other nodes reach this node's peer port (e.g. https://10.0.0.2:8081)",
    );
  }
  if (peerSecret !== undefined && (e.JWT_SECRET === undefined || !e.ENCRYPTION_KEY?.trim())) {
    problems.push(
      'PEER_SECRET: nodes that share a database must share JWT_SECRET and ENCRYPTION_KEY too (a token or a saved password from one node must work on every node): set both, the same on every node',
    );
  }
  if (peerSecret !== undefined && !e.DATABASE_URL) {
    problems.push(
      'PEER_SECRET: a peer link needs PostgreSQL (DATABASE_URL); the embedded database serves one node',
    );
  }
  if (e.ADMIN_PASSWORD !== undefined && (e.ADMIN_PASSWORD.length < 8 || e.ADMIN_PASSWORD.length > 1024)) {
    problems.push('ADMIN_PASSWORD: must be 8..1024 characters');
  }
  // An empty value (compose files' `${ENCRYPTION_KEY:-}`) means unset.
  const encryptionKey = e.ENCRYPTION_KEY?.trim() ? decodeKey(e.ENCRYPTION_KEY) : undefined;
  if (encryptionKey === null) {
    problems.push(
      'ENCRYPTION_KEY: must be 32 bytes as 64 hex characters or base64 (e.g. `openssl rand -base64 32`)',
    );
  }
  let netboxCa: string | undefined;
  if (e.NETBOX_CA_FILE?.trim()) {
    try {
      netboxCa = readFileSync(e.NETBOX_CA_FILE.trim(), 'utf8');
      if (!netboxCa.includes('-----BEGIN CERTIFICATE-----')) throw new Error('not PEM');
    } catch {
      problems.push('NETBOX_CA_FILE: must be a readable PEM file of CA certificates');
    }
  }
  if (problems.length) throw new ConfigError(problems);
  jwtSecret ??= persistentValue(dataDir, 'jwt-secret', () => randomBytes(48).toString('base64url'));
  // The node id must be stable across restarts: at start-up this node marks its own leftover
  // terminal rows as lost, so a changing id would leave them "running" forever.
  const nodeId = nodeIdOf(dataDir, e.NODE_ID);

  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    basePath: e.BASE_PATH,
    database: {
      url: e.DATABASE_URL,
      dataDir: path.join(dataDir, 'pglite'),
      statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT,
      lockTimeoutMs: e.DATABASE_LOCK_TIMEOUT,
    },
    dataDir,
    jwt: { secret: jwtSecret, expiresInMs: e.JWT_EXPIRES_IN },
    session: {
      idleTimeoutMs: e.SESSION_IDLE_TIMEOUT,
      absoluteTimeoutMs: e.SESSION_ABSOLUTE_TIMEOUT,
      retentionMs: e.SESSION_RETENTION,
      checkIntervalMs: e.SESSION_CHECK_INTERVAL,
    },
    admin: { username: e.ADMIN_USERNAME, password: e.ADMIN_PASSWORD },
    allowRegistration: e.ALLOW_REGISTRATION,
    login: {
      maxFailures: e.LOGIN_MAX_FAILURES,
      lockoutMs: e.LOGIN_LOCKOUT,
      rateLimit: e.LOGIN_RATE_LIMIT,
      rateWindowMs: e.LOGIN_RATE_WINDOW,
    },
    corsOrigins: e.CORS_ORIGIN,
    limits: {
      maxConnections: e.MAX_CONNECTIONS,
      maxTerminalsPerUser: e.MAX_TERMINALS_PER_USER,
      connectionTimeoutMs: e.CONNECTION_TIMEOUT,
      messageSizeLimit: e.MESSAGE_SIZE_LIMIT,
      heartbeatIntervalMs: e.HEARTBEAT_INTERVAL,
      heartbeatTimeoutMs: e.HEARTBEAT_TIMEOUT,
      wsMaxSocketsPerUser: e.WS_MAX_SOCKETS_PER_USER,
      wsMaxSocketsPerIp: e.WS_MAX_SOCKETS_PER_IP,
      wsMaxPendingPerIp: e.WS_MAX_PENDING_PER_IP,
      wsMessageRate: e.WS_MESSAGE_RATE,
      wsStallTimeoutMs: e.WS_STALL_TIMEOUT,
      terminalBufferBytes: e.TERMINAL_BUFFER_BYTES,
      terminalDetachedTimeoutMs: e.TERMINAL_DETACHED_TIMEOUT,
      terminalEndedRetentionMs: e.TERMINAL_ENDED_RETENTION,
      terminalScrollback: e.TERMINAL_SCROLLBACK,
      terminalScrollbackMax: e.TERMINAL_SCROLLBACK_MAX,
    },
    ssh: {
      allowedTargets: e.SSH_ALLOWED_TARGETS,
      deniedTargets: e.SSH_DENIED_TARGETS,
      keepaliveIntervalMs: e.SSH_KEEPALIVE_INTERVAL,
      keepaliveCountMax: e.SSH_KEEPALIVE_COUNT_MAX,
      openFailuresPerMinute: e.SSH_OPEN_FAILURES_PER_MINUTE,
    },
    encryptionKey: encryptionKey ?? undefined,
    auditRetentionDays: e.AUDIT_RETENTION_DAYS,
    metricsToken: e.METRICS_TOKEN,
    logLevel: e.LOG_LEVEL,
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    webDist: e.WEB_DIST,
    terminalHost: {
      mode: e.TERMINAL_HOST,
      socketPath: path.resolve(e.TERMINAL_HOST_SOCKET ?? path.join(dataDir, 'terminal-host.sock')),
      drainMs: e.TERMINAL_HOST_DRAIN,
      ...(e.TERMINAL_HOST_MEMORY !== undefined ? { memoryMiB: e.TERMINAL_HOST_MEMORY } : {}),
    },
    nodeId,
    peer:
      peerSecret !== undefined && e.PEER_URL !== undefined
        ? { secret: peerSecret, url: e.PEER_URL, host: e.PEER_HOST ?? e.HOST, port: e.PEER_PORT }
        : null,
    cluster: {
      heartbeatIntervalMs: e.NODE_HEARTBEAT_INTERVAL,
      unreachableAfterMs: e.NODE_UNREACHABLE_AFTER,
      lostAfterMs: e.NODE_LOST_AFTER,
    },
    netbox: { url: e.NETBOX_URL, tlsVerify: e.NETBOX_TLS_VERIFY, ca: netboxCa },
  };
}
