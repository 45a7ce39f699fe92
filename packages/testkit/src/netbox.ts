import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A stand-in NetBox 4.x on 127.0.0.1: the REST shapes the broker uses (`/api/status/`,
 * `/api/dcim/devices/`, `/api/dcim/sites/`, `/api/users/tokens/`), with NetBox's
 * `count`/`next`/`previous`/`results` pagination, token checks (401/403), NetBox's 400 for an
 * unknown filter slug, and switches to inject 429s, 5xx and a failing page.
 *
 * Seed (deterministic): `devices` devices (default 2,500) over `sites` sites (default 30).
 * Device i (1-based) sits in site ((i-1) % sites) + 1 and has
 * - i % 100 === 0: no primary IP; then by (i/100) % 3: 0 → named "Patch panel i" (not a host
 *   name: skipped), 1 → unnamed (skipped), 2 → named `host-i.lab` (imported by name);
 * - otherwise i % 50 === 0: IPv6 only (`2001:db8::<i hex>/64`);
 * - otherwise IPv4 `10.<site>.<i div 250>.<i mod 250 + 1>/24`.
 */

export interface StandInDevice {
  id: number;
  url: string;
  display: string;
  name: string | null;
  device_type: {
    id: number;
    model: string;
    slug: string;
    manufacturer: { id: number; name: string; slug: string };
  };
  role: { id: number; name: string; slug: string };
  platform: { id: number; name: string; slug: string } | null;
  serial: string;
  site: { id: number; name: string; slug: string };
  status: { value: string; label: string };
  primary_ip: { id: number; family: number; address: string } | null;
  primary_ip4: { id: number; family: number; address: string } | null;
  primary_ip6: { id: number; family: number; address: string } | null;
  tags: { id: number; name: string; slug: string; color: string }[];
  custom_fields: Record<string, unknown>;
  config_context?: Record<string, unknown>;
}

export interface StandInFaults {
  /** The next n device-list requests answer 429 (with `Retry-After: retryAfter`). */
  rateLimited: number;
  retryAfter: string;
  /** The next n device-list requests answer 503. */
  serverErrors: number;
  /** Every device-list request whose offset is at least this answers 500 (a page that always fails). */
  failFromOffset?: number;
  /** Delay before each answer. */
  delayMs: number;
}

export interface NetboxStandIn {
  /** Base URL, e.g. `http://127.0.0.1:40123` (https when started with TLS). */
  url: string;
  devices: StandInDevice[];
  sites: { id: number; name: string; slug: string }[];
  /** token → NetBox user; `devices: false` = may not view devices (403 there). */
  tokens: Map<string, { username: string; devices: boolean; expired?: boolean }>;
  faults: StandInFaults;
  /** Every request as `METHOD path?query → status`. */
  log: string[];
  /** Host and scheme NetBox writes into `next` links (as it does behind a proxy). */
  linkBase?: string;
  close(): Promise<void>;
}

export const NETBOX_VERSION = '4.1.11';
export const NETBOX_TOKEN = '0123456789abcdef0123456789abcdef01234567';
export const NETBOX_TOKEN_NO_DEVICES = '89abcdef0123456789abcdef0123456789abcdef';
export const NETBOX_TOKEN_EXPIRED = 'deadbeefdeadbeefdeadbeefdeadbeefdeadbeef';

const ROLES = ['Core', 'Distribution', 'Access', 'Firewall', 'Router'];
const PLATFORMS = [
  { name: 'Cisco IOS', slug: 'cisco_ios' },
  { name: 'Arista EOS', slug: 'arista_eos' },
  { name: 'Juniper Junos', slug: 'juniper_junos' },
  { name: 'PAN-OS', slug: 'paloalto_panos' },
];
const TAGS = [
  { id: 1, name: 'Core', slug: 'core', color: 'f44336' },
  { id: 2, name: 'Lab', slug: 'lab', color: '2196f3' },
];
const slugify = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-');
const pad = (n: number, w = 2) => String(n).padStart(w, '0');

