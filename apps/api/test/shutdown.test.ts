import { CloseCode } from '@tether/protocol';
import { type SshdHarness, sshdSkipReason, startSshd } from '@tether/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/index.js';
import { createTerminalsRepo } from '../src/persistence/terminals-repo.js';
import { type BrokerProcess, startBroker, stopBrokers } from './broker-process.js';
import { HttpBrowser } from './http-browser.js';
import { TestTerminalClient } from './ws-client.js';

const skip = sshdSkipReason();
if (skip && process.env.CI) throw new Error(`sshd tests cannot run in CI: ${skip}`);

describe.skipIf(skip)('graceful shutdown of the real server process', () => {
  let sshd: SshdHarness;
  const started: BrokerProcess[] = [];

  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    stopBrokers(started);
    await sshd?.stop();
  });

  it('SIGTERM closes sockets with SERVER_RESTARTING, ends SSH sessions, records them and exits 0 promptly', async () => {
    const broker = await startBroker();
    started.push(broker);
    const b = new HttpBrowser(`${broker.base}/`);
    expect((await b.login()).status).toBe(200);
    const c = await TestTerminalClient.authed(broker.base, b);
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

  it('a client that never answers the close handshake does not hold the shutdown', async () => {
    const broker = await startBroker();
    started.push(broker);
    const b = new HttpBrowser(`${broker.base}/`);
    expect((await b.login()).status).toBe(200);
    const c = await TestTerminalClient.authed(broker.base, b);
    // Frozen (or gone without a FIN): it will never read the close frame nor send its own.
    c.stopReading();
    const signalledAt = Date.now();
    broker.child.kill('SIGTERM');
    const exit = await broker.exit;
    expect(exit.code).toBe(0);
    expect(exit.at - signalledAt).toBeLessThan(5_000);
    expect(broker.output()).not.toMatch(/shutdown timed out/);
    c.terminateAbruptly();
  });

  it('clients that reconnect the moment they hear 1012 (as browsers do) do not hold the shutdown', async () => {
    const broker = await startBroker();
    started.push(broker);
    const b = new HttpBrowser(`${broker.base}/`);
    expect((await b.login()).status).toBe(200);
    const clients = await Promise.all(
      Array.from({ length: 3 }, () => TestTerminalClient.authed(broker.base, b)),
    );
    let exited = false;
    void broker.exit.then(() => {
      exited = true;
    });
    const retries: TestTerminalClient[] = [];
    const reconnect = async (c: TestTerminalClient) => {
      await c.waitForClose(10_000);
      while (!exited) {
        const again = new TestTerminalClient(broker.base, b);
        retries.push(again);
        await Promise.race([again.opened, again.waitForClose(2_000)]).catch(() => {});
        await again.waitForClose(2_000).catch(() => {});
      }
    };
    const loops = clients.map(reconnect);
    broker.child.kill('SIGTERM');
    const exit = await broker.exit;
    await Promise.all(loops);
    expect(exit.code).toBe(0);
    const took = Number(/"ms":(\d+)[^\n]*"msg":"shut down"/.exec(broker.output())?.[1]);
    // Refused upgrades are cut 100 ms after the close begins; before, each held it for 1 s.
    expect(took).toBeLessThan(600);
    for (const r of retries) r.terminateAbruptly();
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
