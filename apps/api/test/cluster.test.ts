import { createHash, randomBytes } from 'node:crypto';
import { createPeerLink, encodeFrame, HOST_PROTOCOL_VERSION } from '@tether/host-protocol';
import { type AdminStatus, CloseCode, ErrorCode, type TerminalList } from '@tether/protocol';
import { freePort, type SshdHarness, sshdSkipReason, startSshd } from '@tether/testkit';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_CHANNEL, type ClusterEvent, createPostgresBus } from '../src/cluster/bus.js';
import { type BrokerProcess, hostPid, openShell, startBroker, stopBrokers } from './broker-process.js';
import { ADMIN, Browser, buildTestApp, freshPostgresDatabase, type TestApp } from './helpers.js';
import { HttpBrowser, logCapture } from './http-browser.js';
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

/** Nodes with terminals on the real sshd; each test's nodes are closed after it. */
describe.skipIf(skip)('several nodes with a real sshd', () => {
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

  describe('two nodes on one PostgreSQL', () => {
    /**
     * Nodes A and B on one database, one JWT secret. The periodic session check is an hour: only a
     * notification (or the catch-up after the listener reconnects) can close a socket in time.
     */
    async function twoNodes(env: Record<string, string> = {}) {
      const url = await freshPostgresDatabase();
      const shared = {
        DATABASE_URL: url,
        JWT_SECRET: randomBytes(32).toString('hex'),
        SESSION_CHECK_INTERVAL: '1h',
        LOGIN_RATE_LIMIT: '1000',
        ...env,
      };
      const a = await buildTestApp('postgres', { ...shared, NODE_ID: 'node-a' });
      nodes.push(a);
      const b = await buildTestApp('postgres', { ...shared, NODE_ID: 'node-b' });
      nodes.push(b);
      const baseA = await a.app.listen({ port: 0, host: '127.0.0.1' });
      const baseB = await b.app.listen({ port: 0, host: '127.0.0.1' });
      await expect.poll(() => a.app.cluster.listening && b.app.cluster.listening).toBe(true);
      return { url, a: a.app, b: b.app, baseA, baseB };
    }

    it('one policy on both nodes: sign-in attempts per address, sockets per user and failed opens per user are counted across them', async () => {
      const { a, b, baseA, baseB } = await twoNodes({
        LOGIN_RATE_LIMIT: '3',
        WS_MAX_SOCKETS_PER_USER: '2',
        SSH_OPEN_FAILURES_PER_MINUTE: '2',
      });
      // Sign-in attempts from one address: two on A, one on B, then both refuse.
      const atA = new Browser(a);
      const atB = new Browser(b);
      expect((await atA.login(ADMIN.username, 'wrong-password-1')).statusCode).toBe(401);
      expect((await atA.login()).statusCode).toBe(200);
      atB.cookies = atA.cookies;
      atB.token = atA.token;
      expect((await new Browser(b).login(ADMIN.username, 'wrong-password-1')).statusCode).toBe(401);
      expect((await new Browser(a).login()).statusCode).toBe(429);
      expect((await new Browser(b).login()).statusCode).toBe(429);

      // Sockets of one user: one on each node, then a third on either is refused.
      const one = await TestTerminalClient.authed(baseA, atA);
      await TestTerminalClient.authed(baseB, atB);
      for (const base of [baseA, baseB]) {
        const third = await TestTerminalClient.connect(base, atA);
        third.send({ type: 'auth', token: atA.token! });
        expect((await third.waitForMessage('error')).code).toBe(ErrorCode.SOCKET_LIMIT);
        expect((await third.waitForClose()).code).toBe(CloseCode.LIMIT_REACHED);
      }
      // A closed socket no longer counts.
      one.close();
      await expect
        .poll(async () => {
          const again = await TestTerminalClient.connect(baseB, atA);
          again.send({ type: 'auth', token: atA.token! });
          await again.waitFor(() => again.messages.length > 0 || again.closed !== null, 5_000);
          const ok = again.of('authenticated').length > 0;
          again.close();
          return ok;
        })
        .toBe(true);

      // Failed SSH opens: one through each node, then the budget is spent on both.
      const closedPort = await freePort();
      const probe = async (base: string) => {
        // The previous socket's slot is given back when its node has seen it close.
        let c: TestTerminalClient | undefined;
        for (let attempt = 0; !c; attempt++) {
          try {
            c = await TestTerminalClient.authed(base, atA);
          } catch (err) {
            if (attempt >= 50) throw err;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        c.send({
          type: 'open',
          target: { host: '127.0.0.1', port: closedPort, username: 'x' },
          auth: { method: 'password', password: 'x' },
          cols: 80,
          rows: 24,
        });
        const error = await c.waitForMessage('error', 15_000);
        c.close();
        await expect.poll(() => c.closed !== null).toBe(true);
        return error.code;
      };
      expect(await probe(baseA)).toBe(ErrorCode.CONNECTION_REFUSED);
      expect(await probe(baseB)).toBe(ErrorCode.CONNECTION_REFUSED);
      expect(await probe(baseA)).toBe(ErrorCode.RATE_LIMITED);
      expect(await probe(baseB)).toBe(ErrorCode.RATE_LIMITED);
    });

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
      const id = await openShell(c, sshd);
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

  describe('node membership (a real PostgreSQL, real processes)', () => {
    const brokers: BrokerProcess[] = [];
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
      return { a: a.app, baseA, b, atA, onA, idA, idB, status };
    }

    it('lists every node with its state; kill -9 of node B: its terminal is unreachable, then lost with the reason, and A serves its own', async () => {
      const { atA, baseA, b, onA, idA, idB, status } = await aAndB();
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
      // Attaching to it meanwhile says why, and asks the client to retry later (1013).
      const attempt = await TestTerminalClient.authed(baseA, atA);
      attempt.send({ type: 'attach', terminalId: idB });
      expect((await attempt.waitForMessage('error')).code).toBe(ErrorCode.TERMINAL_UNREACHABLE);
      expect((await attempt.waitForClose()).code).toBe(CloseCode.TRY_AGAIN_LATER);
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

  describe('the peer link (two nodes, one PostgreSQL)', () => {
    /** Nodes A and B with a peer link; `secret` lets a test present the wrong one. */
    async function peered() {
      const url = await freshPostgresDatabase();
      const secret = randomBytes(32).toString('base64');
      const shared = {
        DATABASE_URL: url,
        JWT_SECRET: randomBytes(32).toString('hex'),
        PEER_SECRET: secret,
        ENCRYPTION_KEY: randomBytes(32).toString('hex'),
        LOGIN_RATE_LIMIT: '1000',
        ...FAST_MEMBERSHIP,
      };
      const logs = logCapture();
      const start = async (id: string) => {
        const port = await freePort();
        const n = await buildTestApp(
          'postgres',
          { ...shared, NODE_ID: id, PEER_URL: `https://127.0.0.1:${port}`, PEER_PORT: String(port) },
          id === 'node-a' ? { logger: { level: 'warn', stream: logs.stream } } : {},
        );
        nodes.push(n);
        return { app: n.app, base: await n.app.listen({ port: 0, host: '127.0.0.1' }), peerPort: port };
      };
      const a = await start('node-a');
      const b = await start('node-b');
      await expect.poll(() => b.app.membership.node('node-a')?.state).toBe('up');
      const browser = new Browser(a.app);
      await browser.login();
      return { a, b, browser, secret, logs };
    }

    it('attach through node B to a terminal on node A: the output byte for byte from offset 0, a 2 MB paste whole, typing runs once', async () => {
      const { a, b, browser } = await peered();
      const onA = await TestTerminalClient.authed(a.base, browser);
      const id = await openShell(onA, sshd);
      const marker = `/tmp/tether-peer-${randomBytes(4).toString('hex')}`;
      onA.type(`seq 1 40000; echo SEQ-$((6*7))\r`);
      onA.close();

      const viaB = await TestTerminalClient.authed(b.base, browser);
      viaB.send({ type: 'attach', terminalId: id, resumeFrom: 0 });
      const ready = await viaB.waitForMessage('ready', 15_000);
      expect(ready).toMatchObject({ terminalId: id, offset: 0 });
      await viaB.waitForText('SEQ-42', 30_000);
      // Every line once, in order, against the remote's own checksum of the same stream.
      const lines = viaB
        .text()
        .replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, 'g'), '')
        .split(/\r\n|\r/)
        .filter((l) => /^\d+$/.test(l));
      expect(lines.length).toBe(40_000);
      const local = createHash('sha256')
        .update(`${lines.join('\n')}\n`)
        .digest('hex');
      viaB.type('seq 1 40000 | sha256sum\r');
      await viaB.waitForText(/[0-9a-f]{64}/, 10_000);
      expect(viaB.text().match(/([0-9a-f]{64})/)![1]).toBe(local);

      // A paste through B, paced by the owner's input_ack: every byte reaches the remote program.
      const paste = Buffer.from(
        randomBytes(1_500_000)
          .toString('base64')
          .slice(0, 2 * 1024 * 1024),
      );
      const sha = createHash('sha256').update(paste).digest('hex');
      viaB.type(`stty raw -echo; echo raw-""mode; head -c ${paste.length} | sha256sum; stty sane\n`);
      await viaB.waitForText('raw-mode');
      await viaB.paste(paste, { paced: true });
      await viaB.waitForText(new RegExp(`${sha}\\s+-`), 60_000);
      expect(viaB.of('error')).toEqual([]);

      viaB.type(`echo once >> ${marker}; echo LINES-$(wc -l < ${marker})-END\r`);
      await viaB.waitForText('LINES-1-END', 10_000);
      viaB.type(`rm -f ${marker}\r`);
      // Resizing through B reaches the terminal on A.
      viaB.send({ type: 'resize', cols: 91, rows: 33 });
      await expect
        .poll(async () => (await a.app.terminals.manager.refresh()).find((t) => t.id === id)?.cols)
        .toBe(91);
    });

    it('ending a terminal through node B (owner and admin) ends it on node A; revoking the session closes the forwarded socket', async () => {
      const { a, b, browser } = await peered();
      const atB = new Browser(b.app);
      atB.cookies = browser.cookies;
      atB.token = browser.token;
      const onA = await TestTerminalClient.authed(a.base, browser);
      const first = await openShell(onA, sshd);
      const second = await openShell(await TestTerminalClient.authed(a.base, browser), sshd);
      const third = await openShell(await TestTerminalClient.authed(a.base, browser), sshd);
      const userId = a.app.terminals.manager.list().find((t) => t.id === first)!.userId;
      const endedOnA = (id: string) => a.app.terminals.get(id, userId)?.ended ?? true;

      expect((await atB.request('DELETE', `/api/terminals/${first}`)).statusCode).toBe(204);
      await expect.poll(() => endedOnA(first)).toBe(true);
      expect((await atB.request('DELETE', `/api/admin/terminals/${second}`)).statusCode).toBe(204);
      await expect.poll(() => endedOnA(second)).toBe(true);
      // The node that was asked records who ended them, and which node held them.
      const audit = (await atB.request('GET', '/api/admin/audit?type=terminal.terminated')).json() as {
        events: Array<{ target: string | null; detail: Record<string, unknown> | null }>;
      };
      for (const id of [first, second])
        expect(audit.events.find((e) => e.target === id)?.detail).toMatchObject({ node: 'node-a' });

      const viaB = await TestTerminalClient.authed(b.base, browser);
      viaB.send({ type: 'attach', terminalId: third });
      await viaB.waitForMessage('ready', 15_000);
      expect((await atB.request('POST', '/api/auth/logout')).statusCode).toBe(204);
      expect((await viaB.waitForClose(5_000)).code).toBe(CloseCode.SESSION_REVOKED);
      expect(endedOnA(third)).toBe(false);
    });

    it('the peer port is the terminal host’s: no handshake without the secret (said in the log), no terminal without a ticket', async () => {
      const { a, browser, logs } = await peered();
      const tls = await import('node:tls');
      // The wrong secret: no TLS handshake.
      const wrong = createPeerLink({ secret: randomBytes(32).toString('base64'), nodeId: 'node-x' });
      const handshake = await new Promise<string>((resolve) => {
        const socket = tls.connect({ ...wrong.clientTls(), host: '127.0.0.1', port: a.peerPort });
        socket.once('secureConnect', () => {
          socket.destroy();
          resolve('connected');
        });
        socket.once('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message));
      });
      expect(handshake).not.toBe('connected');
      // The node says why in its log (what an operator with mismatched secrets needs to see).
      await expect
        .poll(() =>
          logs.find('a peer failed the TLS handshake on the peer port (a node with another PEER_SECRET?)'),
        )
        .toHaveLength(1);

      // The right secret but the node's own local secret instead of a ticket: refused.
      const onA = await TestTerminalClient.authed(a.base, browser);
      await openShell(onA, sshd);
      const right = createPeerLink({ secret: a.app.config.peer!.secret, nodeId: 'node-b' });
      const refused = await new Promise<string>((resolve) => {
        const socket = tls.connect({ ...right.clientTls(), host: '127.0.0.1', port: a.peerPort });
        socket.once('secureConnect', () =>
          socket.write(encodeFrame({ t: 'hello', protocol: HOST_PROTOCOL_VERSION, secret: 'anything' })),
        );
        socket.once('data', () => resolve('answered'));
        socket.once('close', () => resolve('closed'));
        socket.once('error', () => resolve('closed'));
      });
      expect(refused).toBe('closed');
    });
  });
});

describe('a deployment’s first start', () => {
  it('three nodes opening an empty database at once migrate it once, without colliding', async () => {
    const { openDatabase } = await import('../src/db/index.js');
    const url = await freshPostgresDatabase();
    const opened = await Promise.all(
      [1, 2, 3].map(() => openDatabase({ url, dataDir: '/nonexistent', maxConnections: 1 })),
    );
    try {
      const rows = await opened[0]!.db.execute(
        sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
      );
      const n = [...(rows as unknown as Iterable<{ n: number }>)][0]!.n;
      expect(n).toBeGreaterThan(0);
      const files = (await import('node:fs'))
        .readdirSync(new URL('../drizzle', import.meta.url))
        .filter((f) => f.endsWith('.sql'));
      expect(n).toBe(files.length);
    } finally {
      await Promise.all(opened.map((d) => d.close()));
    }
  });
});
