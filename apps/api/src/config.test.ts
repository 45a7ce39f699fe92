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
