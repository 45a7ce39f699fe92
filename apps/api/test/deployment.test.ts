import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { ErrorCode } from '@tether/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveWebDist } from '../src/plugins/web.js';
import { ADMIN, Browser, buildTestApp, DRIVERS, type TestApp } from './helpers.js';
import { fakeWebDist } from './http-browser.js';
import { TestTerminalClient } from './ws-client.js';

const login = (t: TestApp, remoteAddress: string, headers: Record<string, string> = {}) =>
  t.app.inject({
    method: 'POST',
    url: '/api/auth/login',
    remoteAddress,
    headers,
    payload: { username: ADMIN.username, password: ADMIN.password },
  });

describe.each(DRIVERS)('TRUST_PROXY (%s)', (driver) => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const sessionIp = async () => (await t!.app.auth.sessions.listLive())[0]?.ip;

  it('without it, X-Forwarded-For is ignored: sessions and rate limits use the peer address', async () => {
    t = await buildTestApp(driver, { LOGIN_RATE_LIMIT: '2' });
    const spoof = (ip: string) => ({ 'x-forwarded-for': ip });
    expect((await login(t, '10.0.0.5', spoof('198.51.100.1'))).statusCode).toBe(200);
    expect(await sessionIp()).toBe('10.0.0.5');
    expect((await login(t, '10.0.0.5', spoof('198.51.100.2'))).statusCode).toBe(200);
    // A new X-Forwarded-For per attempt does not buy a new budget.
    const limited = await login(t, '10.0.0.5', spoof('198.51.100.3'));
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe(ErrorCode.RATE_LIMITED);
    // …and cookies are not marked Secure on the word of a header.
    const other = await login(t, '10.0.0.6', { 'x-forwarded-proto': 'https' });
    expect(other.headers['set-cookie']).not.toMatch(/Secure/);
  });

  it('TRUST_PROXY=true: the client address comes from X-Forwarded-For, for sessions and rate limits', async () => {
    t = await buildTestApp(driver, { LOGIN_RATE_LIMIT: '2', TRUST_PROXY: 'true' });
    const via = (ip: string) => ({ 'x-forwarded-for': ip, 'x-forwarded-proto': 'https' });
    const first = await login(t, '10.0.0.5', via('198.51.100.1'));
    expect(first.statusCode).toBe(200);
    expect(await sessionIp()).toBe('198.51.100.1');
    // Behind TLS termination the fingerprint cookie is Secure.
    expect(first.headers['set-cookie']).toMatch(/Secure/);
    expect((await login(t, '10.0.0.5', via('198.51.100.1'))).statusCode).toBe(200);
    expect((await login(t, '10.0.0.5', via('198.51.100.1'))).statusCode).toBe(429);
    // Another client behind the same proxy has its own budget.
    expect((await login(t, '10.0.0.5', via('198.51.100.2'))).statusCode).toBe(200);
  });

  it('TRUST_PROXY=<proxy address> trusts only that proxy; TRUST_PROXY=1 takes the last hop', async () => {
    t = await buildTestApp(driver, { TRUST_PROXY: '10.0.0.5', LOGIN_RATE_LIMIT: '1000' });
    await login(t, '10.0.0.5', { 'x-forwarded-for': '198.51.100.1' });
    expect(await sessionIp()).toBe('198.51.100.1');
    await login(t, '10.0.0.99', { 'x-forwarded-for': '198.51.100.2' });
    expect(await sessionIp()).toBe('10.0.0.99');
    await t.close();

    t = await buildTestApp(driver, { TRUST_PROXY: '1', LOGIN_RATE_LIMIT: '1000' });
    // The client wrote the first entry itself; the proxy appended the address it saw.
    await login(t, '10.0.0.5', { 'x-forwarded-for': '203.0.113.66, 198.51.100.3' });
    expect(await sessionIp()).toBe('198.51.100.3');
  });
});

