import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const base = { NODE_ENV: 'test', JWT_SECRET: 'j'.repeat(48), ENCRYPTION_KEY: 'ab'.repeat(32) };

describe('terminal host settings', () => {
  const long = `/tmp/${'d'.repeat(110)}`;
  afterAll(() => {
    for (const d of ['/tmp/tether-config-test', long, '/tmp/x']) rmSync(d, { recursive: true, force: true });
  });

  it('default to a host the API starts itself, on a socket in DATA_DIR', () => {
    const config = loadConfig({ ...base, DATA_DIR: '/tmp/tether-config-test' });
    expect(config.terminalHost).toEqual({
      mode: 'spawn',
      socketPath: '/tmp/tether-config-test/terminal-host.sock',
      drainMs: 24 * 3_600_000,
    });
  });

  it('read the drain limit and the heap limit of a spawned host, refusing nonsense', () => {
    const config = loadConfig({
      ...base,
      DATA_DIR: '/tmp/tether-config-test',
      TERMINAL_HOST_DRAIN: '90m',
      TERMINAL_HOST_MEMORY: '512',
    });
    expect(config.terminalHost).toMatchObject({ drainMs: 90 * 60_000, memoryMiB: 512 });
    expect(() => loadConfig({ ...base, TERMINAL_HOST_DRAIN: 'soon' })).toThrow(/TERMINAL_HOST_DRAIN/);
    expect(() => loadConfig({ ...base, TERMINAL_HOST_MEMORY: '8' })).toThrow(/TERMINAL_HOST_MEMORY/);
  });

  it('refuse a socket path longer than Linux allows, and an unknown mode, saying which', () => {
    expect(() => loadConfig({ ...base, DATA_DIR: long })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, DATA_DIR: long })).toThrow(
      /TERMINAL_HOST_SOCKET: .* longer than a Unix socket path/,
    );
    expect(() => loadConfig({ ...base, DATA_DIR: long, TERMINAL_HOST_SOCKET: '/tmp/h.sock' })).not.toThrow();
    expect(() => loadConfig({ ...base, DATA_DIR: '/tmp/x', TERMINAL_HOST: 'remote' })).toThrow(
      /TERMINAL_HOST/,
    );
  });
});

describe('many nodes settings', () => {
  const dir = { DATA_DIR: '/tmp/tether-config-test', NODE_ID: 'node-1' };
  const pg = { DATABASE_URL: 'postgres://u:p@db:5432/tether' };
  const secret = 's'.repeat(40);

  it('a single node by default; heartbeats every 2 s, unreachable after 10 s, lost after 2 min', () => {
    const config = loadConfig({ ...base, ...dir });
    expect(config.peer).toBeNull();
    expect(config.cluster).toEqual({
      heartbeatIntervalMs: 2_000,
      unreachableAfterMs: 10_000,
      lostAfterMs: 120_000,
    });
  });

  it('a peer link needs the secret, an https URL and PostgreSQL, all of them; it listens on HOST:8081 unless told', () => {
    const config = loadConfig({
      ...base,
      ...dir,
      ...pg,
      PEER_SECRET: secret,
      PEER_URL: 'https://10.0.0.2:8081/',
    });
    expect(config.peer).toEqual({ secret, url: 'https://10.0.0.2:8081', host: '127.0.0.1', port: 8081 });
    expect(() => loadConfig({ ...base, ...dir, ...pg, PEER_SECRET: secret })).toThrow(
      /PEER_SECRET and PEER_URL/,
    );
    expect(() => loadConfig({ ...base, ...dir, ...pg, PEER_URL: 'https://a:1' })).toThrow(
      /PEER_SECRET and PEER_URL/,
    );
    expect(() =>
      loadConfig({ ...base, ...dir, ...pg, PEER_SECRET: 'short', PEER_URL: 'https://a:1' }),
    ).toThrow(/PEER_SECRET: must be at least 32/);
    expect(() => loadConfig({ ...base, ...dir, ...pg, PEER_SECRET: secret, PEER_URL: 'http://a:1' })).toThrow(
      /PEER_URL: must be https/,
    );
    expect(() => loadConfig({ ...base, ...dir, PEER_SECRET: secret, PEER_URL: 'https://a:1' })).toThrow(
      /needs PostgreSQL/,
    );
    const { ENCRYPTION_KEY: _key, ...noKey } = base;
    expect(() =>
      loadConfig({ ...noKey, ...dir, ...pg, PEER_SECRET: secret, PEER_URL: 'https://a:1' }),
    ).toThrow(/must share JWT_SECRET and ENCRYPTION_KEY/);
  });

  it('refuses a node id that is not a plain name, and membership timings that contradict each other', () => {
    expect(() => loadConfig({ ...base, ...dir, NODE_ID: 'a b' })).toThrow(/NODE_ID/);
    expect(() =>
      loadConfig({ ...base, ...dir, NODE_HEARTBEAT_INTERVAL: '5s', NODE_UNREACHABLE_AFTER: '8s' }),
    ).toThrow(/NODE_UNREACHABLE_AFTER: must be at least twice/);
    expect(() =>
      loadConfig({ ...base, ...dir, NODE_UNREACHABLE_AFTER: '1m', NODE_LOST_AFTER: '30s' }),
    ).toThrow(/NODE_LOST_AFTER/);
  });
});
