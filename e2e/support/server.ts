import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, createWriteStream, existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const API_ENTRY = join(REPO_ROOT, 'apps/api/dist/server.js');
export const WEB_DIST = join(REPO_ROOT, 'apps/web/dist');

/**
 * The node flags of the image's CMD (`CMD ["node", …flags, "dist/server.js"]` in
 * docker/api.Dockerfile): every broker the tests start runs with them, so a flag the image
 * passes is exercised here even though no Docker engine runs in CI.
 */
export const IMAGE_NODE_FLAGS: readonly string[] = (() => {
  const dockerfile = readFileSync(join(REPO_ROOT, 'docker/api.Dockerfile'), 'utf8');
  const cmd = /^CMD\s+(\[.*\])\s*$/m.exec(dockerfile)?.[1];
  const argv = cmd ? (JSON.parse(cmd) as string[]) : [];
  if (argv[0] !== 'node' || argv.at(-1) !== 'dist/server.js')
    throw new Error(`docker/api.Dockerfile: expected CMD ["node", …, "dist/server.js"], got ${cmd}`);
  return argv.slice(1, -1);
})();

export interface BrokerInfo {
  /** Ends in "/" (the app root, including any BASE_PATH). */
  baseURL: string;
  adminUsername: string;
  adminPassword: string;
  dataDir: string;
  logFile: string;
}

