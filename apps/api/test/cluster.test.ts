import { randomBytes } from 'node:crypto';
import { type AdminStatus, CloseCode, type TerminalList } from '@tether/protocol';
import { type SshdHarness, sshdSkipReason, startSshd } from '@tether/testkit';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_CHANNEL, type ClusterEvent, createPostgresBus } from '../src/cluster/bus.js';
import { type BrokerProcess, hostPid, openShell, startBroker, stopBrokers } from './broker-process.js';
import { Browser, buildTestApp, freshPostgresDatabase, type TestApp } from './helpers.js';
import { HttpBrowser } from './http-browser.js';
import { TestTerminalClient } from './ws-client.js';

const skip = sshdSkipReason();
if (skip && process.env.CI) throw new Error(`sshd tests cannot run in CI: ${skip}`);

/** Ends the listening connection of `nodeId` the way a server restart or an admin would. */
async function killListener(url: string, nodeId: string): Promise<number> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql`
      select pg_terminate_backend(pid) as killed from pg_stat_activity
      where application_name = ${`tether-listen ${nodeId}`}`;
    return rows.filter((r) => r.killed).length;
  } finally {
    await sql.end();
  }
}

const quietLog = {
  warn() {},
  info() {},
  error() {},
  debug() {},
  child() {
    return quietLog;
  },
} as never;

describe('cluster bus (LISTEN/NOTIFY on a real PostgreSQL)', () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  it('delivers another node’s events, not its own, ignores foreign payloads, and listens again after its connection is killed', async () => {
    const url = await freshPostgresDatabase();
    const sql = postgres(url, { max: 2, onnotice: () => {} });
    closers.push(() => sql.end());
    const { drizzle } = await import('drizzle-orm/postgres-js');
    const db = drizzle(sql) as never;
    const a = createPostgresBus({ url, nodeId: 'a', db, log: quietLog });
    const b = createPostgresBus({ url, nodeId: 'b', db, log: quietLog, maxRetryMs: 200 });
    closers.push(
      () => a.close(),
      () => b.close(),
    );
    const listening = (bus: typeof a) =>
      bus.listening ? Promise.resolve() : new Promise<void>((r) => bus.once('listening', () => r()));
    await Promise.all([listening(a), listening(b)]);

    const atA: ClusterEvent[] = [];
    const atB: ClusterEvent[] = [];
    a.on('event', (e) => atA.push(e));
    b.on('event', (e) => atB.push(e));
    // Not ours (another program on the channel) and not valid: ignored, nothing crashes.
    await sql`select pg_notify(${CLUSTER_CHANNEL}, ${'not json'})`;
    await sql`select pg_notify(${CLUSTER_CHANNEL}, ${JSON.stringify({ t: 'session-ended', node: 'x' })})`;
    const event: ClusterEvent = {
      t: 'session-ended',
      node: 'a',
      sessionId: 's1',
      userId: 'u1',
      reason: 'logout',
    };
    a.publish(event);
    await expect.poll(() => atB).toEqual([event]);
    expect(atA).toEqual([]);

    // The listener's connection dies: it listens again (and says so, for the catch-up) and
    // receives what is sent afterwards.
    const again = new Promise<void>((r) => b.once('listening', () => r()));
    expect(await killListener(url, 'b')).toBe(1);
    await again;
    expect(b.listening).toBe(true);
    const next: ClusterEvent = { t: 'user-disabled', node: 'a', userId: 'u2' };
    a.publish(next);
    await expect.poll(() => atB).toEqual([event, next]);
  });
});

