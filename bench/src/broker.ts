import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort } from '@tether/testkit';
import { BROKER_NODE_FLAGS } from '../../apps/api/src/system/node-flags.ts';
import { cpuMs, sleep, wakeups, withTimeout } from './stats.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const API_DIR = join(ROOT, 'apps/api');
const SERVER_JS = join(API_DIR, 'dist/server.js');
const HOST_JS = join(ROOT, 'apps/host/dist/main.js');
const PRELOAD = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'lag-preload.mjs')).href;
export const FINGERPRINT_COOKIE = 'tether_fp';
export const ADMIN = { username: 'admin', password: 'bench-Admin-Password-1' };

/**
 * Builds the broker (and its workspace dependencies) through Turborepo. Turbo hashes the
 * sources, so an up-to-date dist costs a cache check and a stale one is never benchmarked.
 */
export function buildBroker(log: (line: string) => void): void {
  const turbo = join(ROOT, 'node_modules/.bin/turbo');
  log('building @tether/api (turbo; cached when unchanged)…');
  const r = spawnSync(turbo, ['run', 'build', '--filter=@tether/api', '--output-logs=errors-only'], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 300_000,
  });
  if (r.status !== 0 || !existsSync(SERVER_JS))
    throw new Error(`build failed (exit ${r.status}); try \`pnpm build\``);
}

export function distMissing(): boolean {
  return !existsSync(SERVER_JS);
}

export interface LagReading {
  lag: { p50: number; p99: number; max: number; mean: number; count: number };
  memory: { rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number };
  /** Collections since the last lag-reset, and the main thread's pauses for them. */
  gc: { full: number; fullPauseMs: number; young: number; youngPauseMs: number };
}

