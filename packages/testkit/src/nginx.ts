import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './net.ts';

export const NGINX_PATH = '/usr/sbin/nginx';
/** The deployable config; tests run this very file (see its header for the substitutions). */
export const NGINX_CONFIG_PATH = fileURLToPath(new URL('../../../docker/nginx/tether.conf', import.meta.url));

/** Why nginx cannot be started here, or null when it can. */
export function nginxSkipReason(): string | null {
  if (!existsSync(NGINX_PATH)) return `${NGINX_PATH} is missing (apt-get install nginx)`;
  return null;
}

export interface NginxConfigOptions {
  /** Loopback port of the broker (one node on 127.0.0.1), or `upstreams` for several. */
  upstreamPort?: number;
  /** The broker nodes, `host:port` each (the config's `server api-N:8080;` lines). */
  upstreams?: string[];
  /** The broker's BASE_PATH, e.g. `/ssh-ws` (the config's own prefix); `''` for the root. */
  basePath: string;
  /** Loopback port nginx listens on (the config's `listen 80`). */
  listenPort: number;
}

/** docker/nginx/tether.conf with the upstream, listen port and prefix substituted. */
export function renderNginxConfig(
  options: NginxConfigOptions,
  source = readFileSync(NGINX_CONFIG_PATH, 'utf8'),
) {
  const base = options.basePath.replace(/\/+$/, '');
  if (base !== '' && !/^\/[A-Za-z0-9._~\-/]*$/.test(base)) throw new Error(`bad basePath ${base}`);
  const replace = (text: string, from: string | RegExp, to: string | ((...args: string[]) => string)) => {
    const out = text.replace(from, to as never);
    if (out === text) throw new Error(`docker/nginx/tether.conf no longer contains ${String(from)}`);
    return out;
  };
  let conf = source;
  const upstreams = options.upstreams ?? [`127.0.0.1:${options.upstreamPort}`];
  if (upstreams.length === 0 || upstreams.some((u) => !/^[\w.-]+:\d+$/.test(u)))
    throw new Error(`bad upstreams ${upstreams.join(', ')}`);
  conf = replace(
    conf,
    /( *)server api-\d+:8080([^;\n]*);\n(?: *server api-\d+:8080[^;\n]*;\n)*/,
    (_match: string, indent: string, params: string) =>
      upstreams.map((u) => `${indent}server ${u}${params};\n`).join(''),
  );
  conf = replace(conf, /listen 80;/g, `listen 127.0.0.1:${options.listenPort};`);
  if (base === '') {
    // At the root the "/ → prefix" redirect would point at itself.
    conf = replace(conf, /\n\s*location = \/ \{\s*return 302 \/ssh-ws\/;\s*\}\n/, '\n');
  }
  return conf.replace(/\/ssh-ws(?=[/;\s])/g, base);
}

export interface NginxHarness {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** `http://127.0.0.1:<port><basePath>/`: where the app lives behind the proxy. */
  readonly url: string;
  /** The rendered server config (for debugging a failing test). */
  readonly config: string;
  /** nginx's error log and access log so far. */
  logs(): Promise<string>;
  /** Fast shutdown (SIGTERM), then removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Runs Debian's nginx (`/usr/sbin/nginx -c <tmp>/nginx.conf -p <tmp>`) as a throwaway instance
 * in front of a broker, with docker/nginx/tether.conf — the deployable file, not a copy — as its
 * server config, on a free loopback port. No root needed; nothing outside the temp dir is touched.
 *
 * ```ts
 * import { startNginx } from '@tether/testkit';
 * // A broker listening on 127.0.0.1:<apiPort> with BASE_PATH=/ssh-ws and TRUST_PROXY=1:
 * const nginx = await startNginx({ upstreamPort: apiPort, basePath: '/ssh-ws' });
 * await page.goto(nginx.url);            // http://127.0.0.1:<port>/ssh-ws/
 * // … sign in, open a terminal, reload, reattach: all through the proxy …
 * await nginx.stop();
 * ```
 *
 * In Playwright, start the broker (e2e/support/server.ts `startBroker({ basePath: '/ssh-ws',
 * env: { TRUST_PROXY: '1' } })`) and nginx in global setup and use `nginx.url` as `baseURL`.
 * `logs()` returns nginx's error and access logs, worth attaching to a failing test.
 */
export async function startNginx(options: {
  upstreamPort?: number;
  /** Several broker nodes, `host:port` each, round-robin (instead of `upstreamPort`). */
  upstreams?: string[];
  basePath: string;
  /** Defaults to a free port. */
  port?: number;
}): Promise<NginxHarness> {
  const reason = nginxSkipReason();
  if (reason) throw new Error(reason);
  const port = options.port ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), 'tether-nginx-'));
  // As root, nginx's workers run as `nobody`: they must be able to use the temp dirs.
  await chmod(dir, 0o755);
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    await mkdir(join(dir, sub), { mode: 0o777 });
    await chmod(join(dir, sub), 0o777);
  }
  const server = renderNginxConfig({
    ...(options.upstreams ? { upstreams: options.upstreams } : { upstreamPort: options.upstreamPort }),
    basePath: options.basePath,
    listenPort: port,
  });
  await writeFile(join(dir, 'tether.conf'), server);
  await writeFile(
    join(dir, 'nginx.conf'),
    [
      'daemon off;',
      'worker_processes 1;',
      `pid ${join(dir, 'nginx.pid')};`,
      `error_log ${join(dir, 'error.log')} info;`,
      'events { worker_connections 1024; }',
      'http {',
      `  access_log ${join(dir, 'access.log')};`,
      `  client_body_temp_path ${join(dir, 'client_body')};`,
      `  proxy_temp_path ${join(dir, 'proxy')};`,
      `  fastcgi_temp_path ${join(dir, 'fastcgi')};`,
      `  uwsgi_temp_path ${join(dir, 'uwsgi')};`,
      `  scgi_temp_path ${join(dir, 'scgi')};`,
      `  include ${join(dir, 'tether.conf')};`,
      '}',
      '',
    ].join('\n'),
  );

  const child: ChildProcess = spawn(NGINX_PATH, ['-c', join(dir, 'nginx.conf'), '-p', `${dir}/`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopped = false;

  const logs = async () => {
    const read = (f: string) => readFile(join(dir, f), 'utf8').catch(() => '');
    return `${output}${await read('error.log')}\n--- access.log ---\n${await read('access.log')}`;
  };
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      const log = await logs();
      await stop();
      throw new Error(`nginx did not start on port ${port}:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  const origin = `http://127.0.0.1:${port}`;
  return {
    port,
    origin,
    url: `${origin}${options.basePath.replace(/\/+$/, '')}/`,
    config: server,
    logs,
    stop,
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