describe.skipIf(skip)('two nodes on one PostgreSQL', () => {
  let sshd: SshdHarness;
  const nodes: TestApp[] = [];
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
  });
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.close();
  });

  /**
   * Nodes A and B on one database, one JWT secret. The periodic session check is an hour: only a
   * notification (or the catch-up after the listener reconnects) can close a socket in time.
   */
  async function twoNodes() {
    const url = await freshPostgresDatabase();
    const shared = {
      DATABASE_URL: url,
      JWT_SECRET: randomBytes(32).toString('hex'),
      SESSION_CHECK_INTERVAL: '1h',
      LOGIN_RATE_LIMIT: '1000',
    };
    const a = await buildTestApp('postgres', { ...shared, NODE_ID: 'node-a' });
    nodes.push(a);
    const b = await buildTestApp('postgres', { ...shared, NODE_ID: 'node-b' });
    nodes.push(b);
    const baseB = await b.app.listen({ port: 0, host: '127.0.0.1' });
    await expect.poll(() => a.app.cluster.listening && b.app.cluster.listening).toBe(true);
    return { url, a: a.app, b: b.app, baseB };
  }

  it('signing out on node A closes the session’s sockets on node B', async () => {
    const { a, baseB } = await twoNodes();
    const browser = new Browser(a);
    await browser.login();
    const c = await TestTerminalClient.authed(baseB, browser);
    expect((await browser.request('POST', '/api/auth/logout')).statusCode).toBe(204);
    expect((await c.waitForClose(5_000)).code).toBe(CloseCode.SESSION_REVOKED);
  });

  it('a revocation right after B’s listening connection was killed still reaches B (catch-up)', async () => {
    const { url, a, baseB } = await twoNodes();
    const admin = new Browser(a);
    await admin.login();
    await admin.request('POST', '/api/admin/users', { username: 'erin', password: 'erin-password' });
    const erin = new Browser(a);
    await erin.login('erin', 'erin-password');
    const c = await TestTerminalClient.authed(baseB, erin);
    const sessions = (await admin.request('GET', '/api/admin/sessions')).json().sessions as Array<{
      id: string;
      username: string;
    }>;
    const sid = sessions.find((s) => s.username === 'erin')!.id;
    expect(await killListener(url, 'node-b')).toBe(1);
    const res = await admin.request('DELETE', `/api/admin/sessions/${sid}`);
    expect(res.statusCode).toBe(204);
    expect((await c.waitForClose(10_000)).code).toBe(CloseCode.SESSION_REVOKED);
  });

  it('disabling an account on node A ends its detached terminal on node B', async () => {
    const { a, b, baseB } = await twoNodes();
    const admin = new Browser(a);
    await admin.login();
    await admin.request('POST', '/api/admin/users', { username: 'frank', password: 'frank-password' });
    const frank = new Browser(a);
    await frank.login('frank', 'frank-password');
    const frankId = (await frank.request('GET', '/api/auth/me')).json().user.id as string;
    const c = await TestTerminalClient.authed(baseB, frank);
    c.send({
      type: 'open',
      target: { host: sshd.host, port: sshd.port, username: sshd.username },
      auth: { method: 'password', password: sshd.password },
      cols: 80,
      rows: 24,
    });
    await c.waitForMessage('hostkey_prompt', 15_000);
    c.send({ type: 'hostkey_decision', accept: true });
    const id = (await c.waitForMessage('ready', 15_000)).terminalId;
    c.close();
    // Detached and running on B: only the event from A can end it.
    await expect.poll(() => b.terminals.get(id, frankId)?.viewerCount).toBe(0);
    expect(b.terminals.get(id, frankId)?.ended).toBe(false);
    await admin.request('PATCH', `/api/admin/users/${frankId}`, { disabled: true });
    await expect.poll(() => b.terminals.get(id, frankId)?.ended ?? true, { timeout: 5_000 }).toBe(true);
  });
});

/** Heartbeats every 200 ms; unreachable after 1 s of silence, lost after 3 s. */
const FAST_MEMBERSHIP = {
  NODE_HEARTBEAT_INTERVAL: '200ms',
  NODE_UNREACHABLE_AFTER: '1s',
  NODE_LOST_AFTER: '3s',
};

