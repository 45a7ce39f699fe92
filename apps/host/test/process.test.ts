import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HostConnection } from '@tether/host-protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { sharedSecret } from '../src/config.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function start(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: path.join(import.meta.dirname, '..'),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, exited, output: () => output };
}

async function waitFor(predicate: () => boolean, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('terminal host process', () => {
  it('serves DATA_DIR/terminal-host.sock with the shared secret, and stops on SIGTERM', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tether-hostproc-'));
    dirs.push(dir);
    const host = start({ DATA_DIR: dir });
    const socketPath = path.join(dir, 'terminal-host.sock');
    await waitFor(
      () => existsSync(socketPath) && host.output().includes('terminal host listening'),
      'socket',
    );
    const conn = await HostConnection.connect(socketPath, sharedSecret(dir));
    expect(conn.welcome.pid).toBe(host.child.pid);
    expect(readFileSync(path.join(dir, 'terminal-host.pid'), 'utf8').trim()).toBe(String(host.child.pid));
    await expect(conn.request({ t: 'ping' })).resolves.toBeNull();
    host.child.kill('SIGTERM');
    expect(await host.exited).toBe(0);
    expect(existsSync(socketPath)).toBe(false);
    expect(existsSync(path.join(dir, 'terminal-host.pid'))).toBe(false);
    // Log lines are JSON and never carry the secret.
    expect(host.output()).not.toContain(sharedSecret(dir));
  });

  it('refuses to start with an invalid setting, saying which', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tether-hostproc-'));
    dirs.push(dir);
    const host = start({ DATA_DIR: dir, MAX_CONNECTIONS: 'lots' });
    expect(await host.exited).toBe(1);
    expect(host.output()).toMatch(/fatal: MAX_CONNECTIONS/);
  });
});