export function seedDevices(count = 2500, siteCount = 30) {
  const sites = Array.from({ length: siteCount }, (_, k) => ({
    id: k + 1,
    name: `Site ${pad(k + 1)}`,
    slug: `site-${pad(k + 1)}`,
  }));
  const devices: StandInDevice[] = [];
  for (let i = 1; i <= count; i++) {
    const siteIdx = (i - 1) % siteCount;
    const site = sites[siteIdx]!;
    const role = ROLES[i % ROLES.length]!;
    const platform = i % 11 === 0 ? null : PLATFORMS[i % PLATFORMS.length]!;
    let name: string | null = `dev-${pad(siteIdx + 1)}-${pad(i, 4)}`;
    let v4: string | null = null;
    let v6: string | null = null;
    if (i % 100 === 0) {
      const kind = (i / 100) % 3;
      name = kind === 0 ? `Patch panel ${i}` : kind === 1 ? null : `host-${i}.lab`;
    } else if (i % 50 === 0) {
      v6 = `2001:db8::${i.toString(16)}/64`;
    } else {
      v4 = `10.${siteIdx + 1}.${Math.floor(i / 250)}.${(i % 250) + 1}/24`;
    }
    const model = `MX-${i % 6}`;
    const status = i % 10 === 0 ? 'planned' : i % 17 === 0 ? 'offline' : 'active';
    const ip4 = v4 ? { id: i * 2, family: 4, address: v4 } : null;
    const ip6 = v6 ? { id: i * 2 + 1, family: 6, address: v6 } : null;
    devices.push({
      id: i,
      url: `/api/dcim/devices/${i}/`,
      display: name ?? `${model} (${i})`,
      name,
      device_type: {
        id: (i % 6) + 1,
        model,
        slug: slugify(model),
        manufacturer: { id: 1, name: 'Acme', slug: 'acme' },
      },
      role: { id: (i % ROLES.length) + 1, name: role, slug: slugify(role) },
      platform: platform ? { id: (i % PLATFORMS.length) + 1, ...platform } : null,
      serial: `SN${pad(i, 6)}`,
      site,
      status: { value: status, label: status[0]!.toUpperCase() + status.slice(1) },
      primary_ip: ip4 ?? ip6,
      primary_ip4: ip4,
      primary_ip6: ip6,
      tags: [...(i % 3 === 0 ? [TAGS[0]!] : []), ...(i % 7 === 0 ? [TAGS[1]!] : [])],
      custom_fields: { ssh_port: null },
      config_context: { ntp: ['10.0.0.1'] },
    });
  }
  return { sites, devices };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** A self-signed certificate for 127.0.0.1 (openssl), as PEM key + cert. */
export function selfSignedCert(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tether-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-days',
        '2',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function startNetboxStandIn(
  options: { devices?: number; sites?: number; tls?: { key: string; cert: string } } = {},
): Promise<NetboxStandIn> {
  const seed = seedDevices(options.devices ?? 2500, options.sites ?? 30);
  const state: NetboxStandIn = {
    url: '',
    devices: seed.devices,
    sites: seed.sites,
    tokens: new Map([
      [NETBOX_TOKEN, { username: 'neteng', devices: true }],
      [NETBOX_TOKEN_NO_DEVICES, { username: 'viewer', devices: false }],
      [NETBOX_TOKEN_EXPIRED, { username: 'old', devices: true, expired: true }],
    ]),
    faults: { rateLimited: 0, retryAfter: '0', serverErrors: 0, delayMs: 0 },
    log: [],
    close: async () => {},
  };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const q = url.searchParams;
    const done = (status: number, body: unknown, headers?: Record<string, string>) => {
      state.log.push(`${req.method} ${url.pathname}${url.search} → ${status}`);
      send(res, status, body, headers);
    };
    const answer = () => {
      if (url.pathname.startsWith('/html/')) {
        state.log.push(`${req.method} ${url.pathname} → 200 html`);
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><title>Welcome to nginx!</title>');
        return;
      }
      const auth = req.headers.authorization ?? '';
      const m = /^(?:Token|Bearer) (\S+)$/.exec(auth);
      if (!m) return done(403, { detail: 'Authentication credentials were not provided.' });
      const user = state.tokens.get(m[1]!);
      if (!user) return done(403, { detail: 'Invalid token' });
      if (user.expired) return done(401, { detail: 'Token expired' });

      const page = <T>(all: T[], path: string) => {
        const rawLimit = Number(q.get('limit') ?? 50);
        const limit = rawLimit === 0 ? 1000 : Math.min(1000, Math.max(1, rawLimit || 50));
        const offset = Math.max(0, Number(q.get('offset') ?? 0) || 0);
        const link = (o: number) => {
          const p = new URLSearchParams(q);
          p.set('limit', String(limit));
          p.set('offset', String(o));
          return `${state.linkBase ?? state.url}${path}?${p}`;
        };
        return {
          count: all.length,
          next: offset + limit < all.length ? link(offset + limit) : null,
          previous: offset > 0 ? link(Math.max(0, offset - limit)) : null,
          results: all.slice(offset, offset + limit),
        };
      };

      switch (url.pathname) {
        case '/api/status/':
          return done(200, {
            'django-version': '5.0.9',
            'installed-apps': {},
            'netbox-version': NETBOX_VERSION,
            'python-version': '3.12.3',
            plugins: {},
            'rq-workers-running': 1,
          });
        case '/api/users/tokens/':
          return done(
            200,
            page(
              [...state.tokens]
                .filter(([, u]) => u.username === user.username)
                .map(([key, u], i) => ({
                  id: i + 1,
                  user: { id: 7, username: u.username, display: u.username },
                  display: `**********${key.slice(-4)}`,
                  write_enabled: false,
                })),
              url.pathname,
            ),
          );
        case '/api/dcim/sites/':
          return done(200, page(state.sites, url.pathname));
        case '/api/dcim/devices/': {
          if (!user.devices)
            return done(403, { detail: 'You do not have permission to perform this action.' });
          if (state.faults.rateLimited > 0) {
            state.faults.rateLimited--;
            return done(
              429,
              { detail: 'Request was throttled.' },
              { 'retry-after': state.faults.retryAfter },
            );
          }
          if (state.faults.serverErrors > 0) {
            state.faults.serverErrors--;
            return done(503, { detail: 'Service Unavailable' });
          }
          const offset = Number(q.get('offset') ?? 0) || 0;
          if (state.faults.failFromOffset !== undefined && offset >= state.faults.failFromOffset) {
            return done(500, { error: 'Server Error' });
          }
          let list = state.devices;
          for (const [field, get] of [
            ['site', (d: StandInDevice) => d.site.slug],
            ['role', (d: StandInDevice) => d.role.slug],
            ['platform', (d: StandInDevice) => d.platform?.slug],
            ['status', (d: StandInDevice) => d.status.value],
          ] as const) {
            const wanted = q.getAll(field);
            if (!wanted.length) continue;
            const known = new Set(state.devices.map(get));
            const bad = wanted.find((w) => !known.has(w) && field !== 'status');
            if (bad)
              return done(400, {
                [field]: [`Select a valid choice. ${bad} is not one of the available choices.`],
              });
            list = list.filter((d) => wanted.includes(get(d) ?? ''));
          }
          const tags = q.getAll('tag');
          if (tags.length) {
            const bad = tags.find((t) => !TAGS.some((x) => x.slug === t));
            if (bad)
              return done(400, {
                tag: [`Select a valid choice. ${bad} is not one of the available choices.`],
              });
            list = list.filter((d) => tags.every((t) => d.tags.some((x) => x.slug === t)));
          }
          const ids = q.getAll('id').map(Number);
          if (ids.length) list = list.filter((d) => ids.includes(d.id));
          const text = q.get('q')?.toLowerCase();
          if (text)
            list = list.filter(
              (d) => d.name?.toLowerCase().includes(text) || d.serial.toLowerCase().includes(text),
            );
          if (q.get('ordering') === 'name') {
            list = [...list].sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '') || a.id - b.id);
          }
          const excluded = q.getAll('exclude');
          const body = page(list, url.pathname);
          if (q.get('brief')) {
            body.results = body.results.map(
              (d) => ({ id: d.id, url: d.url, display: d.display, name: d.name }) as never,
            );
          } else if (excluded.includes('config_context')) {
            body.results = body.results.map(({ config_context: _, ...d }) => d);
          }
          return done(200, body);
        }
        default:
          return done(404, { detail: 'Not found.' });
      }
    };
    if (state.faults.delayMs) setTimeout(answer, state.faults.delayMs);
    else answer();
  };

  const server = options.tls ? https.createServer(options.tls, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  state.url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  state.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}
