import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './net.ts';

export interface TestPostgres {
  /** postgres://… URL of a fresh database on the throwaway cluster. */
  url: string;
  port: number;
  /** Creates another empty database on the same cluster and returns its URL. */
  createDatabase(name: string): string;
  /** Stops the server (fast shutdown) without deleting data: for "database went away" tests. */
  pause(): void;
  /** Starts it again on the same port. */
  resume(): void;
  stop(): void;
}

function pgBinDir(): string {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) {
    throw new Error(
      'PostgreSQL is not installed (expected /usr/lib/postgresql/*/bin); run scripts/install-test-deps.sh',
    );
  }
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  if (!versions[0]) throw new Error('no PostgreSQL server binaries found under /usr/lib/postgresql');
  return path.join(root, versions[0], 'bin');
}

/**
 * Starts a throwaway PostgreSQL cluster on a free loopback port. PostgreSQL refuses to run as
 * root, so as root the cluster runs as the `postgres` system user (created by Debian's package).
 */
export async function startPostgres(): Promise<TestPostgres> {
  const bin = pgBinDir();
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(path.join(tmpdir(), 'tether-pg-'));
  const dataDir = path.join(dir, 'data');
  const port = await freePort();
  const run = (cmd: string, args: string[]) => {
    const full = path.join(bin, cmd);
    const result = asRoot
      ? spawnSync('runuser', ['-u', 'postgres', '--', full, ...args], { encoding: 'utf8' })
      : spawnSync(full, args, { encoding: 'utf8' });
    if (result.status !== 0) {
      throw new Error(`${cmd} failed (${result.status}): ${result.stderr || result.stdout}`);
    }
    return result.stdout;
  };
  if (asRoot) {
    chmodSync(dir, 0o755);
    execFileSync('chown', ['postgres:postgres', dir]);
  }
  run('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const opts = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  const start = () =>
    run('pg_ctl', ['-D', dataDir, '-o', opts, '-l', path.join(dir, 'log'), '-w', '-t', '30', 'start']);
  const stopServer = (mode: 'fast' | 'immediate') => {
    try {
      run('pg_ctl', ['-D', dataDir, '-m', mode, '-w', 'stop']);
    } catch {
      // already stopped
    }
  };
  start();
  const createDatabase = (name: string) => {
    run('psql', [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-U',
      'postgres',
      '-qc',
      `CREATE DATABASE "${name}"`,
    ]);
    return `postgres://postgres@127.0.0.1:${port}/${name}`;
  };
  const url = createDatabase('tether_test');
  return {
    url,
    port,
    createDatabase,
    pause: () => stopServer('fast'),
    resume: start,
    stop() {
      stopServer('immediate');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
