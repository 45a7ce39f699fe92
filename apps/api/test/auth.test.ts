import { createHmac, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { ErrorCode } from '@tether/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { nameKey } from '../src/auth/login-failures-repo.js';
import { ADMIN, Browser, buildTestApp, DRIVERS, type TestApp } from './helpers.js';

describe.each(DRIVERS)('accounts and web sessions (%s)', (driver) => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });
  const start = async (env: Record<string, string> = {}) => {
    t = await buildTestApp(driver, env);
    return t.app;
  };

  it('login returns a token, its expiry and the user, and sets an HttpOnly SameSite=Strict fingerprint cookie', async () => {
    const app = await start();
    const b = new Browser(app);
    const res = await b.login();
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.user).toMatchObject({ username: 'admin', role: 'admin' });
    expect(body.user.permissions).toContain('users:manage');
    expect(new Date(body.expiresAt).getTime()).toBeGreaterThan(Date.now() + 14 * 60_000);
    expect(res.headers['cache-control']).toBe('no-store');
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(/tether_fp=/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).not.toContain(body.token);
    // The JWT is HS256 with the documented claims and carries only the fingerprint's hash.
    const [header, payload] = body.token
      .split('.')
      .slice(0, 2)
      .map((p: string) => JSON.parse(Buffer.from(p, 'base64url').toString()));
    expect(header.alg).toBe('HS256');
    expect(Object.keys(payload).sort()).toEqual([
      'aud',
      'exp',
      'fph',
      'iat',
      'iss',
      'jti',
      'role',
      'sid',
      'sub',
    ]);
    expect(payload.exp - payload.iat).toBe(15 * 60);
    expect(payload.fph).not.toBe(b.cookies.get('tether_fp'));
    expect((await b.request('GET', '/api/auth/me')).json().user.username).toBe('admin');
  });

  it('login creates exactly one live session row', async () => {
    const app = await start();
    await new Browser(app).login();
    const rows = await app.auth.sessions.listLive();
    expect(rows).toHaveLength(1);
  });

  it('a second login invalidates the first with SESSION_REPLACED', async () => {
    const app = await start();
    const first = new Browser(app);
    const second = new Browser(app);
    await first.login();
    await second.login();
    const res = await first.request('GET', '/api/auth/me');
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe(ErrorCode.SESSION_REPLACED);
    expect((await second.request('GET', '/api/auth/me')).statusCode).toBe(200);
  });

  it('twenty concurrent logins of one user leave exactly one live session and only its token works', async () => {
    const app = await start({ LOGIN_RATE_LIMIT: '100' });
    const browsers = Array.from({ length: 20 }, () => new Browser(app));
    const results = await Promise.all(browsers.map((b) => b.login()));
    expect(results.every((r) => r.statusCode === 200)).toBe(true);
    const live = await app.auth.sessions.listLive();
    expect(live).toHaveLength(1);
    const statuses = await Promise.all(
      browsers.map((b) => b.request('GET', '/api/auth/me').then((r) => r.statusCode)),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 401)).toHaveLength(19);
  });

  it('the login write, run twenty times at once for one user, leaves exactly one live session', async () => {
    // Straight to the database, past argon2's queue: the statements really overlap here, so on
    // PostgreSQL later ones meet the one-live-session index and are retried.
    const app = await start();
    await new Browser(app).login();
    const [first] = await app.auth.sessions.listLive();
    const userId = first!.userId;
    const at = new Date();
    const ids = Array.from({ length: 20 }, () => randomUUID());
    const results = await Promise.all(
      ids.map((id) =>
        app.auth.sessions.replaceLive({
          userId,
          nameKey: nameKey(ADMIN.username),
          audit: { username: ADMIN.username, ip: null },
          session: {
            id,
            tokenId: `jti-${id}`,
            fingerprintHash: 'fph',
            createdAt: at,
            expiresAt: new Date(at.getTime() + 60_000),
          },
        }),
      ),
    );
    expect(results.every((r) => Array.isArray(r))).toBe(true);
    const live = await app.auth.sessions.listLive();
    expect(live).toHaveLength(1);
    expect(ids).toContain(live[0]!.id);
    // Every session but the survivor was revoked by exactly one of the writes.
    const revoked = results.flatMap((r) => r ?? []);
    expect(new Set(revoked).size).toBe(revoked.length);
    expect(revoked.sort()).toEqual([first!.id, ...ids.filter((id) => id !== live[0]!.id)].sort());
    // A user that no longer exists gets no session.
    expect(
      await app.auth.sessions.replaceLive({
        userId: randomUUID(),
        nameKey: nameKey('nobody'),
        audit: { username: 'nobody', ip: null },
        session: { id: randomUUID(), tokenId: 'x', fingerprintHash: 'y', createdAt: at, expiresAt: at },
      }),
    ).toBeNull();
  });

  it('logout invalidates the session and clears the cookie', async () => {
    const app = await start();
    const b = new Browser(app);
    await b.login();
    const token = b.token;
    const cookie = b.cookies.get('tether_fp')!;
    expect((await b.request('POST', '/api/auth/logout')).statusCode).toBe(204);
    expect(b.cookies.has('tether_fp')).toBe(false);
    // Even with the old cookie restored, the token's session is gone.
    b.cookies.set('tether_fp', cookie);
    b.token = token;
    const res = await b.request('GET', '/api/auth/me');
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe(ErrorCode.SESSION_REVOKED);
  });

  it('a session idle past SESSION_IDLE_TIMEOUT is rejected with SESSION_IDLE_TIMEOUT', async () => {
    const app = await start({ SESSION_IDLE_TIMEOUT: '1s' });
    const b = new Browser(app);
    await b.login();
    await new Promise((r) => setTimeout(r, 1_300));
    const res = await b.request('GET', '/api/auth/me');
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe(ErrorCode.SESSION_IDLE_TIMEOUT);
  });

  it('activity slides the idle window', async () => {
    const app = await start({ SESSION_IDLE_TIMEOUT: '2s' });
    const b = new Browser(app);
    await b.login();
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 1_100));
      expect((await b.request('GET', '/api/auth/me')).statusCode).toBe(200);
    }
  });

  it('a session past SESSION_ABSOLUTE_TIMEOUT is rejected with SESSION_EXPIRED even while active', async () => {
    const app = await start({ SESSION_IDLE_TIMEOUT: '2s', SESSION_ABSOLUTE_TIMEOUT: '2s' });
    const b = new Browser(app);
    await b.login();
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await b.request('GET', '/api/auth/me')).statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, 1_200));
    const res = await b.request('GET', '/api/auth/me');
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe(ErrorCode.SESSION_EXPIRED);
  });

  it("rejects a token presented without its fingerprint cookie, or with another browser's", async () => {
    const app = await start({ ALLOW_REGISTRATION: 'true' });
    const a = new Browser(app);
    await a.login();
    const thief = new Browser(app);
    thief.token = a.token;
    let res = await thief.request('GET', '/api/auth/me');
    expect(res.json().error.code).toBe(ErrorCode.FINGERPRINT_MISMATCH);
    await thief.request('POST', '/api/auth/register', { username: 'mallory', password: 'mallory-pass-1' });
    await thief.login('mallory', 'mallory-pass-1');
    thief.token = a.token;
    res = await thief.request('GET', '/api/auth/me');
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe(ErrorCode.FINGERPRINT_MISMATCH);
  });

  it('rejects tampered tokens, alg=none and tokens signed with another secret', async () => {
    const app = await start();
    const b = new Browser(app);
    await b.login();
    const [h, p] = b.token!.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const forged = { ...claims, role: 'admin', sub: '00000000-0000-4000-8000-000000000000' };
    const candidates = [
      `${h}.${enc(forged)}.${b.token!.split('.')[2]}`,
      `${enc({ alg: 'none', typ: 'JWT' })}.${enc(claims)}.`,
      (() => {
        const head = enc({ alg: 'HS256', typ: 'JWT' });
        const body = enc(claims);
        const sig = createHmac('sha256', 'x'.repeat(64)).update(`${head}.${body}`).digest('base64url');
        return `${head}.${body}.${sig}`;
      })(),
      'not-a-jwt',
    ];
    for (const token of candidates) {
      b.token = token;
      const res = await b.request('GET', '/api/auth/me');
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe(ErrorCode.TOKEN_INVALID);
    }
  });

  it('refuses tokens signed with the right key but for another issuer or audience, or without exp', async () => {
    const app = await start();
    const b = new Browser(app);
    await b.login();
    const [, p] = b.token!.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    expect(claims).toMatchObject({ iss: 'tether', aud: 'tether-api' });
    const { exp: _exp, ...noExp } = claims;
    const { iss: _iss, ...noIss } = claims;
    for (const forged of [
      { ...claims, iss: 'someone-else' },
      { ...claims, aud: 'another-app' },
      noExp,
      noIss,
    ]) {
      // Signed with the broker's own key: only the claims are wrong.
      const head = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
      const body = Buffer.from(JSON.stringify(forged)).toString('base64url');
      const sig = createHmac('sha256', t!.config.jwt.secret).update(`${head}.${body}`).digest('base64url');
      b.token = `${head}.${body}.${sig}`;
      const res = await b.request('GET', '/api/auth/me');
      expect(res.statusCode, JSON.stringify(forged)).toBe(401);
      expect(res.json().error.code).toBe(ErrorCode.TOKEN_INVALID);
    }
  });

  it('protected routes require authentication', async () => {
    const app = await start();
    const anon = new Browser(app);
    for (const [method, url] of [
      ['GET', '/api/auth/me'],
      ['POST', '/api/auth/logout'],
      ['POST', '/api/auth/refresh'],
      ['POST', '/api/auth/password'],
      ['GET', '/api/admin/users'],
      ['GET', '/api/admin/sessions'],
      ['GET', '/api/admin/audit'],
    ] as const) {
      const res = await anon.request(method, url, method === 'GET' ? undefined : {});
      expect(res.statusCode, `${method} ${url}`).toBe(401);
      expect(res.json().error.code).toBe(ErrorCode.UNAUTHENTICATED);
    }
  });

  it('GET /api/auth/status answers without error whether or not the caller is signed in', async () => {
    const app = await start();
    const b = new Browser(app);
    expect((await b.request('GET', '/api/auth/status')).json()).toEqual({ authenticated: false });
    b.token = 'garbage';
    const anon = await b.request('GET', '/api/auth/status');
    expect(anon.statusCode).toBe(200);
    expect(anon.json()).toEqual({ authenticated: false });
    await b.login();
    const res = await b.request('GET', '/api/auth/status');
    expect(res.json()).toMatchObject({ authenticated: true, user: { username: 'admin' } });
  });

  it('refresh rotates the token within the same session', async () => {
    const app = await start();
    const b = new Browser(app);
    await b.login();
    const before = b.token;
    await new Promise((r) => setTimeout(r, 1_100)); // iat has one-second resolution
    const res = await b.request('POST', '/api/auth/refresh');
    expect(res.statusCode).toBe(200);
    const next = res.json();
    expect(next.token).not.toBe(before);
    b.token = next.token;
    expect((await b.request('GET', '/api/auth/me')).statusCode).toBe(200);
    expect(await app.auth.sessions.listLive()).toHaveLength(1);
  });

  it('a refresh retires the token it replaced', async () => {
    const app = await start();
    const b = new Browser(app);
    await b.login();
    const old = b.token!;
    const res = await b.request('POST', '/api/auth/refresh');
    expect(res.statusCode).toBe(200);
    b.token = old;
    const stale = await b.request('GET', '/api/auth/me');
    expect(stale.statusCode).toBe(401);
    expect(stale.json().error.code).toBe(ErrorCode.TOKEN_SUPERSEDED);
    // Nor can the old token refresh itself back to life.
    expect((await b.request('POST', '/api/auth/refresh')).json().error.code).toBe(ErrorCode.TOKEN_SUPERSEDED);
    b.token = res.json().token;
    expect((await b.request('GET', '/api/auth/me')).statusCode).toBe(200);
  });

  it('answers unknown user and wrong password with the same status and body, after comparable work', async () => {
    const app = await start();
    const b = new Browser(app);
    const timeIt = async (username: string) => {
      const t0 = performance.now();
      const res = await b.request('POST', '/api/auth/login', { username, password: 'wrong-password-1' });
      return { ms: performance.now() - t0, status: res.statusCode, body: res.body };
    };
    await timeIt('warmup-user'); // the first unknown-user call also builds the dummy hash
    const unknown = [];
    const wrong = [];
    for (let i = 0; i < 3; i++) {
      unknown.push(await timeIt(`nobody${i}`));
      wrong.push(await timeIt(ADMIN.username));
    }
    expect(new Set([...unknown, ...wrong].map((r) => `${r.status} ${r.body}`)).size).toBe(1);
    expect(unknown[0]!.status).toBe(401);
    const median = (xs: number[]) => xs.sort((x, y) => x - y)[1]!;
    // An unknown user still pays for a full argon2id verification (tens of ms), not a lookup.
    expect(median(unknown.map((r) => r.ms))).toBeGreaterThan(median(wrong.map((r) => r.ms)) * 0.5);
  });

  it('rejects passwords over 1024 characters before hashing, and accepts exactly 1024', async () => {
    const app = await start({ ALLOW_REGISTRATION: 'true' });
    const b = new Browser(app);
    let res = await b.request('POST', '/api/auth/login', { username: 'admin', password: 'x'.repeat(1025) });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.fields.password).toMatch(/1024/);
    res = await b.request('POST', '/api/auth/register', { username: 'longpass', password: 'y'.repeat(1025) });
    expect(res.statusCode).toBe(400);
    res = await b.request('POST', '/api/auth/register', { username: 'longpass', password: 'y'.repeat(1024) });
    expect(res.statusCode).toBe(201);
    expect((await b.login('longpass', 'y'.repeat(1024))).statusCode).toBe(200);
    // Never truncated: a prefix of the password is not the password.
    expect((await new Browser(app).login('longpass', 'y'.repeat(1023))).statusCode).toBe(401);
  });

  it('locks an account after repeated failures for LOGIN_LOCKOUT only, and unknown users lock alike', async () => {
    const app = await start({ LOGIN_MAX_FAILURES: '3', LOGIN_LOCKOUT: '1s', LOGIN_RATE_LIMIT: '1000' });
    const b = new Browser(app);
    for (let i = 0; i < 3; i++) {
      expect(
        (await b.request('POST', '/api/auth/login', { username: 'admin', password: 'bad-password' }))
          .statusCode,
      ).toBe(401);
    }
    const locked = await b.login();
    expect(locked.statusCode).toBe(423);
    expect(locked.json().error.code).toBe(ErrorCode.ACCOUNT_LOCKED);
    expect(locked.json().error.retryAfter).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++)
      await b.request('POST', '/api/auth/login', { username: 'ghost', password: 'bad-password' });
    const ghost = await b.request('POST', '/api/auth/login', { username: 'ghost', password: 'bad-password' });
    expect(ghost.statusCode).toBe(423);
    expect(Object.keys(ghost.json().error).sort()).toEqual(Object.keys(locked.json().error).sort());
    await new Promise((r) => setTimeout(r, 1_100));
    expect((await b.login()).statusCode).toBe(200);
    const types = (await app.audit.query({ limit: 100 })).map((e) => e.type);
    expect(types.filter((type) => type === 'auth.lockout')).toHaveLength(2);
  });

  it('a name stays locked across a restart (the lock is in the database), known or not', async () => {
    await start({ LOGIN_MAX_FAILURES: '2', LOGIN_LOCKOUT: '1m', LOGIN_RATE_LIMIT: '1000' });
    // The same database across two broker lifetimes (for PGlite, a directory instead of memory).
    const config = {
      ...t!.config,
      database:
        driver === 'pglite'
          ? { ...t!.config.database, dataDir: `${t!.config.dataDir}/pglite` }
          : t!.config.database,
    };
    const dataDir = t!.config.dataDir;
    await t!.app.close();
    t = { app: t!.app, config, close: async () => rmSync(dataDir, { recursive: true, force: true }) };

    const first = await buildApp(config, { logger: false });
    await first.ready();
    const b = new Browser(first);
    for (const username of ['admin', 'ADMIN', 'ghost', 'Ghost']) {
      await b.request('POST', '/api/auth/login', { username, password: 'bad-password' });
    }
    await first.close();

    const second = await buildApp(config, { logger: false });
    try {
      await second.ready();
      const other = new Browser(second);
      for (const username of ['admin', 'ghost']) {
        const res = await other.request('POST', '/api/auth/login', { username, password: 'bad-password' });
        expect(res.statusCode, username).toBe(423);
        expect(res.json().error.code).toBe(ErrorCode.ACCOUNT_LOCKED);
      }
      // The right password does not get through a lock either.
      expect((await other.login()).statusCode).toBe(423);
      // An admin unlock lifts it.
      await second.auth.failures.clear(nameKey(ADMIN.username));
      expect((await other.login()).statusCode).toBe(200);
    } finally {
      await second.close();
    }
  });

  it('rate-limits login attempts per IP with RATE_LIMITED', async () => {
    const app = await start({ LOGIN_RATE_LIMIT: '3' });
    const b = new Browser(app);
    for (let i = 0; i < 3; i++)
      await b.request('POST', '/api/auth/login', { username: `u${i}`, password: 'whatever1' });
    const res = await b.request('POST', '/api/auth/login', { username: 'admin', password: ADMIN.password });
    expect(res.statusCode).toBe(429);
    expect(res.json().error.code).toBe(ErrorCode.RATE_LIMITED);
  });

  it('changes the own password only with the current one', async () => {
    const app = await start();
    const b = new Browser(app);
    await b.login();
    let res = await b.request('POST', '/api/auth/password', {
      currentPassword: 'nope-nope',
      newPassword: 'new-Password-456',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.fields.currentPassword).toBeDefined();
    res = await b.request('POST', '/api/auth/password', {
      currentPassword: ADMIN.password,
      newPassword: 'short',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.fields.newPassword).toMatch(/at least 8/);
    res = await b.request('POST', '/api/auth/password', {
      currentPassword: ADMIN.password,
      newPassword: 'new-Password-456',
    });
    expect(res.statusCode).toBe(204);
    expect((await b.request('GET', '/api/auth/me')).statusCode).toBe(200);
    expect((await new Browser(app).login()).statusCode).toBe(401);
    expect((await new Browser(app).login('ADMIN', 'new-Password-456')).statusCode).toBe(200);
  });

  it('refuses self-registration unless ALLOW_REGISTRATION=true, and usernames are case-insensitive', async () => {
    let app = await start();
    let res = await new Browser(app).request('POST', '/api/auth/register', {
      username: 'bob',
      password: 'bob-password',
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe(ErrorCode.REGISTRATION_DISABLED);
    await t!.close();
    app = await start({ ALLOW_REGISTRATION: 'true' });
    const b = new Browser(app);
    expect(
      (await b.request('POST', '/api/auth/register', { username: 'bob', password: 'bob-password' }))
        .statusCode,
    ).toBe(201);
    res = await b.request('POST', '/api/auth/register', { username: 'BOB', password: 'bob-password' });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe(ErrorCode.USERNAME_TAKEN);
    const me = await b.login('Bob', 'bob-password');
    expect(me.json().user).toMatchObject({ username: 'bob', role: 'user' });
    expect(me.json().user.permissions).not.toContain('users:manage');
  });

  it('answers malformed bodies with a clear 400 and never a 500', async () => {
    const app = await start();
    const b = new Browser(app);
    for (const payload of ['{bad json', '[]', '"x"', '{"username":5,"password":[]}']) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/auth/login',
        payload,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.statusCode, payload).toBe(400);
      expect(res.json().error.code).toMatch(/BAD_REQUEST|VALIDATION_FAILED/);
    }
    const res = await b.request('POST', '/api/auth/login', { username: '', password: '' });
    expect(res.json().error.fields).toMatchObject({
      username: expect.any(String),
      password: expect.any(String),
    });
  });

  it('records audit events for login success and failure, logout and revocation', async () => {
    const app = await start();
    const b = new Browser(app);
    await b.request('POST', '/api/auth/login', { username: 'admin', password: 'wrong-one' });
    await b.login();
    await new Browser(app).login();
    await b.login();
    await b.request('POST', '/api/auth/logout');
    const events = await app.audit.query({ limit: 100 });
    const summary = events.map((e) => `${e.type}:${e.outcome}`);
    expect(summary).toEqual(
      expect.arrayContaining([
        'auth.login:failure',
        'auth.login:success',
        'session.revoked:success',
        'auth.logout:success',
      ]),
    );
    expect(JSON.stringify(events)).not.toContain(ADMIN.password);
  });

  it('the periodic sweep marks expired sessions revoked', async () => {
    const app = await start({ SESSION_IDLE_TIMEOUT: '1s' });
    await new Browser(app).login();
    await new Promise((r) => setTimeout(r, 1_200));
    expect(await app.auth.sweepSessions()).toMatchObject({ expired: 1 });
    expect(await app.auth.sessions.listLive()).toHaveLength(0);
  });

  it('GET /api/health reports the database driver and status', async () => {
    const app = await start();
    const res = await app.inject({ method: 'GET', url: '/api/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok', database: { status: 'ok', driver } });
  });
});
