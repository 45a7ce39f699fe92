import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ErrorCode,
  type NetboxDevicePage,
  type NetboxImportEvent,
  type NetboxImportResult,
  type Profile,
} from '@tether/protocol';
import { freePort } from '@tether/testkit';
import { eq } from 'drizzle-orm';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, netboxTokens } from '../src/db/schema/index.js';
import { addUser, type Browser, DRIVERS, type Driver, type TestApp, withAdmin } from './helpers.js';
import {
  NETBOX_TOKEN,
  NETBOX_TOKEN_EXPIRED,
  NETBOX_TOKEN_NO_DEVICES,
  NETBOX_VERSION,
  type NetboxStandIn,
  selfSignedCert,
  startNetboxStandIn,
} from './netbox-stand-in.js';

/** Seeded: 2,500 devices over 30 sites; every 100th has no IP, 2 in 3 of those are unusable. */
const TOTAL = 2500;
const UNUSABLE = 17;

function events(res: LightMyRequestResponse): NetboxImportEvent[] {
  return res.body
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as NetboxImportEvent);
}

function resultOf(res: LightMyRequestResponse): NetboxImportResult {
  expect(res.statusCode, res.body).toBe(200);
  const last = events(res).at(-1);
  expect(last?.type, res.body.slice(-500)).toBe('done');
  return (last as { result: NetboxImportResult }).result;
}

let nb: NetboxStandIn;
beforeAll(async () => {
  nb = await startNetboxStandIn();
});
afterAll(async () => {
  await nb?.close();
});

