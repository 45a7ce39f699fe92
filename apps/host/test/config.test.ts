import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HostConfigError, loadHostEnv, nodeIdOf } from '../src/config.js';

/** The host's own settings for the peer port (issue #16), checked when it starts. */
describe('host configuration', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('has no peer port without PEER_SECRET, listens on 0.0.0.0:8081 by default with one', () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tether-hostcfg-'));
    expect(loadHostEnv({ DATA_DIR: dir }).PEER_SECRET).toBeUndefined();
    expect(loadHostEnv({ DATA_DIR: dir, PEER_SECRET: '   ' }).PEER_SECRET).toBeUndefined();
    expect(loadHostEnv({ DATA_DIR: dir, PEER_SECRET: 'x'.repeat(40) })).toMatchObject({
      PEER_HOST: '0.0.0.0',
      PEER_PORT: 8081,
    });
  });

  it('refuses a short PEER_SECRET, a bad PEER_PORT and a bad NODE_ID, naming each', () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tether-hostcfg-'));
    const refused = (env: NodeJS.ProcessEnv) => {
      try {
        loadHostEnv({ DATA_DIR: dir, ...env });
      } catch (err) {
        expect(err).toBeInstanceOf(HostConfigError);
        return (err as Error).message;
      }
      throw new Error('accepted');
    };
    expect(refused({ PEER_SECRET: 'short' })).toMatch(/^PEER_SECRET: must be at least 32 characters/);
    expect(refused({ PEER_PORT: '70000' })).toMatch(/^PEER_PORT:/);
    expect(refused({ NODE_ID: '-bad id' })).toMatch(/^NODE_ID: must be 1\.\.63 letters/);
  });

  it('takes NODE_ID, else keeps one in DATA_DIR/node-id that the API reads too', () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tether-hostcfg-'));
    expect(nodeIdOf(dir, 'node-a')).toBe('node-a');
    const made = nodeIdOf(dir);
    expect(made).toMatch(/^node-[0-9a-f]{12}$/);
    expect(readFileSync(path.join(dir, 'node-id'), 'utf8').trim()).toBe(made);
    expect(nodeIdOf(dir)).toBe(made);
  });
});
