import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import os from 'node:os';
import { AdminStatusSchema, AdminTerminalListSchema, CloseCode, ErrorCode } from '@tether/protocol';
import { type SshdHarness, sshdSkipReason, startSshd } from '@tether/testkit';
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { startAuditRetention } from '../src/audit/retention.js';
import { loadConfig } from '../src/config.js';
import { auditEvents } from '../src/db/schema/index.js';
import { createTerminalsRepo } from '../src/persistence/terminals-repo.js';
import { parseNetDev } from '../src/system/host-stats.js';
import { VERSION } from '../src/version.js';
import {
  ADMIN,
  addUser,
  Browser,
  buildTestApp,
  DRIVERS,
  freshPostgresDatabase,
  type TestApp,
  useTestApp,
} from './helpers.js';
import { TestTerminalClient } from './ws-client.js';

const DAY = 86_400_000;
const quietLog = { info() {}, warn() {} };

describe('parseNetDev', () => {
  it('reads per-interface counters from /proc/net/dev', () => {
    const text = [
      'Inter-|   Receive                                                |  Transmit',
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
      '    lo: 1234      10    0    0    0     0          0         0     1234      10    0    0    0     0       0          0',
      '  eth0: 99 5 1 0 0 0 0 0 77 4 2 0 0 0 0 0',
    ].join('\n');
    expect(parseNetDev(text)).toEqual([
      {
        interface: 'lo',
        rxBytes: 1234,
        rxPackets: 10,
        rxErrors: 0,
        txBytes: 1234,
        txPackets: 10,
        txErrors: 0,
      },
      { interface: 'eth0', rxBytes: 99, rxPackets: 5, rxErrors: 1, txBytes: 77, txPackets: 4, txErrors: 2 },
    ]);
  });
});

