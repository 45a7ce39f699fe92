import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadHostEnv } from '@tether/host/config';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { decodeKey, loadConfig } from '../src/config.js';
import { BROKER_NODE_FLAGS } from '../src/system/node-flags.js';

const DOCKER = fileURLToPath(new URL('../../../docker/', import.meta.url));

interface Service {
  command?: string[];
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  environment?: Record<string, string>;
}

/**
 * docker/compose.yaml as Docker Compose reads it (YAML merge keys resolved), checked without a
 * Docker engine (none runs here): two nodes, each an API with its own terminal host on its own
 * volume, the shared secrets required, the peer link wired, nginx in front of exactly those APIs.
 */
describe('docker/compose.yaml: two nodes behind nginx', () => {
  const compose = parse(readFileSync(join(DOCKER, 'compose.yaml'), 'utf8'), { merge: true }) as {
    services: Record<string, Service>;
    volumes: Record<string, unknown>;
  };
  const apis = Object.keys(compose.services).filter((s) => /^api-\d+$/.test(s));

  it('the image runs the API with the broker’s V8 flags (each host service: below)', () => {
    const dockerfile = readFileSync(join(DOCKER, 'api.Dockerfile'), 'utf8');
    const cmd = JSON.parse(/^CMD\s+(\[.*\])\s*$/m.exec(dockerfile)?.[1] ?? '[]') as string[];
    expect(cmd).toEqual(['node', ...BROKER_NODE_FLAGS, 'dist/server.js']);
  });

  it('runs api-1 and api-2, each with its own host and volume, node id and peer URL (the host’s peer port)', () => {
    expect(apis).toEqual(['api-1', 'api-2']);
    for (const api of apis) {
      const n = api.slice(4);
      const svc = compose.services[api]!;
      const host = compose.services[`host-${n}`]!;
      expect(host.command).toEqual(['node', ...BROKER_NODE_FLAGS, 'node_modules/@tether/host/dist/main.js']);
      expect(svc.volumes).toEqual([`node-${n}-data:/data`]);
      expect(host.volumes).toEqual([`node-${n}-data:/data`]);
      expect(svc.depends_on).toMatchObject({ [`host-${n}`]: { condition: 'service_healthy' } });
      expect(svc.environment).toMatchObject({
        NODE_ID: `node-${n}`,
        PEER_URL: `https://host-${n}:8081`,
        TERMINAL_HOST: 'external',
        DATA_DIR: '/data',
      });
      // The host listens on the peer port as the same node (tickets name it).
      expect(host.environment).toMatchObject({
        NODE_ID: `node-${n}`,
        PEER_HOST: '0.0.0.0',
        PEER_PORT: '8081',
        DATA_DIR: '/data',
      });
      // The shared secrets must come from docker/.env: compose refuses to start without them.
      for (const name of ['JWT_SECRET', 'ENCRYPTION_KEY', 'PEER_SECRET'])
        expect(svc.environment![name]).toMatch(new RegExp(`^\\$\\{${name}:\\?`));
      expect(host.environment!.PEER_SECRET).toMatch(/^\$\{PEER_SECRET:\?/);
      // None of the API's other secrets reach the host.
      for (const name of ['JWT_SECRET', 'ENCRYPTION_KEY', 'DATABASE_URL'])
        expect(host.environment).not.toHaveProperty(name);
    }
    expect(Object.keys(compose.volumes).sort()).toEqual(['node-1-data', 'node-2-data', 'postgres-data']);
  });

  it('each API’s environment is a valid node configuration, and nginx proxies to exactly those APIs', () => {
    for (const api of apis) {
      const env = Object.fromEntries(
        Object.entries(compose.services[api]!.environment!).map(([k, v]) => [
          k,
          // What compose would interpolate: the secrets from docker/.env, the defaults as given.
          /^\$\{[A-Z_]+:\?/.test(v) ? 'x'.repeat(44) : v.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1'),
        ]),
      );
      env.ENCRYPTION_KEY = 'ab'.repeat(32);
      const config = loadConfig({ ...env, NODE_ENV: 'production', DATA_DIR: '/tmp/tether-compose-check' });
      expect(config.peer).toMatchObject({ url: `https://host-${api.slice(4)}:8081` });
      expect(config.terminalHost.mode).toBe('external');
      const hostEnv = loadHostEnv({
        ...compose.services[`host-${api.slice(4)}`]!.environment!,
        PEER_SECRET: 'x'.repeat(44),
      });
      expect(hostEnv).toMatchObject({ PEER_HOST: '0.0.0.0', PEER_PORT: 8081, NODE_ID: config.nodeId });
    }
    const nginx = readFileSync(join(DOCKER, 'nginx/tether.conf'), 'utf8').replace(/#.*$/gm, '');
    const upstreams = [...nginx.matchAll(/server (api-\d+):8080 max_fails=0;/g)].map((m) => m[1]);
    expect(upstreams).toEqual(apis);
    expect(nginx).toMatch(/proxy_next_upstream error timeout http_502 http_503;/);
    expect(compose.services.nginx!.depends_on).toEqual(
      Object.fromEntries(apis.map((a) => [a, { condition: 'service_healthy' }])),
    );
  });
});

describe('docker/init-env.sh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-init-env-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the shared secrets once (mode 0600), keeps what is there, and they pass validation', () => {
    copyFileSync(join(DOCKER, 'init-env.sh'), join(dir, 'init-env.sh'));
    copyFileSync(join(DOCKER, '.env.example'), join(dir, '.env.example'));
    execFileSync('sh', [join(dir, 'init-env.sh')]);
    const read = () =>
      Object.fromEntries(
        readFileSync(join(dir, '.env'), 'utf8')
          .split('\n')
          .filter((l) => /^[A-Z_]+=/.test(l))
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      );
    const first = read();
    expect(Object.keys(first).sort()).toEqual([
      'ENCRYPTION_KEY',
      'JWT_SECRET',
      'PEER_SECRET',
      'POSTGRES_PASSWORD',
    ]);
    expect(decodeKey(first.ENCRYPTION_KEY!)?.length).toBe(32);
    expect(first.JWT_SECRET!.length).toBeGreaterThanOrEqual(32);
    expect(first.PEER_SECRET!.length).toBeGreaterThanOrEqual(32);
    expect(first.POSTGRES_PASSWORD).toMatch(/^[A-Za-z0-9]{20,}$/);
    expect(
      execFileSync('stat', ['-c', '%a', join(dir, '.env')])
        .toString()
        .trim(),
    ).toBe('600');
    writeFileSync(join(dir, '.env'), `${readFileSync(join(dir, '.env'), 'utf8')}# edited\n`);
    execFileSync('sh', [join(dir, 'init-env.sh')]);
    expect(read()).toEqual(first);
  });
});