describe.skipIf(skip)('node membership (a real PostgreSQL, real processes)', () => {
  let sshd: SshdHarness;
  const nodes: TestApp[] = [];
  const brokers: BrokerProcess[] = [];
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
  });
  afterEach(async () => {
    for (const b of brokers) {
      b.child.kill('SIGCONT');
      try {
        process.kill(await hostPid(b.dataDir), 'SIGKILL');
      } catch {
        // no host left
      }
    }
    stopBrokers(brokers);
    for (const n of nodes.splice(0)) await n.close();
  });

  /**
   * Node A in this process, node B its own API process with its own terminal host process; one
   * user signed in (through B) with a terminal on each node.
   */
  async function aAndB() {
    const url = await freshPostgresDatabase();
    const shared = { DATABASE_URL: url, JWT_SECRET: randomBytes(32).toString('hex'), ...FAST_MEMBERSHIP };
    const a = await buildTestApp('postgres', { ...shared, NODE_ID: 'node-a', LOGIN_RATE_LIMIT: '1000' });
    nodes.push(a);
    const baseA = await a.app.listen({ port: 0, host: '127.0.0.1' });
    const b = await startBroker({ ...shared, NODE_ID: 'node-b', TERMINAL_HOST: 'spawn' });
    brokers.push(b);
    const atB = new HttpBrowser(`${b.base}/`);
    expect((await atB.login()).status).toBe(200);
    const atA = new HttpBrowser(`${baseA}/`);
    atA.cookies = atB.cookies;
    atA.token = atB.token;
    const onB = await TestTerminalClient.authed(b.base, atB);
    const idB = await openShell(onB, sshd);
    const onA = await TestTerminalClient.authed(baseA, atA);
    const idA = await openShell(onA, sshd);
    const status = async (id: string) => {
      const list = (await (await atA.request('GET', 'api/terminals')).json()) as TerminalList;
      return list.terminals.find((t) => t.id === id);
    };
    return { a: a.app, b, atA, onA, idA, idB, status };
  }

  it('lists every node with its state; kill -9 of node B: its terminal is unreachable, then lost with the reason, and A serves its own', async () => {
    const { atA, b, onA, idA, idB, status } = await aAndB();
    const nodesSeen = async () =>
      ((await (await atA.request('GET', 'api/admin/status')).json()) as AdminStatus).nodes.map((n) => [
        n.id,
        n.state,
        n.local,
      ]);
    await expect.poll(nodesSeen).toEqual([
      ['node-a', 'up', true],
      ['node-b', 'up', false],
    ]);
    expect((await status(idB))?.status).toBe('running');

    const host = await hostPid(b.dataDir);
    b.child.kill('SIGKILL');
    process.kill(host, 'SIGKILL');
    await expect.poll(async () => (await status(idB))?.status, { timeout: 5_000 }).toBe('unreachable');
    expect(await nodesSeen()).toContainEqual(['node-b', 'unreachable', false]);
    await expect.poll(async () => (await status(idB))?.status, { timeout: 10_000 }).toBe('lost');
    expect((await status(idB))?.endReason).toMatch(/node-b.*stopped answering/);

    // Node A and its terminal carry on.
    expect((await status(idA))?.status).toBe('running');
    onA.type('echo still-$((20+22))\r');
    await onA.waitForText('still-42');
  });

  it('a node silent past NODE_LOST_AFTER that comes back reconciles: its running terminal is running again', async () => {
    const { b, idB, status } = await aAndB();
    // The API stops (a stalled process, a partition); its terminal host keeps the terminal.
    b.child.kill('SIGSTOP');
    await expect.poll(async () => (await status(idB))?.status, { timeout: 10_000 }).toBe('lost');
    b.child.kill('SIGCONT');
    await expect.poll(async () => (await status(idB))?.status, { timeout: 10_000 }).toBe('running');
    expect((await status(idB))?.endReason).toBeNull();
  });
});