describe.each(DRIVERS)('admin status, terminals permissions and audit retention (%s)', (driver) => {
  const testApp = useTestApp(driver);

  async function setup(env: Record<string, string> = {}) {
    const { t, admin } = await testApp.start(env);
    const dave = (await addUser(t.app, admin, 'dave')).browser;
    return { app: t.app, admin, dave };
  }

  it('GET /api/admin/status reports connections, limits, terminals, users, host figures and version', async () => {
    const { admin } = await setup({ MAX_CONNECTIONS: '77' });
    const res = await admin.request('GET', '/api/admin/status');
    expect(res.statusCode).toBe(200);
    const status = AdminStatusSchema.parse(res.json());
    expect(status).toMatchObject({
      version: VERSION,
      hostname: os.hostname(),
      nodeId: testApp.current.config.nodeId,
      database: { driver, status: 'ok' },
      connections: { websockets: 0, sshSessions: 0, limits: { maxConnections: 77, maxTerminalsPerUser: 20 } },
      terminals: { running: 0, detached: 0, ended: 0, viewers: 0, ringBytes: 0 },
      users: { online: 2, liveSessions: 2, total: 2 },
      runtime: { node: process.version, pid: process.pid },
    });
    expect(status.memory.rssBytes).toBeGreaterThan(0);
    expect(status.memory.systemTotalBytes).toBeGreaterThan(status.memory.systemFreeBytes);
    expect(status.cpu.cores).toBe(os.cpus().length);
    expect(status.cpu.loadAverage).toHaveLength(3);
    expect(status.disk?.totalBytes).toBeGreaterThan(0);
    if (process.platform === 'linux') expect(status.network.map((n) => n.interface)).toContain('lo');
    expect(status.uptimeSeconds).toBeGreaterThanOrEqual(0);
  });

  it('admin status and terminals need their permissions', async () => {
    const { app, dave } = await setup();
    for (const [method, url] of [
      ['GET', '/api/admin/status'],
      ['GET', '/api/admin/terminals'],
      ['DELETE', '/api/admin/terminals/00000000-0000-4000-8000-000000000000'],
    ] as const) {
      const res = await dave.request(method, url);
      expect(res.statusCode, url).toBe(403);
      expect(res.json().error.code).toBe(ErrorCode.FORBIDDEN);
      expect((await new Browser(app).request(method, url)).statusCode, url).toBe(401);
    }
  });

  it('validates admin terminal ids and queries', async () => {
    const { admin } = await setup();
    expect((await admin.request('DELETE', '/api/admin/terminals/not-a-uuid')).statusCode).toBe(400);
    expect(
      (await admin.request('DELETE', '/api/admin/terminals/00000000-0000-4000-8000-000000000000')).statusCode,
    ).toBe(404);
    expect((await admin.request('GET', '/api/admin/terminals?status=bogus')).statusCode).toBe(400);
    expect((await admin.request('GET', '/api/admin/terminals')).json()).toEqual({ terminals: [] });
  });

  it('the retention job deletes audit events older than AUDIT_RETENTION_DAYS and keeps the rest', async () => {
    const { app } = await setup();
    await app.audit.record({ type: 'test.old', outcome: 'success', target: 'old' });
    await app.audit.record({ type: 'test.recent', outcome: 'success', target: 'recent' });
    await app.database.db
      .update(auditEvents)
      .set({ at: new Date(Date.now() - 10 * DAY) })
      .where(eq(auditEvents.type, 'test.old'));
    const job = startAuditRetention({
      audit: app.audit,
      retentionDays: 7,
      log: quietLog,
      intervalMs: 60_000,
    });
    await job.stop(); // waits for the start-up run
    const types = (await app.audit.query({ limit: 100 })).map((e) => e.type);
    expect(types).toContain('test.recent');
    expect(types).not.toContain('test.old');
    expect(await job.run()).toBe(0);
  });

  it('runs the retention job at start-up and then periodically', async () => {
    const { app } = await setup();
    await app.audit.record({ type: 'test.old', outcome: 'success' });
    const aged = () =>
      app.database.db
        .update(auditEvents)
        .set({ at: new Date(Date.now() - 2 * DAY) })
        .where(eq(auditEvents.type, 'test.old'));
    await aged();
    const job = startAuditRetention({ audit: app.audit, retentionDays: 1, log: quietLog, intervalMs: 100 });
    try {
      await expect.poll(async () => (await app.audit.query({ type: 'test.old', limit: 10 })).length).toBe(0);
      await app.audit.record({ type: 'test.old', outcome: 'success' });
      await aged();
      await expect.poll(async () => (await app.audit.query({ type: 'test.old', limit: 10 })).length).toBe(0);
    } finally {
      await job.stop();
    }
  });

  it('the broker applies AUDIT_RETENTION_DAYS when it starts', async () => {
    const dataDir = `/tmp/tether-test-${randomBytes(6).toString('hex')}`;
    const env = {
      NODE_ENV: 'test',
      DATA_DIR: dataDir,
      JWT_SECRET: randomBytes(32).toString('hex'),
      ADMIN_PASSWORD: ADMIN.password,
      AUDIT_RETENTION_DAYS: '3',
      TERMINAL_HOST: 'embedded',
      ...(driver === 'postgres' ? { DATABASE_URL: await freshPostgresDatabase() } : {}),
    };
    try {
      // PGlite on disk (not memory) so the second start sees the first one's rows.
      const first = await buildApp(loadConfig(env), { logger: false });
      await first.ready();
      await first.audit.record({ type: 'test.ancient', outcome: 'success' });
      await first.database.db
        .update(auditEvents)
        .set({ at: new Date(Date.now() - 4 * DAY) })
        .where(eq(auditEvents.type, 'test.ancient'));
      await first.close();

      const second = await buildApp(loadConfig(env), { logger: false });
      await second.ready();
      try {
        await expect
          .poll(async () => (await second.audit.query({ type: 'test.ancient', limit: 10 })).length)
          .toBe(0);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

const skip = sshdSkipReason();
if (skip && process.env.CI) throw new Error(`sshd tests cannot run in CI: ${skip}`);

describe.skipIf(skip).each(DRIVERS)('admin terminals against OpenSSH sshd (%s)', (driver) => {
  let sshd: SshdHarness;
  let t: TestApp | undefined;
  let base: string;

  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function open(client: TestTerminalClient, password = sshd.password) {
    client.send({
      type: 'open',
      target: { host: sshd.host, port: sshd.port, username: sshd.username },
      auth: { method: 'password', password },
      cols: 80,
      rows: 24,
    });
  }

  it('lists every user’s terminals with owner and state, ends one, and audits who connected where', async () => {
    t = await buildTestApp(driver, { LOGIN_RATE_LIMIT: '1000' });
    base = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const admin = new Browser(t.app);
    await admin.login();
    const created = await admin.request('POST', '/api/admin/users', {
      username: 'erin',
      password: 'erin-password',
    });
    const erinId = created.json().user.id as string;
    const erin = new Browser(t.app);
    await erin.login('erin', 'erin-password');

    // A failed connect is counted and audited too.
    const failing = await TestTerminalClient.authed(base, erin);
    await open(failing, 'wrong-password');
    await failing.waitForMessage('hostkey_prompt');
    failing.send({ type: 'hostkey_decision', accept: true });
    expect((await failing.waitForMessage('error', 20_000)).code).toBe(ErrorCode.AUTH_FAILED);
    failing.close();

    const c = await TestTerminalClient.authed(base, erin);
    await open(c);
    const ready = await c.waitForMessage('ready', 15_000);
    const id = ready.terminalId;
    await c.waitForText('$ ');

    const list = await admin.request('GET', '/api/admin/terminals');
    expect(list.statusCode).toBe(200);
    const terminals = AdminTerminalListSchema.parse(list.json()).terminals;
    expect(terminals).toHaveLength(1);
    expect(terminals[0]).toMatchObject({
      id,
      userId: erinId,
      ownerUsername: 'erin',
      status: 'running',
      attached: 1,
      host: sshd.host,
      port: sshd.port,
      username: sshd.username,
      nodeId: t.config.nodeId,
      local: true,
    });
    const status = (await admin.request('GET', '/api/admin/status')).json();
    expect(status.terminals).toMatchObject({ running: 1, detached: 0, viewers: 1 });
    expect(status.terminals.ringBytes).toBeGreaterThan(0);
    expect(status.connections).toMatchObject({ websockets: 1, sshSessions: 1 });

    // Detached: still running, nobody watching.
    c.close();
    await c.waitForClose();
    await expect
      .poll(async () => (await admin.request('GET', '/api/admin/status')).json().terminals.detached)
      .toBe(1);
    const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/^tether_terminals_detached 1$/m);
    expect(metrics).toMatch(/^tether_ssh_connect_seconds_count 1$/m);
    expect(metrics).toMatch(/^tether_ssh_connect_failures_total\{code="AUTH_FAILED"\} 1$/m);
    expect(metrics).toMatch(/^tether_websocket_connections_total 2$/m);
    expect(Number(/^tether_terminal_ring_bytes (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);

    // An admin ends it; the owner, attached again, is told and closed.
    const d = await TestTerminalClient.authed(base, erin);
    d.send({ type: 'attach', terminalId: id, resumeFrom: 0 });
    await d.waitForMessage('ready');
    expect((await admin.request('DELETE', `/api/admin/terminals/${id}`)).statusCode).toBe(204);
    // Answered once the row says so: a list fetched right after has it ended (the admin page
    // refetches at once; it showed the terminal running until its next poll).
    expect((await createTerminalsRepo(t!.app.database.db).findById(id))?.status).toBe('exited');
    expect((await admin.request('GET', '/api/admin/terminals')).json().terminals).toEqual([]);
    expect((await d.waitForMessage('exit')).reason).toBe('Ended by an administrator.');
    expect((await d.waitForClose()).code).toBe(CloseCode.TERMINAL_ENDED);
    expect((await admin.request('DELETE', `/api/admin/terminals/${id}`)).statusCode).toBe(204);
    const all = (await admin.request('GET', '/api/admin/terminals?status=all')).json().terminals;
    expect(all.map((x: { id: string; status: string }) => [x.id, x.status])).toContainEqual([id, 'exited']);
    expect(
      (await admin.request('GET', `/api/admin/terminals?status=all&userId=${erinId}`)).json().terminals
        .length,
    ).toBeGreaterThanOrEqual(1);

    // Who connected where, when: every step is in the audit log, filterable by user and type.
    const target = `${sshd.username}@${sshd.host}:${sshd.port}`;
    const events = async (query: string) =>
      (await admin.request('GET', `/api/admin/audit?${query}`)).json().events as Array<
        Record<string, unknown>
      >;
    const erins = await events(`userId=${erinId}`);
    const types = erins.map((e) => e.type);
    expect(types).toEqual(
      expect.arrayContaining([
        'auth.login',
        'hostkey.accepted',
        'terminal.open_failed',
        'terminal.opened',
        'terminal.ended',
      ]),
    );
    expect(erins.find((e) => e.type === 'terminal.opened')).toMatchObject({
      username: 'erin',
      target,
      ip: '127.0.0.1',
    });
    expect(erins.find((e) => e.type === 'terminal.ended')).toMatchObject({ target });
    expect(erins.find((e) => e.type === 'hostkey.accepted')).toMatchObject({
      target: `${sshd.host}:${sshd.port}`,
      detail: expect.objectContaining({ fingerprint: sshd.hostKeyFingerprint }),
    });
    const adminActions = await events('type=admin.terminal_ended');
    expect(adminActions[0]).toMatchObject({
      username: ADMIN.username,
      target,
      detail: { terminalId: id, ownerId: erinId },
    });
    const from = new Date(Date.now() - 60_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    expect(
      (await events(`type=terminal.opened&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`))
        .length,
    ).toBe(1);
    expect(
      (
        await events(
          `type=terminal.opened&to=${encodeURIComponent(new Date(Date.now() - DAY).toISOString())}`,
        )
      ).length,
    ).toBe(0);
  });
});
