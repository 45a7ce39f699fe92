import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { CloseCode, ErrorCode } from '@tether/protocol';
import { startPostgres, type TestPostgres } from '@tether/testkit';
import type { FastifyInstance } from 'fastify';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { ADMIN, Browser } from './helpers.js';
import { TestTerminalClient } from './ws-client.js';

const skipReason = existsSync('/usr/lib/postgresql') ? null : 'PostgreSQL is not installed';
if (skipReason && process.env.CI) throw new Error(skipReason);

/**
 * PostgreSQL goes away and comes back. This file starts its OWN cluster (not the run's shared
 * one), so stopping it cannot disturb other test files. PGlite is in-process and cannot "go
 * away", so this is PostgreSQL only.
 */
describe.skipIf(skipReason)('PostgreSQL unavailable', () => {
  let pg: TestPostgres;
  let app: FastifyInstance;
  let base: string;
  const dataDir = `/tmp/tether-test-${randomBytes(6).toString('hex')}`;
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    pg = await startPostgres();
    const config = loadConfig({
      NODE_ENV: 'test',
      DATA_DIR: dataDir,
      JWT_SECRET: randomBytes(32).toString('hex'),
      ADMIN_PASSWORD: ADMIN.password,
      DATABASE_URL: pg.url,
      LOGIN_RATE_LIMIT: '1000',
      LOG_LEVEL: 'silent',
      DATABASE_LOCK_TIMEOUT: '1500ms',
      SSH_ALLOWED_TARGETS: '127.0.0.0/8',
      TERMINAL_HOST: 'embedded',
    });
    app = await buildApp(config, { logger: false });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    try {
      pg?.resume();
    } catch {
      // already running
    }
    await app?.close();
    pg?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers 503 SERVICE_UNAVAILABLE without minting tokens, keeps running, and recovers by itself', async () => {
    const admin = new Browser(app);
    expect((await admin.login()).statusCode).toBe(200);
    const watching = await TestTerminalClient.authed(base, admin);

    pg.pause();

    const login = await new Browser(app).login();
    expect(login.statusCode).toBe(503);
    expect(login.json()).toEqual({
      error: { code: ErrorCode.SERVICE_UNAVAILABLE, message: expect.stringMatching(/database/i) },
    });
    expect(login.headers['retry-after']).toBe('5');
    // No token, no fingerprint cookie: nothing was issued.
    expect(login.body).not.toMatch(/token/);
    expect(login.headers['set-cookie']).toBeUndefined();

    const me = await admin.request('GET', '/api/auth/me');
    expect(me.statusCode).toBe(503);
    expect(me.json().error.code).toBe(ErrorCode.SERVICE_UNAVAILABLE);
    expect((await admin.request('GET', '/api/admin/users')).statusCode).toBe(503);
    expect((await admin.request('POST', '/api/auth/refresh')).statusCode).toBe(503);
    const health = await app.inject({ method: 'GET', url: '/api/health' });
    expect(health.statusCode).toBe(503);
    expect(health.json()).toMatchObject({ status: 'degraded', database: { status: 'down' } });
    // Metrics keep working (operators need them most now).
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);

    // A new socket is told to come back later; it is not told its credentials are bad.
    const fresh = await TestTerminalClient.connect(base, admin);
    fresh.send({ type: 'auth', token: admin.token! });
    expect((await fresh.waitForMessage('error')).code).toBe(ErrorCode.SERVICE_UNAVAILABLE);
    expect((await fresh.waitForClose()).code).toBe(CloseCode.TRY_AGAIN_LATER);

    // An already-authenticated socket is not dropped because its session cannot be checked.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(watching.closed).toBeNull();

    pg.resume();

    await expect
      .poll(async () => (await admin.request('GET', '/api/auth/me')).statusCode, { timeout: 20_000 })
      .toBe(200);
    expect((await app.inject({ method: 'GET', url: '/api/health' })).statusCode).toBe(200);
    // A request may still meet a pooled connection the outage broke: it gets a 503 with
    // Retry-After, like any client during the outage, and the next attempt goes through.
    await expect.poll(async () => (await new Browser(app).login()).statusCode, { timeout: 20_000 }).toBe(200);
    // That login replaced the admin's session: the old socket is closed as "signed in elsewhere".
    expect((await watching.waitForClose()).code).toBe(CloseCode.SIGNED_IN_ELSEWHERE);
    expect(unhandled).toEqual([]);
  });

  it('a locked table answers 503 within the lock timeout, the socket hears 1013, and health stays up', async () => {
    const admin = new Browser(app);
    await expect.poll(async () => (await admin.login()).statusCode, { timeout: 20_000 }).toBe(200);
    // Someone holds an exclusive lock on the sessions table (a migration, a stuck transaction).
    const holder = postgres(pg.url, { max: 1, onnotice: () => {} });
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const locked = new Promise<void>((resolve) => {
      void holder.begin(async (tx) => {
        await tx`lock table sessions in access exclusive mode`;
        resolve();
        await released;
      });
    });
    await locked;
    try {
      const started = Date.now();
      const me = await admin.request('GET', '/api/auth/me');
      expect(me.statusCode).toBe(503);
      expect(me.json().error.code).toBe(ErrorCode.SERVICE_UNAVAILABLE);
      expect(me.headers['retry-after']).toBe('5');
      // Bounded by DATABASE_LOCK_TIMEOUT (1.5 s here), not by how long the lock is held.
      expect(Date.now() - started).toBeLessThan(8_000);
      const login = await new Browser(app).login();
      expect(login.statusCode).toBe(503);

      const fresh = await TestTerminalClient.connect(base, admin);
      fresh.send({ type: 'auth', token: admin.token! });
      expect((await fresh.waitForMessage('error', 10_000)).code).toBe(ErrorCode.SERVICE_UNAVAILABLE);
      expect((await fresh.waitForClose()).code).toBe(CloseCode.TRY_AGAIN_LATER);

      // The pool is not held hostage: health answers.
      expect((await app.inject({ method: 'GET', url: '/api/health' })).statusCode).toBe(200);
    } finally {
      release();
      await holder.end();
    }
    expect((await admin.request('GET', '/api/auth/me')).statusCode).toBe(200);
  });
});
