import { ErrorCode } from '@tether/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { metricsTokenMatches } from '../src/plugins/metrics.js';
import { Browser, buildTestApp, DRIVERS, type TestApp } from './helpers.js';

/** The value of one sample line, e.g. `tether_logins_total{outcome="success",reason=""}`. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

describe('metricsTokenMatches', () => {
  it('accepts only the exact bearer token', () => {
    expect(metricsTokenMatches('s3cret-token', 'Bearer s3cret-token')).toBe(true);
    expect(metricsTokenMatches('s3cret-token', 'bearer s3cret-token')).toBe(true);
    expect(metricsTokenMatches('s3cret-token', 'Bearer s3cret-tokeN')).toBe(false);
    expect(metricsTokenMatches('s3cret-token', 'Bearer s3cret')).toBe(false);
    expect(metricsTokenMatches('s3cret-token', 'Basic s3cret-token')).toBe(false);
    expect(metricsTokenMatches('s3cret-token', undefined)).toBe(false);
  });
});

describe.each(DRIVERS)('GET /metrics (%s)', (driver) => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function scrape(path = '/metrics', headers: Record<string, string> = {}) {
    const res = await t!.app.inject({ method: 'GET', url: path, headers });
    return res;
  }

  it('serves process and broker metrics in the Prometheus text format, under BASE_PATH', async () => {
    t = await buildTestApp(driver, { BASE_PATH: '/ssh-ws' });
    expect((await scrape('/metrics')).statusCode).toBe(404);
    const res = await scrape('/ssh-ws/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = res.body;
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'tether_http_requests_total',
      'tether_http_request_duration_seconds',
      'tether_websocket_connections',
      'tether_websocket_connections_total',
      'tether_logins_total',
      'tether_web_sessions',
      'tether_terminals',
      'tether_terminals_detached',
      'tether_terminal_ring_bytes',
      'tether_terminal_mirrors',
      'tether_terminal_attach_seconds',
      'tether_terminal_replay_bytes',
      'tether_ssh_connect_seconds',
      'tether_ssh_connect_failures_total',
    ]) {
      expect(text, name).toContain(`# TYPE ${name} `);
    }
    expect(sample(text, 'tether_terminals{state="running"}')).toBe(0);
    expect(sample(text, 'tether_web_sessions')).toBe(0);
    // The terminal host's own health, over the local channel (embedded here: this process).
    expect(sample(text, 'tether_terminal_host_up')).toBe(1);
    expect(sample(text, 'tether_terminal_hosts_draining')).toBe(0);
    expect(sample(text, 'tether_terminal_host_resident_memory_bytes')).toBeGreaterThan(10_000_000);
    expect(sample(text, 'tether_terminal_host_event_loop_delay_p99_seconds')).toBeGreaterThanOrEqual(0);
  });

  it('says nothing that tells a known username from an unknown one', async () => {
    t = await buildTestApp(driver, { LOGIN_MAX_FAILURES: '2', LOGIN_RATE_LIMIT: '1000' });
    const attacker = new Browser(t.app);
    const before = (await scrape()).body;
    // The same burst against an account that exists, then against a name that does not.
    const figures = async () => {
      const text = (await scrape()).body;
      return text
        .split('\n')
        .filter((l) => /^tether_(logins|login_lockouts|audit_events)/.test(l))
        .sort()
        .join('\n');
    };
    for (let i = 0; i < 3; i++) await attacker.login('admin', `wrong-password-${i}`);
    const afterKnown = await figures();
    for (let i = 0; i < 3; i++) await attacker.login('no-such-user', `wrong-password-${i}`);
    const afterUnknown = await figures();
    expect(before).not.toBe(afterKnown);
    // Every sign-in series moved by exactly twice what the first burst moved it: the second,
    // unknown-name burst is indistinguishable from the first in /metrics.
    const values = (text: string) =>
      new Map(
        text
          .split('\n')
          .filter(Boolean)
          .map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]),
      );
    const base = values(
      before
        .split('\n')
        .filter((l) => /^tether_(logins|login_lockouts|audit_events)/.test(l))
        .join('\n'),
    );
    const known = values(afterKnown);
    const unknown = values(afterUnknown);
    expect([...unknown.keys()].sort()).toEqual([...known.keys()].sort());
    for (const [series, v] of known) {
      const b = base.get(series) ?? 0;
      expect(unknown.get(series)! - b, series).toBe(2 * (v - b));
    }
    expect(afterUnknown).not.toMatch(/unknown_user|bad_password/);
  });

  it('counts sign-ins by outcome and reason, lockouts, live sessions, and requests by route template', async () => {
    t = await buildTestApp(driver, { LOGIN_MAX_FAILURES: '2', LOGIN_RATE_LIMIT: '1000' });
    const admin = new Browser(t.app);
    expect((await admin.login()).statusCode).toBe(200);
    const other = new Browser(t.app);
    await other.login('admin', 'wrong-password-1');
    await other.login('admin', 'wrong-password-2'); // second failure locks the account
    await other.login('nobody-here', 'whatever-password');
    await admin.request('GET', '/api/terminals/00000000-0000-4000-8000-000000000000');
    await admin.request('GET', '/api/no/such/thing');

    const text = (await scrape()).body;
    expect(sample(text, 'tether_logins_total{outcome="success",reason=""}')).toBe(1);
    expect(sample(text, 'tether_logins_total{outcome="failure",reason="invalid_credentials"}')).toBe(3);
    expect(sample(text, 'tether_login_lockouts_total')).toBe(1);
    expect(text).not.toMatch(/unknown_user|bad_password/);
    expect(sample(text, 'tether_web_sessions')).toBe(1);
    expect(
      sample(text, 'tether_http_requests_total{method="POST",route="/api/auth/login",status_code="200"}'),
    ).toBe(1);
    expect(
      sample(text, 'tether_http_requests_total{method="POST",route="/api/auth/login",status_code="401"}'),
    ).toBe(3);
    // Route templates, never raw URLs: ids and typos cannot blow up the label set.
    expect(
      sample(text, 'tether_http_requests_total{method="GET",route="/api/terminals/:id",status_code="404"}'),
    ).toBe(1);
    expect(sample(text, 'tether_http_requests_total{method="GET",route="unmatched",status_code="404"}')).toBe(
      1,
    );
    expect(text).not.toContain('00000000-0000-4000');
    expect(
      sample(
        text,
        'tether_http_request_duration_seconds_count{method="POST",route="/api/auth/login",status_code="200"}',
      ),
    ).toBe(1);
    expect(sample(text, 'tether_audit_events_total{type="auth.login",outcome="failure"}')).toBe(3);
  });

  it('requires METRICS_TOKEN as a bearer token when it is set', async () => {
    t = await buildTestApp(driver, { METRICS_TOKEN: 'metrics-token-0123456789' });
    const none = await scrape();
    expect(none.statusCode).toBe(401);
    expect(none.json().error.code).toBe(ErrorCode.UNAUTHENTICATED);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expect((await scrape('/metrics', { authorization: 'Bearer nope' })).statusCode).toBe(401);
    const ok = await scrape('/metrics', { authorization: 'Bearer metrics-token-0123456789' });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('tether_http_requests_total');
  });
});
