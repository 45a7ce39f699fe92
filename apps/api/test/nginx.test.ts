import { CloseCode } from '@tether/protocol';
import {
  type NginxHarness,
  nginxSkipReason,
  renderNginxConfig,
  type SshdHarness,
  sshdSkipReason,
  startNginx,
  startSshd,
} from '@tether/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOG_REDACT } from '../src/app.js';
import { ADMIN, buildTestApp, type TestApp } from './helpers.js';
import { fakeWebDist, HttpBrowser, logCapture } from './http-browser.js';
import { TestTerminalClient } from './ws-client.js';

const skip = nginxSkipReason() ?? sshdSkipReason();
if (skip && process.env.CI) throw new Error(`nginx tests cannot run in CI: ${skip}`);

describe('docker/nginx/tether.conf rendering', () => {
  it('substitutes the upstreams, the listen port and the prefix, and nothing else', () => {
    const conf = renderNginxConfig({ upstreamPort: 1234, basePath: '/tools/ssh', listenPort: 5678 });
    expect(conf).toContain('server 127.0.0.1:1234 max_fails=0;');
    expect(conf).toContain('listen 127.0.0.1:5678;');
    expect(conf).toContain('location /tools/ssh/ {');
    expect(conf).toContain('return 302 /tools/ssh/;');
    const directives = conf.replace(/#.*$/gm, '');
    expect(directives).not.toMatch(/ssh-ws|api-\d+:8080|listen 80;/);
    const several = renderNginxConfig({
      upstreams: ['127.0.0.2:81', '127.0.0.3:82'],
      basePath: '',
      listenPort: 2,
    });
    expect(several).toMatch(
      /upstream tether_api \{\n {4}server 127\.0\.0\.2:81 max_fails=0;\n {4}server 127\.0\.0\.3:82 max_fails=0;\n {4}keepalive/,
    );
    const root = renderNginxConfig({ upstreamPort: 1, basePath: '', listenPort: 2 });
    expect(root).toContain('location / {');
    expect(root).not.toContain('return 302');
  });
});

/**
 * The deployable nginx config in front of the real broker under /ssh-ws/, driven over real HTTP
 * and WebSocket connections: sign-in and cookies, the SPA, the WebSocket upgrade, a terminal to a
 * real sshd, detach and byte-exact reattach, heartbeats across the proxy, and client addresses.
 */
describe.skipIf(skip)('through nginx under /ssh-ws/', () => {
  let sshd: SshdHarness;
  let nginx: NginxHarness;
  let t: TestApp;
  let base: string;
  const logs = logCapture();

  beforeAll(async () => {
    sshd = await startSshd();
    t = await buildTestApp(
      'pglite',
      {
        BASE_PATH: '/ssh-ws',
        TRUST_PROXY: '1',
        WEB_DIST: await fakeWebDist(),
        HEARTBEAT_INTERVAL: '500ms',
        HEARTBEAT_TIMEOUT: '2s',
      },
      { logger: { level: 'info', stream: logs.stream, redact: { paths: LOG_REDACT, censor: '[redacted]' } } },
    );
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    nginx = await startNginx({ upstreamPort: Number(new URL(address).port), basePath: '/ssh-ws' });
    base = `${nginx.origin}/ssh-ws`;
  });
  afterAll(async () => {
    await nginx?.stop();
    await t?.close();
    await sshd?.stop();
  });

  it('serves the SPA with its base href and CSP, and redirects the bare prefix', async () => {
    const b = new HttpBrowser(nginx.url);
    const index = await b.request('GET', '');
    expect(index.status).toBe(200);
    expect(await index.text()).toContain('<base href="/ssh-ws/">');
    const csp = index.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/script-src 'self' 'sha256-/);
    expect(csp).toContain("connect-src 'self'");
    const asset = await b.request('GET', 'assets/app-abc123.js');
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    // A client-side route deep-linked through the proxy gets the app too.
    expect((await b.request('GET', 'terminals/abc')).status).toBe(200);
    const bare = await fetch(`${nginx.origin}/ssh-ws`, { redirect: 'manual' });
    expect(bare.status).toBe(301);
    expect(bare.headers.get('location')).toBe('/ssh-ws/');
    const root = await fetch(`${nginx.origin}/`, { redirect: 'manual' });
    expect(root.headers.get('location')).toBe('/ssh-ws/');
    // The API is only under the prefix.
    expect((await fetch(`${nginx.origin}/api/health`)).status).toBe(404);
    // Metrics stay off the public edge (the broker itself still serves them to a scraper).
    expect((await fetch(`${nginx.origin}/ssh-ws/metrics`)).status).toBe(404);
    expect((await fetch(`${nginx.origin}/ssh-ws/metrics?x=1`)).status).toBe(404);
    expect((await t.app.inject({ url: '/ssh-ws/metrics' })).statusCode).toBe(200);
  });

  it('signs in through the proxy: cookie scoped to the prefix, client address from X-Forwarded-For', async () => {
    const b = new HttpBrowser(nginx.url);
    // A spoofed X-Forwarded-For is overwritten by nginx, so it reaches neither logs nor limits.
    const res = await b.login(ADMIN.username, ADMIN.password, { 'x-forwarded-for': '203.0.113.9' });
    expect(res.status).toBe(200);
    expect(b.cookiePaths.get('tether_fp')).toBe('/ssh-ws/api');
    expect((await b.request('GET', 'api/auth/me')).status).toBe(200);
    const sessions = await t.app.auth.sessions.listLive();
    expect(sessions[0]?.ip).toBe('127.0.0.1');
    // One JSON line per request, with the request id nginx generated ($request_id).
    const lines = logs.lines.filter((l) => l.url === '/ssh-ws/api/auth/me');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'request', method: 'GET', statusCode: 200, ip: '127.0.0.1' });
    expect(String(lines[0]?.reqId)).toMatch(/^[0-9a-f]{32}$/);
    expect(lines[0]?.userId).toBe(sessions[0]?.userId);
    expect(JSON.stringify(logs.lines)).not.toContain(b.token!);
    expect(JSON.stringify(logs.lines)).not.toContain(ADMIN.password);
  });

  it('opens a terminal over the proxied WebSocket, survives heartbeats, and reattaches exactly', async () => {
    const b = new HttpBrowser(nginx.url);
    expect((await b.login()).status).toBe(200);
    // A browser on the proxy's origin: the Origin check passes because nginx keeps the Host port.
    const headers = { origin: nginx.origin };
    const c = new TestTerminalClient(base, b, headers);
    await c.opened;
    c.send({ type: 'auth', token: b.token! });
    await c.waitForMessage('authenticated');
    c.send({
      type: 'open',
      target: { host: sshd.host, port: sshd.port, username: sshd.username },
      auth: { method: 'password', password: sshd.password },
      cols: 100,
      rows: 30,
    });
    await c.waitForMessage('hostkey_prompt', 15_000);
    c.send({ type: 'hostkey_decision', accept: true });
    const ready = await c.waitForMessage('ready', 15_000);
    const id = ready.terminalId;
    await c.waitForText('$ ');
    c.type('echo be""fore\n');
    await c.waitForText('before');

    // Idle for several heartbeat timeouts: pings and pongs cross the proxy, the socket stays.
    await new Promise((r) => setTimeout(r, 5_000));
    expect(c.closed).toBeNull();

    // Detach, let output happen while nobody watches, reattach from the last rendered byte.
    const seen = c.nextOffset!;
    c.close();
    await c.waitForClose();
    const d = new TestTerminalClient(base, b, headers);
    await d.opened;
    d.send({ type: 'auth', token: b.token! });
    await d.waitForMessage('authenticated');
    d.send({ type: 'attach', terminalId: id, resumeFrom: seen });
    expect(await d.waitForMessage('ready')).toMatchObject({ terminalId: id, offset: seen, replay: true });
    d.type('echo af""ter\n');
    await d.waitForText('after');
    expect(d.text()).not.toContain('before');

    // A fresh client (a reload) gets a snapshot of the screen through the proxy.
    const e = new TestTerminalClient(base, b, headers);
    await e.opened;
    e.send({ type: 'auth', token: b.token! });
    await e.waitForMessage('authenticated');
    e.send({ type: 'attach', terminalId: id });
    expect((await e.waitForMessage('snapshot')).data).toContain('after');

    // A foreign Origin is still refused through the proxy.
    const evil = new TestTerminalClient(base, b, { origin: 'https://evil.example' });
    await expect(evil.opened).rejects.toThrow(/403/);

    // Terminal lifecycle log lines carry the terminal id (and the socket's request id).
    const opened = logs.find('terminal opened').find((l) => l.terminalId === id);
    expect(opened).toBeDefined();
    const attached = logs.find('terminal attached').filter((l) => l.terminalId === id);
    expect(attached.map((l) => l.kind).sort()).toEqual(['replay', 'snapshot']);
    expect(attached.every((l) => /^[0-9a-f]{32}$/.test(String(l.reqId)))).toBe(true);
    expect(logs.find('terminal detached').some((l) => l.terminalId === id)).toBe(true);

    // The audit trail says who connected where, from which address.
    const audit = await b.request('GET', `api/admin/audit?type=terminal.opened`);
    const event = ((await audit.json()) as { events: Array<Record<string, unknown>> }).events[0];
    expect(event).toMatchObject({
      username: ADMIN.username,
      ip: '127.0.0.1',
      target: `${sshd.username}@${sshd.host}:${sshd.port}`,
    });

    // Metrics under the prefix, through the proxy.
    const metrics = (await t.app.inject({ url: '/ssh-ws/metrics' })).body;
    expect(metrics).toMatch(/tether_terminal_attach_seconds_count\{kind="replay"\} 1/);
    expect(metrics).toMatch(/tether_terminal_attach_seconds_count\{kind="snapshot"\} 1/);
    expect(metrics).toMatch(/tether_terminals\{state="running"\} 1/);

    d.send({ type: 'terminate' });
    expect((await d.waitForClose()).code).toBe(CloseCode.TERMINAL_ENDED);
    expect(logs.find('terminal ended').some((l) => l.terminalId === id)).toBe(true);
    // Each socket: an open and a close line under the upgrade request's id.
    const opens = logs.find('socket opened').map((l) => l.reqId);
    const closes = logs.find('socket closed').map((l) => l.reqId);
    expect(opens.length).toBeGreaterThanOrEqual(3);
    expect(closes).toContain(opens[0]); // the first socket, detached above
  });
});
