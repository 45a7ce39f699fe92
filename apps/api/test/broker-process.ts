import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sharedSecret } from '@tether/host/config';
import { HostConnection } from '@tether/host-protocol';
import { freePort, type SshdHarness } from '@tether/testkit';
import { ADMIN } from './helpers.js';
import type { TestTerminalClient } from './ws-client.js';

const API_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface BrokerProcess {
  child: ChildProcess;
  base: string;
  port: number;
  dataDir: string;
  output(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** Resolves once /api/health answers 200; rejects if the process exits first or after `timeoutMs`. */
  healthy(timeoutMs?: number): Promise<void>;
}

/** The real entry point (src/server.ts: listen + signal handling) in its own process, not yet waited for. */
export async function spawnBroker(env: Record<string, string | undefined> = {}): Promise<BrokerProcess> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const dataDir = `/tmp/tether-broker-${randomBytes(6).toString('hex')}`;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: API_ROOT,
    // An `undefined` in `env` leaves that variable unset (the broker's default applies).
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: dataDir,
      JWT_SECRET: randomBytes(32).toString('hex'),
      ADMIN_PASSWORD: ADMIN.password,
      // The throwaway sshd listens on loopback, which the default policy denies.
      SSH_ALLOWED_TARGETS: '127.0.0.0/8',
      // A terminal host inside the broker unless a test asks for its own process (spawn).
      TERMINAL_HOST: 'embedded',
      LOG_LEVEL: 'info',
      WEB_DIST: '/nonexistent',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const base = `http://${env.HOST ?? '127.0.0.1'}:${port}${env.BASE_PATH ?? ''}`;
  const healthy = async (timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer';
    for (;;) {
      if (child.exitCode !== null) throw new Error(`broker exited during start-up:\n${out}`);
      try {
        const res = await fetch(`${base}/api/health`, { signal: AbortSignal.timeout(5_000) });
        if (res.ok) return;
        last = `${res.status} ${await res.text()}`;
      } catch (err) {
        last = `${(err as Error).message} ${String((err as { cause?: Error }).cause?.message ?? '')}`; // not listening yet
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`broker did not start (health: ${last}):\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  return { child, base, port, dataDir, output: () => out, exit, healthy };
}

/** Starts the real server process and waits until it answers. */
export async function startBroker(env: Record<string, string | undefined> = {}): Promise<BrokerProcess> {
  const broker = await spawnBroker(env);
  await broker.healthy();
  return broker;
}

/** Kills whatever is still running of `brokers` and removes their data directories (afterAll). */
export function stopBrokers(brokers: BrokerProcess[]): void {
  for (const b of brokers.splice(0)) {
    if (b.child.exitCode === null && b.child.signalCode === null) b.child.kill('SIGKILL');
    rmSync(b.dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

/** The pid of the terminal host serving `dataDir` (it says so when one connects). */
export async function hostPid(dataDir: string): Promise<number> {
  const conn = await HostConnection.connect(`${dataDir}/terminal-host.sock`, sharedSecret(dataDir));
  conn.close();
  return conn.welcome.pid;
}

/** `open` for the test sshd with its password. */
export function openMessage(sshd: SshdHarness, extra: { input?: { stream: string } } = {}) {
  return {
    type: 'open' as const,
    target: { host: sshd.host, port: sshd.port, username: sshd.username },
    auth: { method: 'password' as const, password: sshd.password },
    cols: 100,
    rows: 30,
    ...extra,
  };
}

/** Opens a shell on the test sshd, accepting its host key if this user has not yet. */
export async function openShell(c: TestTerminalClient, sshd: SshdHarness): Promise<string> {
  c.send(openMessage(sshd));
  await c.waitFor(() => c.of('ready').length > 0 || c.of('hostkey_prompt').length > 0, 15_000, 'ready');
  if (c.of('ready').length === 0) c.send({ type: 'hostkey_decision', accept: true });
  const { terminalId } = await c.waitForMessage('ready', 15_000);
  return terminalId;
}