export interface RunningBroker extends BrokerInfo {
  pid: number;
  stop(): Promise<void>;
  /**
   * Stops the API process (`SIGKILL`: a crash; `SIGTERM`: a deploy) and starts a new one on the
   * same port, data and secrets. Its terminal host, and the terminals, are not touched.
   */
  restartApi(signal: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /**
   * Starts a new generation of the terminal host (as an upgrade does) and resolves with its pid
   * once it took the socket; the one before drains. `stop()` ends every generation.
   */
  startHostGeneration(): Promise<number>;
  logs(): string;
}

/** The broker image's /app, laid out by docker/assemble.sh in a temp directory. */
export interface ImageTree {
  dir: string;
  remove(): Promise<void>;
}

/** The user the image runs as (`USER node`): here `nobody`, when the tests run as root. */
const UNPRIVILEGED = { uid: 65534, gid: 65534 };

/**
 * Runs docker/assemble.sh — the script api.Dockerfile's build stage runs — into a temp
 * directory: the tree the image ships, to be served by `startBroker({ image })`. Needs the API
 * and web app built. pnpm comes from PNPM, PATH, or npx at the version package.json pins.
 */
export async function assembleImageTree(): Promise<ImageTree> {
  const parent = await mkdtemp(join(tmpdir(), 'tether-image-'));
  // Readable and traversable by the unprivileged user, writable only by the owner (root), as
  // the image's /app is.
  chmodSync(parent, 0o755);
  const dir = join(parent, 'app');
  const pnpm =
    process.env.PNPM ??
    (spawnSync('pnpm', ['--version'], { stdio: 'ignore' }).status === 0
      ? 'pnpm'
      : `npx -y ${JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).packageManager}`);
  const result = spawnSync('sh', [join(REPO_ROOT, 'docker/assemble.sh'), dir], {
    cwd: REPO_ROOT,
    env: { ...process.env, PNPM: pnpm },
    encoding: 'utf8',
    timeout: 240_000,
  });
  if (result.status !== 0) {
    await rm(parent, { recursive: true, force: true });
    throw new Error(
      `docker/assemble.sh failed (${result.status ?? result.signal}):\n${result.stderr.slice(-4000)}`,
    );
  }
  return { dir, remove: () => rm(parent, { recursive: true, force: true }) };
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

/**
 * Starts the built broker (`node apps/api/dist/server.js`) with an embedded PGlite database in a
 * temp DATA_DIR and a random admin password, serving the built SPA. Resolves once /api/health
 * answers.
 */
export async function startBroker(
  opts: { basePath?: string; env?: Record<string, string>; image?: ImageTree } = {},
): Promise<RunningBroker> {
  // From an image tree: its own code, modules and web app, run from /app's equivalent as an
  // unprivileged user that can write only DATA_DIR — as the container runs it.
  const entry = opts.image ? join(opts.image.dir, 'dist/server.js') : API_ENTRY;
  const webDist = opts.image ? join(opts.image.dir, 'web') : WEB_DIST;
  const asUser = opts.image && process.getuid?.() === 0 ? UNPRIVILEGED : undefined;
  if (!existsSync(entry))
    throw new Error(`${entry} is missing: build the API first (pnpm --filter @tether/api build)`);
  if (!existsSync(join(webDist, 'index.html')))
    throw new Error(`${webDist} is missing: build the web app first`);

  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'tether-e2e-'));
  if (asUser) chownSync(dataDir, asUser.uid, asUser.gid);
  const logFile = join(dataDir, 'broker.log');
  const adminPassword = `e2e-${randomBytes(12).toString('base64url')}`;
  const basePath = (opts.basePath ?? '').replace(/\/+$/, '');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    BASE_PATH: basePath,
    DATA_DIR: dataDir,
    JWT_SECRET: randomBytes(48).toString('base64url'),
    ADMIN_USERNAME: 'admin',
    ADMIN_PASSWORD: adminPassword,
    WEB_DIST: webDist,
    LOG_LEVEL: process.env.TETHER_E2E_LOG_LEVEL ?? 'info',
    // Every test signs in several times; the per-IP login limit is tested in the API suite.
    LOGIN_RATE_LIMIT: '10000',
    // The throwaway sshd listens on loopback, which the default policy denies.
    SSH_ALLOWED_TARGETS: '127.0.0.0/8',
    ...opts.env,
  };

  const log = createWriteStream(logFile, { flags: 'a' });
  let child!: ChildProcess;
  let exited: string | null = null;
  const baseURL = `http://127.0.0.1:${port}${basePath}/`;
  const logs = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const launch = async () => {
    exited = null;
    child = spawn(process.execPath, [...IMAGE_NODE_FLAGS, entry], {
      env,
      cwd: opts.image?.dir ?? REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...asUser,
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.once('exit', (code, signal) => {
      exited = `exited with ${code ?? signal}`;
    });
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (exited) throw new Error(`broker ${exited} during start-up:\n${logs().slice(-4000)}`);
      try {
        const res = await fetch(`${baseURL}api/health`);
        if (res.ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`broker did not become healthy within 60 s:\n${logs().slice(-4000)}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  await launch();

  const stopApi = async (signal: 'SIGKILL' | 'SIGTERM') => {
    if (exited) return;
    const done = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 8_000);
    await done;
    clearTimeout(timer);
  };

  const generations: number[] = [];
  const stop = async () => {
    await stopApi('SIGTERM');
    await stopTerminalHost(dataDir);
    for (const pid of generations) await stopPid(pid);
    log.end();
    if (!process.env.TETHER_E2E_KEEP) await rm(dataDir, { recursive: true, force: true });
  };

  return {
    baseURL,
    adminUsername: 'admin',
    adminPassword,
    dataDir,
    logFile,
    get pid() {
      return child.pid ?? -1;
    },
    stop,
    async restartApi(signal) {
      await stopApi(signal);
      await launch();
    },
    async startHostGeneration() {
      const before = readPid(dataDir);
      if (before) generations.push(before);
      // As compose runs a host: the image's node flags.
      const host = spawn(process.execPath, [...IMAGE_NODE_FLAGS, join(REPO_ROOT, 'apps/host/dist/main.js')], {
        // What the host reads: none of the API's secrets.
        env: Object.fromEntries(
          Object.entries(env).filter(
            ([k, v]) => v !== undefined && !['PORT', 'JWT_SECRET', 'ADMIN_PASSWORD'].includes(k),
          ),
        ),
        cwd: REPO_ROOT,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        ...asUser,
      });
      host.stdout?.pipe(log, { end: false });
      host.stderr?.pipe(log, { end: false });
      host.unref();
      generations.push(host.pid!);
      const deadline = Date.now() + 15_000;
      while (readPid(dataDir) !== host.pid) {
        if (Date.now() > deadline)
          throw new Error(`the new host generation did not start:\n${logs().slice(-4000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return host.pid!;
    },
    logs,
  };
}

/**
 * The broker started its terminal host (TERMINAL_HOST=spawn), detached, so that it outlives the
 * broker: end it too, as an operator would (README: Terminal host), and wait until it is gone.
 */
async function stopTerminalHost(dataDir: string): Promise<void> {
  const pid = readPid(dataDir);
  if (pid) await stopPid(pid);
}

function readPid(dataDir: string): number | null {
  const pidFile = join(dataDir, 'terminal-host.pid');
  if (!existsSync(pidFile)) return null;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8'), 10);
  return pid > 0 ? pid : null;
}

async function stopPid(pid: number): Promise<void> {
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + 8_000;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (alive()) process.kill(pid, 'SIGKILL');
}
