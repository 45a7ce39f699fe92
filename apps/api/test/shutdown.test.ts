import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CloseCode } from '@tether/protocol';
import { freePort, type SshdHarness, sshdSkipReason, startSshd } from '@tether/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/index.js';
import { createTerminalsRepo } from '../src/persistence/terminals-repo.js';
import { ADMIN } from './helpers.js';
import { HttpBrowser } from './http-browser.js';
import { TestTerminalClient } from './ws-client.js';

const skip = sshdSkipReason();
if (skip && process.env.CI) throw new Error(`sshd tests cannot run in CI: ${skip}`);

const API_ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Broker {
  child: ChildProcess;
  base: string;
  dataDir: string;
  output(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/** The real entry point (src/server.ts: listen + signal handling) in its own process. */
async function startBroker(): Promise<Broker> {
  const port = await freePort();
  const dataDir = `/tmp/tether-shutdown-${randomBytes(6).toString('hex')}`;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: API_ROOT,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: dataDir,
      JWT_SECRET: randomBytes(32).toString('hex'),
      ADMIN_PASSWORD: ADMIN.password,
      LOG_LEVEL: 'info',
      WEB_DIST: '/nonexistent',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`broker exited during start-up:\n${out}`);
    try {
      if ((await fetch(`${base}/api/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`broker did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, base, dataDir, output: () => out, exit };
}

describe.skipIf(skip)('graceful shutdown of the real server process', () => {
  let sshd: SshdHarness;
  const started: Broker[] = [];

  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    for (const b of started) {
      if (b.child.exitCode === null && b.child.signalCode === null) b.child.kill('SIGKILL');
      rmSync(b.dataDir, { recursive: true, force: true });
    }
    await sshd?.stop();
  });

  it('SIGTERM closes sockets with SERVER_RESTARTING, ends SSH sessions, records them and exits 0 promptly', async () => {
    const broker = await startBroker();
    started.push(broker);
    const b = new HttpBrowser(`${broker.base}/`);
    expect((await b.login()).status).toBe(200);
    const c = new TestTerminalClient(broker.base, b);
    await c.opened;
    c.send({ type: 'auth', token: b.token! });
    await c.waitForMessage('authenticated');
    c.send({
      type: 'open',
      target: { host: sshd.host, port: sshd.port, username: sshd.username },
      auth: { method: 'password', password: sshd.password },
      cols: 80,
      rows: 24,
    });
    await c.waitForMessage('hostkey_prompt', 15_000);
    c.send({ type: 'hostkey_decision', accept: true });
    const { terminalId } = await c.waitForMessage('ready', 15_000);
    await c.waitForText('$ ');

    const signalledAt = Date.now();
    broker.child.kill('SIGTERM');
    const closed = await c.waitForClose(10_000);
    expect(closed.code).toBe(CloseCode.SERVER_RESTARTING);
    const exit = await broker.exit;
    expect(exit.code).toBe(0);
    // Well inside the 10 s grace period: nothing was left hanging.
    expect(exit.at - signalledAt).toBeLessThan(5_000);
    expect(broker.output()).toMatch(/"msg":"shutting down"/);
    expect(broker.output()).not.toMatch(/shutdown timed out|error during shutdown/);

    // The database was closed cleanly with the terminal's end written first.
    const db = await openDatabase({ dataDir: `${broker.dataDir}/pglite` });
    try {
      const row = await createTerminalsRepo(db.db).findById(terminalId);
      expect(row).toMatchObject({ status: 'lost', endReason: expect.stringMatching(/shut down/) });
    } finally {
      await db.close();
    }
  });

  it('a second signal during shutdown exits at once', async () => {
    const broker = await startBroker();
    started.push(broker);
    // Two different signals: identical pending signals may be merged by the kernel.
    broker.child.kill('SIGTERM');
    broker.child.kill('SIGINT');
    const exit = await broker.exit;
    expect(exit.code).toBe(1);
    expect(broker.output()).toMatch(/second signal: exiting immediately/);
  });
});
