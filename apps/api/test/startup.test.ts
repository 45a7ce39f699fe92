import { execFileSync } from 'node:child_process';
import { freePort } from '@tether/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { type BrokerProcess, spawnBroker, stopBrokers } from './broker-process.js';

/** The pid of the child that creates the embedded database for `dataDir`, once it exists. */
async function waitForPgliteInit(dataDir: string, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const out = execFileSync('pgrep', ['-f', `pglite-init.mjs ${dataDir}/pglite`], { encoding: 'utf8' });
      const pid = Number(out.trim().split('\n')[0]);
      if (pid) return pid;
    } catch {
      // not running yet (pgrep exits 1)
    }
    if (Date.now() > deadline) throw new Error('the embedded database was never created');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('start-up of the real server process', () => {
  const started: BrokerProcess[] = [];
  afterAll(() => {
    stopBrokers(started);
  });

  it('starts even when creating the embedded database takes longer than a plugin may', async () => {
    const broker = await spawnBroker();
    started.push(broker);
    // A slow or busy machine, made deterministic: the initdb child is frozen past Fastify's
    // 10 s plugin timeout, then let go.
    const pid = await waitForPgliteInit(broker.dataDir);
    process.kill(pid, 'SIGSTOP');
    await new Promise((r) => setTimeout(r, 12_000));
    process.kill(pid, 'SIGCONT');
    await broker.healthy(90_000);
    expect(broker.output()).not.toMatch(/did not start in time/);
  }, 120_000);

  it('listens on loopback only unless HOST says otherwise', async () => {
    const broker = await spawnBroker({ HOST: undefined });
    started.push(broker);
    await broker.healthy();
    const listening = execFileSync('ss', ['-ltnH', `sport = :${broker.port}`], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s+/)[3]);
    expect(listening).toEqual([`127.0.0.1:${broker.port}`]);
  });

  it('fails clearly, without the password, when the database cannot be reached', async () => {
    const port = await freePort();
    const broker = await spawnBroker({
      DATABASE_URL: `postgres://tether:Sup3r-s3cret-pw@127.0.0.1:${port}/tether`,
    });
    started.push(broker);
    const exit = await broker.exit;
    expect(exit.code).toBe(1);
    expect(broker.output()).toContain(
      `fatal: cannot open PostgreSQL at 127.0.0.1:${port}/tether (DATABASE_URL)`,
    );
    expect(broker.output()).toMatch(/ECONNREFUSED/);
    expect(broker.output()).not.toContain('Sup3r-s3cret-pw');
  }, 60_000);
});
