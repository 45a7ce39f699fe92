import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, decodeKey, loadConfig } from '../config.js';
import { EncryptionKeyError, loadEncryptionKey } from './encryption-key.js';
import { createSecretBox, SecretDecryptionError } from './secret-box.js';

const ctx = { userId: 'u1', rowId: 'r1', field: 'credentials.secret_enc' };

function flipByte(sealed: string, index: number): string {
  const [version, body] = sealed.split(':') as [string, string];
  const raw = Buffer.from(body, 'base64url');
  raw[index % raw.length]! ^= 0x01;
  return `${version}:${raw.toString('base64url')}`;
}

describe('secret box', () => {
  const box = createSecretBox(randomBytes(32));

  it('round-trips text, with a versioned format and a fresh nonce per value', () => {
    const a = box.seal('hunter2 ünïcødé', ctx);
    const b = box.seal('hunter2 ünïcødé', ctx);
    expect(a).toMatch(/^v1:[A-Za-z0-9_-]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('hunter2');
    expect(box.open(a, ctx)).toBe('hunter2 ünïcødé');
    // 12-byte nonce + 16-byte tag around the ciphertext.
    expect(Buffer.from(a.slice(3), 'base64url').length).toBe(12 + Buffer.byteLength('hunter2 ünïcødé') + 16);
  });

  it('fails loudly on any flipped byte: nonce, ciphertext or tag', () => {
    const sealed = box.seal('secret', ctx);
    const length = Buffer.from(sealed.slice(3), 'base64url').length;
    for (const i of [0, 11, 12, 14, length - 1]) {
      expect(() => box.open(flipByte(sealed, i), ctx)).toThrow(SecretDecryptionError);
    }
  });

  it('binds the value to its owner, row and field', () => {
    const sealed = box.seal('secret', ctx);
    expect(() => box.open(sealed, { ...ctx, userId: 'u2' })).toThrow(SecretDecryptionError);
    expect(() => box.open(sealed, { ...ctx, rowId: 'r2' })).toThrow(SecretDecryptionError);
    expect(() => box.open(sealed, { ...ctx, field: 'connection_profiles.secret_enc' })).toThrow(
      SecretDecryptionError,
    );
  });

  it('refuses another key, unknown versions and truncated values without echoing them', () => {
    const sealed = box.seal('secret', ctx);
    expect(() => createSecretBox(randomBytes(32)).open(sealed, ctx)).toThrow(SecretDecryptionError);
    expect(() => box.open(sealed.replace('v1:', 'v2:'), ctx)).toThrow(/unknown format/);
    expect(() => box.open('v1:AAAA', ctx)).toThrow(/truncated/);
    try {
      box.open(flipByte(sealed, 20), ctx);
    } catch (err) {
      expect((err as Error).message).not.toContain(sealed.slice(3));
    }
  });

  it('requires a 32-byte key', () => {
    expect(() => createSecretBox(randomBytes(16))).toThrow(/32 bytes/);
  });
});

describe('ENCRYPTION_KEY', () => {
  it('accepts 32 bytes as hex, base64 or base64url, and rejects anything else with a clear message', () => {
    const key = randomBytes(32);
    expect(decodeKey(key.toString('hex'))).toEqual(key);
    expect(decodeKey(key.toString('base64'))).toEqual(key);
    expect(decodeKey(key.toString('base64url'))).toEqual(key);
    expect(decodeKey(randomBytes(16).toString('base64'))).toBeNull();
    expect(decodeKey('correct horse battery staple')).toBeNull();
    expect(() =>
      loadConfig({ DATA_DIR: '/tmp/x', JWT_SECRET: 'x'.repeat(32), ENCRYPTION_KEY: 'short' }),
    ).toThrow(ConfigError);
    try {
      loadConfig({ DATA_DIR: '/tmp/x', JWT_SECRET: 'x'.repeat(32), ENCRYPTION_KEY: 'short' });
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([
        expect.stringMatching(/^ENCRYPTION_KEY: must be 32 bytes/),
      ]);
    }
  });
});

describe('encryption key file', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('generates a key once, mode 0600, and reads the same key back', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tether-key-'));
    const first = await loadEncryptionKey({ dataDir: dir, hasEncryptedValues: async () => false });
    expect(first.source).toBe('generated');
    expect(statSync(path.join(dir, 'encryption-key')).mode & 0o777).toBe(0o600);
    const second = await loadEncryptionKey({ dataDir: dir, hasEncryptedValues: async () => true });
    expect(second.source).toBe('file');
    expect(second.key).toEqual(first.key);
  });

  it('prefers ENCRYPTION_KEY and never touches the file then', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tether-key-'));
    const key = randomBytes(32);
    const loaded = await loadEncryptionKey({
      configured: key,
      dataDir: dir,
      hasEncryptedValues: async () => true,
    });
    expect(loaded).toEqual({ key, source: 'env' });
  });

  it('refuses to start when encrypted values exist but the key is gone', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tether-key-'));
    await expect(loadEncryptionKey({ dataDir: dir, hasEncryptedValues: async () => true })).rejects.toThrow(
      /key they were encrypted with is lost/,
    );
    // Nothing was generated: the next start must fail the same way, not silently succeed.
    await expect(loadEncryptionKey({ dataDir: dir, hasEncryptedValues: async () => true })).rejects.toThrow(
      EncryptionKeyError,
    );
  });

  it('rejects a damaged key file', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tether-key-'));
    writeFileSync(path.join(dir, 'encryption-key'), 'not a key\n');
    await expect(loadEncryptionKey({ dataDir: dir, hasEncryptedValues: async () => false })).rejects.toThrow(
      /does not hold a 32-byte key/,
    );
    expect(readFileSync(path.join(dir, 'encryption-key'), 'utf8')).toBe('not a key\n');
  });
});
