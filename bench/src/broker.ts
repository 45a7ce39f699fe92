import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort } from '@tether/testkit';
import { cpuMs, sleep, withTimeout } from './stats.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const API_DIR = join(ROOT, 'apps/api');
const SERVER_JS = join(API_DIR, 'dist/server.js');
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
}

export interface Broker {
  readonly url: string;
  readonly pid: number;
  readonly dataDir: string;
  /** VmRSS of the broker: the API process plus its terminal host, from /proc, in bytes. */
  rss(): number;
  /** CPU time (user + system) of the API process plus its terminal host so far, in ms. */
  cpuMs(): number;
  /** The terminal host the API started (TERMINAL_HOST=spawn), once it runs. */
  hostPid(): number | null;
  /** Stops the API process and starts a new one on the same port and data (the host stays). */
  restartApi(signal: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  lagReset(): Promise<void>;
  lagRead(): Promise<LagReading>;
  /** Full GC in the broker (bench preload), then VmRSS. */
  settledRss(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts `node apps/api/dist/server.js` in production mode on a loopback port with a throwaway
 * DATA_DIR (embedded PGlite). Limits meant for humans (login rate, terminal caps) are raised
 * through the environment; everything else keeps its production default.
 */
export async function startBroker(options: {
  tmpDir: string;
  env?: Record<string, string>;
  nodeArgs?: string[];
}): Promise<Broker> {
  const port = await freePort();
  const dataDir = join(options.tmpDir, `broker-${randomBytes(4).toString('hex')}`);
  const logPath = `${dataDir}.log`;
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
    ...options.env,
  };
  let child!: ChildProcess;
  let exited!: Promise<void>;
  let exitedEarly = false;
  const url = `http://127.0.0.1:${port}`;
  /** Starts the API process and waits until it answers (again, after restartApi). */
  const launch = async () => {
    const logFd = openSync(logPath, 'a');
    child = spawn(
      process.execPath,
      ['--expose-gc', '--no-memory-reducer', ...(options.nodeArgs ?? []), '--import', PRELOAD, SERVER_JS],
      {
        cwd: API_DIR,
        env,
        stdio: ['ignore', logFd, logFd, 'ipc'],
      },
    );
    closeSync(logFd);
    const running = child;
    exitedEarly = false;
    exited = new Promise<void>((r) => running.once('exit', () => r()));
    void exited.then(() => {
      if (child === running) exitedEarly = true;
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
        child.kill('SIGKILL');
        throw new Error(`broker did not become healthy in 60 s; log: ${logPath}\n${tail(logPath)}`);
      }
      await sleep(25);
    }
  };
  await launch();

  const hostPidFile = join(dataDir, 'terminal-host.pid');
  const hostPid = (): number | null => {
    try {
      const pid = Number.parseInt(readFileSync(hostPidFile, 'utf8'), 10);
      return pid > 0 && existsSync(`/proc/${pid}`) ? pid : null;
    } catch {
      return null;
    }
  };

  let nextId = 1;
  const ipc = <T>(cmd: string): Promise<T> => {
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

  return {
    url,
    get pid() {
      return child.pid!;
    },
    dataDir,
    async restartApi(signal: 'SIGKILL' | 'SIGTERM') {
      const gone = exited;
      child.kill(signal);
      await gone;
      await launch();
    },
    rss: () => readRss(child.pid!) + (hostPid() ? readRss(hostPid()!) : 0),
    cpuMs: () => cpuMs(child.pid!) + (hostPid() ? cpuMs(hostPid()!) : 0),
    hostPid,
    lagReset: async () => {
      await ipc('lag-reset');
    },
    lagRead: () => ipc<LagReading>('lag-read'),
    async settledRss() {
      await ipc('gc');
      await sleep(500);
      return readRss(child.pid!) + (hostPid() ? readRss(hostPid()!) : 0);
    },
    async stop() {
      const host = hostPid();
      if (!exitedEarly) {
        child.kill('SIGTERM');
        try {
          await withTimeout(exited, 20_000, 'broker shutdown');
        } catch {
          child.kill('SIGKILL');
          await withTimeout(exited, 5_000, 'broker kill');
        }
      }
      // The terminal host outlives the API by design: end it too.
      if (host) {
        try {
          process.kill(host, 'SIGTERM');
        } catch {
          return;
        }
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline && existsSync(`/proc/${host}`)) await sleep(50);
        if (existsSync(`/proc/${host}`)) process.kill(host, 'SIGKILL');
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
