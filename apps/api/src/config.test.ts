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
    });
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
