import { ErrorCode } from '@tether/protocol';
import { describe, expect, it } from 'vitest';
import { ensureFirstAdmin } from '../src/auth/bootstrap.js';
import { ADMIN, addUser, Browser, buildTestApp, DRIVERS, useTestApp } from './helpers.js';

describe.each(DRIVERS)('admin API (%s)', (driver) => {
  const testApp = useTestApp(driver);

  async function setup() {
    const { t, admin } = await testApp.start();
    const carol = await addUser(t.app, admin, 'carol');
    return { app: t.app, admin, carol: carol.browser, carolId: carol.id };
  }

  it('creates users who can then sign in, and lists them with status', async () => {
    const { admin } = await setup();
    const res = await admin.request('GET', '/api/admin/users');
    expect(res.statusCode).toBe(200);
    const users = res.json().users;
    expect(users.map((u: { username: string }) => u.username)).toEqual(['admin', 'carol']);
    expect(users[1]).toMatchObject({ role: 'user', disabledAt: null, lockedUntil: null, online: true });
    expect(JSON.stringify(users)).not.toMatch(/argon2|passwordHash/);
  });

  it('validates new users field by field', async () => {
    const { admin } = await setup();
    const res = await admin.request('POST', '/api/admin/users', {
      username: ' bad name!',
      password: 'short',
      role: 'root',
    });
    expect(res.statusCode).toBe(400);
    expect(Object.keys(res.json().error.fields).sort()).toEqual(['password', 'role', 'username']);
    const dup = await admin.request('POST', '/api/admin/users', {
      username: 'Carol',
      password: 'carol-password',
    });
    expect(dup.statusCode).toBe(409);
  });

  it('forbids admin routes to users without users:manage', async () => {
    const { carol } = await setup();
    for (const url of ['/api/admin/users', '/api/admin/sessions', '/api/admin/audit']) {
      const res = await carol.request('GET', url);
      expect(res.statusCode, url).toBe(403);
      expect(res.json().error.code).toBe(ErrorCode.FORBIDDEN);
    }
  });

  it('disabling a user ends their session and refuses their login; enabling restores it', async () => {
    const { admin, carol, carolId, app } = await setup();
    expect((await admin.request('PATCH', `/api/admin/users/${carolId}`, { disabled: true })).statusCode).toBe(
      200,
    );
    const res = await carol.request('GET', '/api/auth/me');
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe(ErrorCode.ACCOUNT_DISABLED);
    const login = await new Browser(app).login('carol', 'carol-password');
    expect(login.statusCode).toBe(403);
    expect(login.json().error.code).toBe(ErrorCode.ACCOUNT_DISABLED);
    await admin.request('PATCH', `/api/admin/users/${carolId}`, { disabled: false });
    expect((await new Browser(app).login('carol', 'carol-password')).statusCode).toBe(200);
  });

  it("resets a password, ending the user's session", async () => {
    const { admin, carol, carolId, app } = await setup();
    expect(
      (await admin.request('POST', `/api/admin/users/${carolId}/password`, { password: 'carol-new-pass' }))
        .statusCode,
    ).toBe(204);
    expect((await carol.request('GET', '/api/auth/me')).statusCode).toBe(401);
    expect((await new Browser(app).login('carol', 'carol-password')).statusCode).toBe(401);
    expect((await new Browser(app).login('carol', 'carol-new-pass')).statusCode).toBe(200);
  });

  it('changes roles, which changes permissions, but an admin cannot demote or disable themselves', async () => {
    const { admin, carolId, app } = await setup();
    const res = await admin.request('PATCH', `/api/admin/users/${carolId}`, { role: 'admin' });
    expect(res.json().user.permissions).toContain('users:manage');
    const carol = new Browser(app);
    await carol.login('carol', 'carol-password');
    expect((await carol.request('GET', '/api/admin/users')).statusCode).toBe(200);
    const me = (await admin.request('GET', '/api/auth/me')).json().user.id;
    expect((await admin.request('PATCH', `/api/admin/users/${me}`, { disabled: true })).statusCode).toBe(409);
    expect((await admin.request('PATCH', `/api/admin/users/${me}`, { role: 'user' })).statusCode).toBe(409);
    expect((await admin.request('PATCH', `/api/admin/users/${me}`, {})).statusCode).toBe(400);
    expect((await admin.request('PATCH', '/api/admin/users/not-a-uuid', { role: 'user' })).statusCode).toBe(
      400,
    );
    expect(
      (
        await admin.request('PATCH', '/api/admin/users/00000000-0000-4000-8000-000000000000', {
          role: 'user',
        })
      ).statusCode,
    ).toBe(404);
  });

  it('unlocks a locked account', async () => {
    const { admin, carolId, app } = await setup();
    const b = new Browser(app);
    for (let i = 0; i < 5; i++)
      await b.request('POST', '/api/auth/login', { username: 'carol', password: 'wrong-pass' });
    expect((await b.login('carol', 'carol-password')).statusCode).toBe(423);
    const listed = (await admin.request('GET', '/api/admin/users'))
      .json()
      .users.find((u: { id: string }) => u.id === carolId);
    expect(listed.lockedUntil).not.toBeNull();
    await admin.request('PATCH', `/api/admin/users/${carolId}`, { unlock: true });
    expect((await b.login('carol', 'carol-password')).statusCode).toBe(200);
  });

  it('lists live sessions and revokes one', async () => {
    const { admin, carol } = await setup();
    const res = await admin.request('GET', '/api/admin/sessions');
    const sessions = res.json().sessions;
    expect(sessions).toHaveLength(2);
    const mine = sessions.find((s: { current: boolean }) => s.current);
    expect(mine.username).toBe('admin');
    const carols = sessions.find((s: { username: string }) => s.username === 'carol');
    expect(carols).toMatchObject({ ip: '127.0.0.1', userAgent: 'tether-test' });
    expect((await admin.request('DELETE', `/api/admin/sessions/${carols.id}`)).statusCode).toBe(204);
    const after = await carol.request('GET', '/api/auth/me');
    expect(after.json().error.code).toBe(ErrorCode.SESSION_REVOKED);
    expect((await admin.request('DELETE', `/api/admin/sessions/${carols.id}`)).statusCode).toBe(404);
  });

  it('pages the audit log newest first and filters by type and user', async () => {
    const { admin, carolId } = await setup();
    const first = (await admin.request('GET', '/api/admin/audit?limit=2')).json();
    expect(first.events).toHaveLength(2);
    expect(first.nextCursor).not.toBeNull();
    const second = (await admin.request('GET', `/api/admin/audit?limit=2&cursor=${first.nextCursor}`)).json();
    expect(Number(second.events[0].id)).toBeLessThan(Number(first.events[1].id));
    const created = (await admin.request('GET', '/api/admin/audit?type=admin.user_created')).json();
    expect(created.events).toHaveLength(1);
    expect(created.events[0].target).toBe('carol');
    const carols = (await admin.request('GET', `/api/admin/audit?userId=${carolId}`)).json();
    expect(carols.events.every((e: { userId: string }) => e.userId === carolId)).toBe(true);
    expect((await admin.request('GET', '/api/admin/audit?limit=0')).statusCode).toBe(400);
    expect((await admin.request('GET', '/api/admin/audit?from=yesterday')).statusCode).toBe(400);
  });
});

describe('first run', () => {
  it('creates the admin from ADMIN_PASSWORD, or prints a generated password exactly once', async () => {
    const t = await buildTestApp('pglite');
    try {
      expect((await new Browser(t.app).login(ADMIN.username, ADMIN.password)).statusCode).toBe(200);
      const lines: string[] = [];
      // Users exist now: nothing is created or printed again.
      await ensureFirstAdmin(t.app.auth, { admin: { username: 'x' } }, t.app.log, (l) => lines.push(l));
      expect(lines).toEqual([]);
    } finally {
      await t.close();
    }
    const fresh = await buildTestApp('pglite', {}, { skipBootstrap: true });
    try {
      const lines: string[] = [];
      await ensureFirstAdmin(fresh.app.auth, { admin: { username: 'root' } }, fresh.app.log, (l) =>
        lines.push(l),
      );
      const line = lines.find((l) => l.includes('password:'))!;
      const password = line.split('password:')[1]!.replace('│', '').trim();
      expect(password.length).toBeGreaterThanOrEqual(20);
      expect((await new Browser(fresh.app).login('root', password)).statusCode).toBe(200);
    } finally {
      await fresh.close();
    }
  });
});