export interface Broker {
  readonly url: string;
  readonly pid: number;
  readonly dataDir: string;
  /** VmRSS of the broker: the API process plus its terminal host, from /proc, in bytes. */
  rss(): number;
  /** CPU time (user + system) of the API process plus its terminal host so far, in ms. */
  cpuMs(): number;
  /** The same, split by process (host 0 with TERMINAL_HOST=embedded). */
  cpuMsByProcess(): { api: number; host: number };
  /** Voluntary context switches of each process's main thread (`wakeups`). */
  wakeupsByProcess(): { api: number; host: number };
  /** The broker's terminal host process (null with TERMINAL_HOST=embedded). */
  hostPid(): number | null;
  /** Stops the API process and starts a new one on the same port and data (the host stays). */
  restartApi(signal: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** Resets the event-loop delay histograms of the API and the host. */
  lagReset(): Promise<void>;
  lagRead(): Promise<LagReading>;
  /** The terminal host's reading (null with TERMINAL_HOST=embedded). */
  hostLagRead(): Promise<LagReading | null>;
  /** Full GC in the API and the host (bench preload), then VmRSS of both. */
  settledRss(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts `node apps/api/dist/server.js` in production mode on a loopback port with a throwaway
 * DATA_DIR (embedded PGlite), and its terminal host `node apps/host/dist/main.js` beside it
 * (TERMINAL_HOST=external: the bench starts the host itself, as compose or systemd do, so that
 * the host gets the same bench flags and preload as the API — profiles, GC traces and event-loop
 * lag of both processes). `TERMINAL_HOST: 'embedded'` in `env` runs the one-process broker.
 * Limits meant for humans (login rate, terminal caps) are raised through the environment;
 * everything else keeps its production default.
 */
export async function startBroker(options: {
  tmpDir: string;
  env?: Record<string, string>;
  nodeArgs?: string[];
}): Promise<Broker> {
  const port = await freePort();
  const dataDir = join(options.tmpDir, `broker-${randomBytes(4).toString('hex')}`);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const logPath = `${dataDir}.log`;
  const hostLogPath = `${dataDir}-host.log`;
  const embedded = options.env?.TERMINAL_HOST === 'embedded';
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATA_DIR: dataDir,
    JWT_SECRET: randomBytes(32).toString('hex'),
    ADMIN_USERNAME: ADMIN.username,
    ADMIN_PASSWORD: ADMIN.password,
    LOG_LEVEL: 'info',
    // Every target is on loopback; nothing else may be reached.
    SSH_ALLOWED_TARGETS: '127.0.0.0/8',
    LOGIN_RATE_LIMIT: '100000',
    LOGIN_MAX_FAILURES: '1000',
    MAX_TERMINALS_PER_USER: '20000',
    MAX_CONNECTIONS: '20000',
    // 5,000 sockets of one user from one address (many terminals).
    WS_MAX_SOCKETS_PER_USER: '20000',
    WS_MAX_SOCKETS_PER_IP: '20000',
    TERMINAL_HOST: 'external',
    ...options.env,
  };
  // The broker's own V8 flags, as the product starts it, then the bench's.
  const nodeArgs = ['--expose-gc', ...BROKER_NODE_FLAGS, ...(options.nodeArgs ?? []), '--import', PRELOAD];

  /** A bench child: the API or the host, with the lag preload answering on its IPC channel. */
  const startChild = (script: string, path: string, childEnv: Record<string, string>) => {
    const logFd = openSync(path, 'a');
    const child = spawn(process.execPath, [...nodeArgs, script], {
      cwd: dirname(dirname(script)),
      env: childEnv,
      stdio: ['ignore', logFd, logFd, 'ipc'],
    });
    closeSync(logFd);
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    return { child, exited };
  };

  let host: ReturnType<typeof startChild> | null = null;
  if (!embedded) {
    // Only what the host reads (as TERMINAL_HOST=spawn passes it): none of the API's secrets.
    const hostEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) {
      if (!['JWT_SECRET', 'ADMIN_USERNAME', 'ADMIN_PASSWORD', 'DATABASE_URL', 'PORT', 'HOST'].includes(k))
        hostEnv[k] = v;
    }
    host = startChild(HOST_JS, hostLogPath, hostEnv);
    const socket = join(dataDir, 'terminal-host.sock');
    const deadline = Date.now() + 30_000;
    while (!existsSync(socket)) {
      if (host.child.exitCode !== null)
        throw new Error(`terminal host exited during start-up; log: ${hostLogPath}\n${tail(hostLogPath)}`);
      if (Date.now() > deadline) throw new Error(`terminal host did not listen in 30 s; log: ${hostLogPath}`);
      await sleep(25);
    }
  }

  let api!: ReturnType<typeof startChild>;
  let exitedEarly = false;
  const url = `http://127.0.0.1:${port}`;
  /** Starts the API process and waits until it answers (again, after restartApi). */
  const launch = async () => {
    api = startChild(SERVER_JS, logPath, env);
    const running = api;
    exitedEarly = false;
    void running.exited.then(() => {
      if (api === running) exitedEarly = true;
    });
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (exitedEarly) throw new Error(`broker exited during start-up; log: ${logPath}\n${tail(logPath)}`);
      try {
        const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(2_000) });
        if (res.status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        running.child.kill('SIGKILL');
        throw new Error(`broker did not become healthy in 60 s; log: ${logPath}\n${tail(logPath)}`);
      }
      await sleep(25);
    }
  };
  try {
    await launch();
  } catch (err) {
    host?.child.kill('SIGKILL');
    throw err;
  }

  const hostPid = (): number | null =>
    host && host.child.exitCode === null && host.child.signalCode === null ? host.child.pid! : null;

  let nextId = 1;
  const ipc = <T>(child: ChildProcess, cmd: string): Promise<T> => {
    const benchId = nextId++;
    return withTimeout(
      new Promise<T>((resolveMsg) => {
        const onMessage = (msg: { benchId?: number }) => {
          if (msg?.benchId !== benchId) return;
          child.off('message', onMessage);
          resolveMsg(msg as T);
        };
        child.on('message', onMessage);
        child.send({ cmd, benchId });
      }),
      10_000,
      `broker IPC ${cmd}`,
    );
  };
  const both = () => [api.child, ...(hostPid() ? [host!.child] : [])];
  const pids = () => [api.child.pid!, ...(hostPid() ? [hostPid()!] : [])];

  return {
    url,
    get pid() {
      return api.child.pid!;
    },
    dataDir,
    async restartApi(signal: 'SIGKILL' | 'SIGTERM') {
      const gone = api.exited;
      api.child.kill(signal);
      await gone;
      await launch();
    },
    rss: () => pids().reduce((s, pid) => s + readRss(pid), 0),
    cpuMs: () => pids().reduce((s, pid) => s + cpuMs(pid), 0),
    cpuMsByProcess: () => ({ api: cpuMs(api.child.pid!), host: hostPid() ? cpuMs(hostPid()!) : 0 }),
    wakeupsByProcess: () => ({ api: wakeups(api.child.pid!), host: hostPid() ? wakeups(hostPid()!) : 0 }),
    hostPid,
    lagReset: async () => {
      await Promise.all(both().map((c) => ipc(c, 'lag-reset')));
    },
    lagRead: () => ipc<LagReading>(api.child, 'lag-read'),
    hostLagRead: async () => (hostPid() ? ipc<LagReading>(host!.child, 'lag-read') : null),
    async settledRss() {
      await Promise.all(both().map((c) => ipc(c, 'gc')));
      await sleep(500);
      return pids().reduce((s, pid) => s + readRss(pid), 0);
    },
    async stop() {
      if (!exitedEarly) {
        api.child.kill('SIGTERM');
        try {
          await withTimeout(api.exited, 20_000, 'broker shutdown');
        } catch {
          api.child.kill('SIGKILL');
          await withTimeout(api.exited, 5_000, 'broker kill');
        }
      }
      // The terminal host outlives the API by design: end it too (SIGTERM ends its terminals;
      // with --cpu-prof it writes its profile on that exit).
      if (host && hostPid()) {
        host.child.kill('SIGTERM');
        try {
          await withTimeout(host.exited, 10_000, 'terminal host shutdown');
        } catch {
          host.child.kill('SIGKILL');
        }
      }
    },
  };
}

export function readRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) * 1024;
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '';
  }
}

export interface Login {
  token: string;
  cookie: string;
  userId: string;
}

/** POST /api/auth/login as a browser would; returns the token and the fingerprint cookie. */
export async function login(url: string, username: string, password: string): Promise<Login> {
  const res = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'tether-bench' },
    body: JSON.stringify({ username, password }),
    signal: AbortSignal.timeout(30_000),
  });
  if (res.status !== 200) throw new Error(`login ${username}: HTTP ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { token: string; user: { id: string } };
  const fp = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith(`${FINGERPRINT_COOKIE}=`));
  if (!fp) throw new Error('login: no fingerprint cookie');
  return { token: body.token, cookie: fp, userId: body.user.id };
}

export async function api(
  url: string,
  session: Login,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${session.token}`,
      cookie: session.cookie,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

/** Creates a user through the admin API (idempotent for the bench: 409 is fine). */
export async function createUser(
  url: string,
  admin: Login,
  username: string,
  password: string,
): Promise<void> {
  const r = await api(url, admin, 'POST', '/api/admin/users', { username, password, role: 'user' });
  if (r.status !== 201 && r.status !== 409) throw new Error(`create user ${username}: HTTP ${r.status}`);
}