describe.each(DRIVERS)('NetBox import (%s)', (driver: Driver) => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
    nb.faults = { rateLimited: 0, retryAfter: '0', serverErrors: 0, delayMs: 0 };
    nb.linkBase = undefined;
    nb.log.length = 0;
  });

  async function setup(
    env: Record<string, string> = { NETBOX_URL: nb.url },
    token: string | null = NETBOX_TOKEN,
  ) {
    let admin: Browser;
    ({ t, admin } = await withAdmin(driver, env));
    const { browser: erin, id: erinId } = await addUser(t.app, admin, 'erin');
    if (token) expect((await erin.request('PUT', '/api/netbox/token', { token })).statusCode).toBe(204);
    return { app: t.app, admin, erin, erinId };
  }

  async function profiles(browser: Browser): Promise<Profile[]> {
    const res = await browser.request('GET', '/api/profiles');
    expect(res.statusCode).toBe(200);
    return res.json().profiles;
  }

  async function search(browser: Browser, query: string): Promise<NetboxDevicePage> {
    const res = await browser.request('GET', `/api/netbox/devices${query}`);
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  }

  // ── token ──

  it('stores the token encrypted, never returns it, and audits saving and removing it', async () => {
    const { app, erin, erinId } = await setup(undefined, null);
    expect((await erin.request('GET', '/api/netbox/status')).json()).toMatchObject({
      configured: true,
      url: nb.url,
      tokenStored: false,
    });
    expect((await erin.request('PUT', '/api/netbox/token', { token: 'has space' })).statusCode).toBe(400);
    const saved = await erin.request('PUT', '/api/netbox/token', { token: NETBOX_TOKEN });
    expect(saved.statusCode).toBe(204);
    const status = await erin.request('GET', '/api/netbox/status');
    expect(status.json()).toMatchObject({ tokenStored: true });
    expect(status.body).not.toContain(NETBOX_TOKEN);

    const [row] = await app.database.db.select().from(netboxTokens).where(eq(netboxTokens.userId, erinId));
    expect(row?.tokenEnc).toMatch(/^v1:/);
    expect(row?.tokenEnc).not.toContain(NETBOX_TOKEN.slice(0, 12));

    expect((await erin.request('PUT', '/api/netbox/token', { token: NETBOX_TOKEN })).statusCode).toBe(204);
    expect((await erin.request('DELETE', '/api/netbox/token')).statusCode).toBe(204);
    expect((await erin.request('DELETE', '/api/netbox/token')).statusCode).toBe(404);
    expect((await erin.request('GET', '/api/netbox/status')).json().tokenStored).toBe(false);

    const audit = await app.database.db.select().from(auditEvents).where(eq(auditEvents.userId, erinId));
    const types = audit.map((e) => e.type).filter((type) => type.startsWith('netbox.'));
    expect(types).toEqual(['netbox.token.saved', 'netbox.token.replaced', 'netbox.token.deleted']);
    expect(JSON.stringify(audit)).not.toContain(NETBOX_TOKEN);
  });

  it('tests the token: NetBox version, the token user and the device count', async () => {
    const { erin, admin } = await setup();
    const res = await erin.request('POST', '/api/netbox/test');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true, version: NETBOX_VERSION, user: 'neteng', deviceCount: TOTAL });
    // Each user has their own token: the admin has none.
    expect((await admin.request('POST', '/api/netbox/test')).json()).toMatchObject({
      ok: false,
      error: { code: ErrorCode.NETBOX_NO_TOKEN },
    });
    expect(nb.log.every((line) => !line.includes(NETBOX_TOKEN))).toBe(true);
  });

  it('reports each token-test failure clearly: not configured, refused token, unreachable, not NetBox', async () => {
    const { admin, erin } = await setup({}, null);
    const testWith = async (url: string | null, token = NETBOX_TOKEN) => {
      expect((await admin.request('PUT', '/api/admin/netbox', { url })).statusCode).toBe(200);
      expect((await erin.request('PUT', '/api/netbox/token', { token })).statusCode).toBe(204);
      const res = await erin.request('POST', '/api/netbox/test');
      expect(res.statusCode).toBe(200);
      return res.json() as { ok: boolean; error: { code: string; message: string } };
    };
    expect((await testWith(null)).error.code).toBe(ErrorCode.NETBOX_NOT_CONFIGURED);

    const invalid = await testWith(nb.url, 'ffffffffffffffffffffffffffffffffffffffff');
    expect(invalid.error).toEqual({
      code: ErrorCode.NETBOX_UNAUTHORIZED,
      message: 'NetBox refused the token (403: Invalid token)',
    });
    const expired = await testWith(nb.url, NETBOX_TOKEN_EXPIRED);
    expect(expired.error.message).toBe('NetBox refused the token (401: Token expired)');
    const noDevices = await testWith(nb.url, NETBOX_TOKEN_NO_DEVICES);
    expect(noDevices.error.code).toBe(ErrorCode.NETBOX_UNAUTHORIZED);
    expect(noDevices.error.message).toMatch(/403: You do not have permission/);

    const unreachable = await testWith(`http://127.0.0.1:${await freePort()}`);
    expect(unreachable.error.code).toBe(ErrorCode.NETBOX_UNREACHABLE);
    expect(unreachable.error.message).toMatch(/unreachable \(ECONNREFUSED\)/);

    const html = await testWith(`${nb.url}/html`);
    expect(html.error.code).toBe(ErrorCode.NETBOX_NOT_NETBOX);
    const wrongPath = await testWith(`${nb.url}/elsewhere`);
    expect(wrongPath.error.code).toBe(ErrorCode.NETBOX_NOT_NETBOX);
    expect(await testWith(nb.url)).toMatchObject({ ok: true });
  });

  it('rejects a self-signed certificate unless its CA is trusted or verification is off', async () => {
    const cert = selfSignedCert();
    const secure = await startNetboxStandIn({ devices: 10, sites: 2, tls: cert });
    const dir = mkdtempSync(join(tmpdir(), 'tether-ca-'));
    try {
      const { admin, erin } = await setup({ NETBOX_URL: secure.url });
      const refused = (await erin.request('POST', '/api/netbox/test')).json();
      expect(refused.error.code).toBe(ErrorCode.NETBOX_TLS);
      expect(refused.error.message).toMatch(/NETBOX_CA_FILE|NETBOX_TLS_VERIFY/);
      expect((await admin.request('PUT', '/api/admin/netbox', { tlsVerify: false })).statusCode).toBe(200);
      expect((await erin.request('POST', '/api/netbox/test')).json()).toMatchObject({
        ok: true,
        deviceCount: 10,
      });
      await t?.close();

      writeFileSync(join(dir, 'ca.pem'), cert.cert);
      const trusted = await setup({ NETBOX_URL: secure.url, NETBOX_CA_FILE: join(dir, 'ca.pem') });
      expect((await trusted.erin.request('POST', '/api/netbox/test')).json()).toMatchObject({ ok: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await secure.close();
    }
  });

  // ── search ──

  it('searches one page at a time with NetBox filters, mapped for import', async () => {
    const { erin } = await setup();
    const first = await search(erin, '?site=site-01&limit=25');
    expect(first.count).toBe(84);
    expect(first.devices).toHaveLength(25);
    const second = await search(erin, '?site=site-01&limit=25&offset=75');
    expect(second.devices).toHaveLength(9);
    const ids = new Set([...first.devices, ...second.devices].map((d) => d.id));
    expect(ids.size).toBe(34);

    const one = (await search(erin, '?q=dev-02-0002')).devices;
    expect(one).toEqual([
      {
        id: 2,
        name: 'dev-02-0002',
        site: { slug: 'site-02', name: 'Site 02' },
        role: { slug: 'access', name: 'Access' },
        platform: { slug: 'juniper_junos', name: 'Juniper Junos' },
        status: 'active',
        model: 'MX-2',
        serial: 'SN000002',
        tags: [],
        host: '10.2.0.3',
        port: 22,
        skipReason: null,
      },
    ]);
    const filtered = await search(
      erin,
      '?role=access&platform=juniper_junos&status=active&tag=core&limit=1000',
    );
    expect(filtered.count).toBeGreaterThan(0);
    for (const d of filtered.devices) {
      expect([d.role?.slug, d.platform?.slug, d.status, d.tags.includes('Core')]).toEqual([
        'access',
        'juniper_junos',
        'active',
        true,
      ]);
    }
    // NetBox answers 400 to a slug it does not know; the user sees why.
    const unknown = await erin.request('GET', '/api/netbox/devices?site=nowhere');
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error).toMatchObject({
      code: ErrorCode.NETBOX_UPSTREAM,
      message:
        'NetBox rejected the request: site: Select a valid choice. nowhere is not one of the available choices.',
    });
    expect((await erin.request('GET', '/api/netbox/devices?limit=5000')).statusCode).toBe(400);
    const sites = (await erin.request('GET', '/api/netbox/sites')).json().sites;
    expect(sites).toHaveLength(30);
    expect(sites[0]).toEqual({ slug: 'site-01', name: 'Site 01' });
  });

  it('answers a page of 50 devices well within a second', async () => {
    const { erin } = await setup();
    await search(erin, '?limit=50');
    const started = performance.now();
    const page = await search(erin, '?limit=50&offset=1000&status=active');
    const ms = performance.now() - started;
    expect(page.devices).toHaveLength(50);
    console.log(`netbox search page (${driver}): ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(1000);
  });

  // ── import ──

  it('imports a site into its folder: host from the primary IP, type from the platform, NetBox facts kept', async () => {
    const { erin } = await setup();
    const res = await erin.request('POST', '/api/netbox/import', {
      filter: { site: 'site-30' },
      folderMode: 'site',
    });
    expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
    const all = events(res);
    expect(all[0]).toEqual({ type: 'progress', phase: 'fetch', fetched: 83, total: 83 });
    expect(all.some((e) => e.type === 'progress' && e.phase === 'save')).toBe(true);
    const result = resultOf(res);
    // Site 30 holds devices 30, 60, …, 2490: eight patch panels without an IP, eight IPv6-only.
    expect(result).toMatchObject({
      fetched: 83,
      added: 75,
      updated: 0,
      unchanged: 0,
      foldersAdded: ['Site 30'],
    });
    expect(result.skipped).toHaveLength(8);
    expect(result.skipped[0]).toEqual({
      id: 300,
      name: 'Patch panel 300',
      reason: 'no primary IP address, and the name "Patch panel 300" is not a usable host name',
    });

    const list = await profiles(erin);
    expect(list).toHaveLength(75);
    const folderId = list[0]!.folderId;
    expect(folderId).not.toBeNull();
    expect(list.every((p) => p.folderId === folderId)).toBe(true);
    expect(list.find((p) => p.name === 'dev-30-0030')).toMatchObject({
      host: '10.30.0.31',
      port: 22,
      deviceType: 'juniper_junos',
      model: 'MX-0',
      tags: ['Core'],
      authMethod: 'none',
      extra: {
        netbox: {
          id: 30,
          site: 'Site 30',
          role: 'Core',
          serial: 'SN000030',
          status: 'planned',
          tags: ['Core'],
        },
      },
    });
    // IPv6 only: the address without its prefix length.
    expect(list.find((p) => p.name === 'dev-30-0150')?.host).toBe('2001:db8::96');
    // No platform (every 11th device): no device type.
    expect(list.find((p) => p.name === 'dev-30-0330')?.deviceType).toBeNull();
  });

  it('imports all 2,500 devices over 30 sites in seconds, then re-imports without duplicates', async () => {
    const { erin } = await setup();
    const started = performance.now();
    const res = await erin.request('POST', '/api/netbox/import', { filter: {}, folderMode: 'site' });
    const ms = performance.now() - started;
    const result = resultOf(res);
    console.log(
      `netbox import of ${TOTAL} devices (${driver}): ${ms.toFixed(0)} ms (broker: ${result.ms} ms)`,
    );
    expect(result).toMatchObject({ fetched: TOTAL, added: TOTAL - UNUSABLE, updated: 0 });
    expect(result.skipped).toHaveLength(UNUSABLE);
    expect(result.foldersAdded).toHaveLength(30);
    expect(ms).toBeLessThan(10_000);
    const progress = events(res).filter((e) => e.type === 'progress' && e.phase === 'fetch');
    expect(progress.map((e) => (e as { fetched: number }).fetched)).toEqual([1000, 2000, 2500]);

    const v6 = (await search(erin, '?q=dev-20-0050')).devices[0]!;
    expect(v6.host).toBe('2001:db8::32');
    const byName = (await profiles(erin)).find((p) => p.name === 'host-200.lab');
    expect(byName?.host).toBe('host-200.lab');

    const before = await profiles(erin);
    const again = resultOf(
      await erin.request('POST', '/api/netbox/import', { filter: {}, folderMode: 'site' }),
    );
    expect(again).toMatchObject({ added: 0, updated: 0, unchanged: TOTAL - UNUSABLE, foldersAdded: [] });

    // NetBox changes: a new address and a tag. The same profile (same id) is updated.
    const device = nb.devices[4]!;
    const saved = structuredClone(device);
    device.primary_ip4 = { id: 1, family: 4, address: '192.0.2.55/24' };
    device.tags = [{ id: 2, name: 'Lab', slug: 'lab', color: '' }];
    try {
      const target = before.find((p) => (p.extra.netbox as { id: number }).id === 5)!;
      // The user's own settings survive a re-import.
      const patched = await erin.request('PATCH', `/api/profiles/${target.id}`, {
        username: 'ops',
        tags: ['mine'],
        notes: 'rack 4',
      });
      expect(patched.statusCode, patched.body).toBe(200);
      const third = resultOf(
        await erin.request('POST', '/api/netbox/import', { filter: {}, folderMode: 'site' }),
      );
      expect(third).toMatchObject({ added: 0, updated: 1 });
      const after = await profiles(erin);
      expect(after).toHaveLength(before.length);
      expect(after.find((p) => p.id === target.id)).toMatchObject({
        host: '192.0.2.55',
        username: 'ops',
        notes: 'rack 4',
        tags: ['Lab', 'mine'],
      });
    } finally {
      Object.assign(device, saved);
    }
  });

  it('imports selected devices into a chosen folder and lists ids NetBox no longer has', async () => {
    const { erin } = await setup();
    const folder = (await erin.request('POST', '/api/folders', { name: 'Picked' })).json().folder;
    const res = await erin.request('POST', '/api/netbox/import', {
      deviceIds: [3, 50, 300, 999_999],
      folderMode: 'folder',
      folderId: folder.id,
    });
    const result = resultOf(res);
    expect(result).toMatchObject({ fetched: 3, added: 2 });
    expect(result.skipped.map((s) => [s.id, s.reason])).toEqual([
      [999_999, 'not found in NetBox (deleted, or not visible to your token)'],
      [300, 'no primary IP address, and the name "Patch panel 300" is not a usable host name'],
    ]);
    const list = await profiles(erin);
    expect(list.map((p) => [p.name, p.host, p.folderId])).toEqual([
      ['dev-03-0003', '10.3.0.4', folder.id],
      ['dev-20-0050', '2001:db8::32', folder.id],
    ]);
    const bad = await erin.request('POST', '/api/netbox/import', { folderMode: 'site' });
    expect(bad.statusCode).toBe(400);
  });

  it('retries NetBox 429 and 5xx answers with backoff, and gives up after a bounded number of tries', async () => {
    const { erin } = await setup();
    nb.faults.rateLimited = 2;
    expect((await search(erin, '?limit=5')).devices).toHaveLength(5);
    expect(nb.log.filter((l) => l.endsWith('→ 429'))).toHaveLength(2);

    nb.faults.serverErrors = 2;
    const result = resultOf(
      await erin.request('POST', '/api/netbox/import', { filter: { site: 'site-02' } }),
    );
    expect(result.added).toBeGreaterThan(0);
    expect(nb.log.filter((l) => l.endsWith('→ 503'))).toHaveLength(2);

    nb.faults.rateLimited = 10;
    const refused = await erin.request('GET', '/api/netbox/devices');
    expect(refused.statusCode).toBe(502);
    expect(refused.json().error.code).toBe(ErrorCode.NETBOX_UPSTREAM);
    expect(nb.faults.rateLimited).toBe(6); // four tries in all
  });

  it('leaves nothing half-imported when a page fails part-way', async () => {
    const { app, erin, erinId } = await setup();
    nb.faults.failFromOffset = 1000;
    const res = await erin.request('POST', '/api/netbox/import', { filter: {} });
    expect(res.statusCode).toBe(200);
    const all = events(res);
    expect(all[0]).toMatchObject({ type: 'progress', fetched: 1000, total: TOTAL });
    expect(all.at(-1)).toEqual({
      type: 'error',
      error: { code: ErrorCode.NETBOX_UPSTREAM, message: 'NetBox failed (500); try again later' },
    });
    expect(await profiles(erin)).toEqual([]);
    expect((await erin.request('GET', '/api/folders')).json().folders).toEqual([]);
    const audit = await app.database.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.type, 'netbox.imported'));
    expect(audit.map((e) => [e.userId, e.outcome])).toEqual([[erinId, 'failure']]);
  });

  it('follows next links by their query only, on the configured URL', async () => {
    const { erin } = await setup();
    nb.linkBase = 'http://netbox.invalid:9'; // as NetBox writes it behind a misconfigured proxy
    const result = resultOf(
      await erin.request('POST', '/api/netbox/import', { filter: { site: 'site-03' } }),
    );
    expect(result.fetched).toBe(84);
    const all = resultOf(await erin.request('POST', '/api/netbox/import', { filter: {} }));
    expect(all.fetched).toBe(TOTAL);
  });

  it('applies the target policy to the NetBox URL: never link-local, metadata or denied ranges', async () => {
    const { admin, erin } = await setup({}, NETBOX_TOKEN);
    for (const url of ['http://169.254.169.254', 'http://[fe80::1]:8080', 'http://100.100.100.200']) {
      const res = await admin.request('PUT', '/api/admin/netbox', { url });
      expect(res.statusCode, url).toBe(409);
      expect(res.json().error.code).toBe(ErrorCode.TARGET_DENIED);
    }
    // An internal NetBox (loopback here) is what most teams run: allowed.
    expect((await admin.request('PUT', '/api/admin/netbox', { url: nb.url })).statusCode).toBe(200);
    expect((await erin.request('POST', '/api/netbox/test')).json()).toMatchObject({ ok: true });
  });

  it('checks the address a NetBox host name resolves to, on every connection', async () => {
    // The stand-in listens on 127.0.0.1; reached by name, and loopback is denied here.
    const byName = nb.url.replace('127.0.0.1', 'localhost');
    const { erin } = await setup({ NETBOX_URL: byName, SSH_DENIED_TARGETS: '127.0.0.0/8,::1' });
    const res = await erin.request('GET', '/api/netbox/devices');
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe(ErrorCode.TARGET_DENIED);
    expect(nb.log.filter((l) => l.includes('/api/dcim/devices'))).toEqual([]);
  });

  it('lets an admin set the NetBox URL at run time; users may not', async () => {
    const { admin, erin } = await setup({}, NETBOX_TOKEN);
    expect((await erin.request('GET', '/api/netbox/status')).json().configured).toBe(false);
    expect((await erin.request('PUT', '/api/admin/netbox', { url: nb.url })).statusCode).toBe(403);
    const bad = await admin.request('PUT', '/api/admin/netbox', { url: 'ftp://x' });
    expect(bad.statusCode).toBe(400);
    const set = await admin.request('PUT', '/api/admin/netbox', { url: `${nb.url}/` });
    expect(set.statusCode, set.body).toBe(200);
    expect(set.json()).toMatchObject({ url: nb.url, effective: { url: nb.url, tlsVerify: true } });
    expect((await erin.request('POST', '/api/netbox/test')).json()).toMatchObject({ ok: true });
    const cleared = await admin.request('PUT', '/api/admin/netbox', { url: null });
    expect(cleared.json().effective.url).toBeNull();
    expect((await erin.request('GET', '/api/netbox/devices')).json().error.code).toBe(
      ErrorCode.NETBOX_NOT_CONFIGURED,
    );
  });
});