describe('CORS and security headers', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('allows listed origins with credentials and nobody else', async () => {
    t = await buildTestApp('pglite', { CORS_ORIGIN: 'https://ops.example.com, https://other.example.com' });
    const preflight = (origin: string) =>
      t!.app.inject({
        method: 'OPTIONS',
        url: '/api/auth/login',
        headers: { origin, 'access-control-request-method': 'POST' },
      });
    const ok = await preflight('https://ops.example.com');
    expect(ok.statusCode).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe('https://ops.example.com');
    expect(ok.headers['access-control-allow-credentials']).toBe('true');
    expect((await preflight('https://other.example.com')).headers['access-control-allow-origin']).toBe(
      'https://other.example.com',
    );
    expect((await preflight('https://evil.example')).headers['access-control-allow-origin']).toBeUndefined();
    const get = await t.app.inject({
      method: 'GET',
      url: '/api/health',
      headers: { origin: 'https://ops.example.com' },
    });
    expect(get.headers['access-control-allow-origin']).toBe('https://ops.example.com');

    // The terminal socket accepts the same list (and the broker's own origin), nothing else.
    const base = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const b = new Browser(t.app);
    await b.login();
    await TestTerminalClient.connect(base, b, { origin: 'https://ops.example.com' });
    await TestTerminalClient.connect(base, b, { origin: base });
    await expect(TestTerminalClient.connect(base, b, { origin: 'https://evil.example' })).rejects.toThrow(
      /403/,
    );
  });

  it('sends no CORS headers at all without CORS_ORIGIN', async () => {
    t = await buildTestApp('pglite');
    const res = await t.app.inject({
      method: 'GET',
      url: '/api/health',
      headers: { origin: 'https://ops.example.com' },
    });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('sets security headers and a CSP that allows the SPA’s own scripts by hash and nothing inline', async () => {
    t = await buildTestApp('pglite', { WEB_DIST: await fakeWebDist() });
    const res = await t.app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cross-origin-opener-policy']).toBe('same-origin');
    // HSTS belongs to the TLS-terminating proxy (README: TLS).
    expect(res.headers['strict-transport-security']).toBeUndefined();
    const csp = Object.fromEntries(
      String(res.headers['content-security-policy'])
        .split(';')
        .map((d) => d.trim().split(/\s+/))
        .map(([name, ...values]) => [name, values]),
    ) as Record<string, string[]>;
    expect(csp['default-src']).toEqual(["'self'"]);
    expect(csp['script-src']?.[0]).toBe("'self'");
    expect(csp['script-src']?.slice(1)).toEqual([expect.stringMatching(/^'sha256-[A-Za-z0-9+/=]+'$/)]);
    expect(csp['script-src']).not.toContain("'unsafe-inline'");
    expect(csp['script-src-attr']).toEqual(["'none'"]);
    // xterm.js and React position things with inline styles.
    expect(csp['style-src']).toEqual(["'self'", "'unsafe-inline'"]);
    // 'self' covers same-origin ws:/wss: in CSP Level 3 browsers.
    expect(csp['connect-src']).toEqual(["'self'"]);
    expect(csp['object-src']).toEqual(["'none'"]);
    expect(csp['frame-ancestors']).toEqual(["'self'"]);
    expect(csp['upgrade-insecure-requests']).toBeUndefined();
  });
});

describe('the built web app', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });
  const webDist = resolveWebDist(undefined);
  if (!webDist && process.env.CI) throw new Error('apps/web/dist is missing: build before testing');

  it.skipIf(!webDist)(
    'serves the real build precompressed (brotli, gzip) with Vary, cached for a year, and no source maps',
    async () => {
      t = await buildTestApp('pglite', { WEB_DIST: webDist! });
      const index = (await t.app.inject({ url: '/' })).body;
      const scripts = [...index.matchAll(/(?:src|href)="\.\/(assets\/[^"]+\.(?:js|css))"/g)].map(
        (m) => m[1]!,
      );
      expect(scripts.length).toBeGreaterThan(0);
      let identityBytes = 0;
      let brotliBytes = 0;
      for (const asset of scripts) {
        const plain = await t.app.inject({ url: `/${asset}`, headers: { 'accept-encoding': 'identity' } });
        expect(plain.statusCode).toBe(200);
        expect(plain.headers['content-encoding']).toBeUndefined();
        expect(plain.headers.vary).toMatch(/accept-encoding/i);
        for (const [encoding, decode] of [
          ['br', brotliDecompressSync],
          ['gzip', gunzipSync],
        ] as const) {
          const res = await t.app.inject({ url: `/${asset}`, headers: { 'accept-encoding': `${encoding}` } });
          expect(res.statusCode, asset).toBe(200);
          expect(res.headers['content-encoding']).toBe(encoding);
          expect(res.headers.vary).toMatch(/accept-encoding/i);
          expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
          expect(res.headers['content-type']).toMatch(asset.endsWith('.js') ? /javascript/ : /css/);
          expect(decode(res.rawPayload).equals(plain.rawPayload), `${asset} ${encoding}`).toBe(true);
          if (encoding === 'br') brotliBytes += res.rawPayload.length;
        }
        identityBytes += plain.rawPayload.length;
        // Maps: not written by the build, and never served if one is there.
        expect((await t.app.inject({ url: `/${asset}.map` })).statusCode).toBe(404);
      }
      console.info(`first visit: ${identityBytes} bytes of JS/CSS, ${brotliBytes} with brotli`);
      expect(brotliBytes).toBeLessThan(identityBytes / 3);
      expect(readdirSync(join(webDist!, 'assets')).filter((f) => f.endsWith('.map'))).toEqual([]);
    },
  );

  it('never serves a source map, even when a build left one', async () => {
    const dist = await fakeWebDist();
    writeFileSync(join(dist, 'assets/app-abc123.js.map'), '{"version":3,"sources":["secret.ts"]}');
    t = await buildTestApp('pglite', { WEB_DIST: dist });
    expect((await t.app.inject({ url: '/assets/app-abc123.js' })).statusCode).toBe(200);
    expect((await t.app.inject({ url: '/assets/app-abc123.js.map' })).statusCode).toBe(404);
  });
});

describe('BASE_PATH', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('puts every route, the WebSocket, metrics and the SPA under the prefix, and nothing outside it', async () => {
    t = await buildTestApp('pglite', { BASE_PATH: '/ssh-ws', WEB_DIST: await fakeWebDist() });
    const get = (url: string) => t!.app.inject({ method: 'GET', url });
    expect((await get('/ssh-ws/api/health')).statusCode).toBe(200);
    expect((await get('/ssh-ws/metrics')).statusCode).toBe(200);
    for (const outside of ['/api/health', '/metrics', '/api/auth/status', '/assets/app-abc123.js']) {
      const res = await get(outside);
      expect(res.statusCode, outside).toBe(404);
      expect(res.json().error.code).toBe(ErrorCode.NOT_FOUND);
    }
    const index = await get('/ssh-ws/');
    expect(index.body).toContain('<base href="/ssh-ws/">');
    expect((await get('/ssh-ws/admin/audit')).body).toContain('<base href="/ssh-ws/">');
    expect((await get('/ssh-ws/assets/app-abc123.js')).statusCode).toBe(200);
    const bare = await get('/ssh-ws');
    expect(bare.statusCode).toBe(302);
    expect(bare.headers.location).toBe('/ssh-ws/');
    // Unknown API paths under the prefix are JSON 404s, not the SPA.
    expect((await get('/ssh-ws/api/nope')).json().error.code).toBe(ErrorCode.NOT_FOUND);

    const b = new Browser(t.app, '/ssh-ws');
    const res = await b.login();
    expect(res.statusCode).toBe(200);
    expect(String(res.headers['set-cookie'])).toMatch(/Path=\/ssh-ws\/api/);
    const base = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const socket = await TestTerminalClient.connect(`${base}/ssh-ws`, b);
    socket.send({ type: 'auth', token: b.token! });
    await socket.waitForMessage('authenticated');
    await expect(TestTerminalClient.connect(base, b)).rejects.toThrow(/404/);
  });
});
