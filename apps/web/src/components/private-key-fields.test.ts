import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { armor, keyNeedsPassphrase } from './private-key-fields';

/** Throwaway keys from ssh-keygen (no key is kept in the repository). */
let dir = '';
function keygen(name: string, args: string[]): string {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', ...args, '-C', 'test', '-f', file]);
  return readFileSync(file, 'utf8');
}

let keys: Record<'opensshEncrypted' | 'opensshPlain' | 'pemEncrypted' | 'pemPlain', string>;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tether-keys-'));
  keys = {
    opensshEncrypted: keygen('a', ['-t', 'ed25519', '-N', 'pw-secret']),
    opensshPlain: keygen('b', ['-t', 'ed25519', '-N', '']),
    pemEncrypted: keygen('c', ['-t', 'ecdsa', '-b', '256', '-m', 'PEM', '-N', 'pw-secret']),
    pemPlain: keygen('d', ['-t', 'ecdsa', '-b', '256', '-m', 'PEM', '-N', '']),
  };
  // Four ssh-keygen runs: room for a busy machine.
}, 30_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('keyNeedsPassphrase', () => {
  it('tells an encrypted key from a plain one in OpenSSH, PEM, PKCS#8 and PuTTY formats', () => {
    expect(keyNeedsPassphrase(keys.opensshEncrypted)).toBe(true);
    expect(keyNeedsPassphrase(keys.opensshPlain)).toBe(false);
    expect(keyNeedsPassphrase(keys.pemEncrypted)).toBe(true);
    expect(keyNeedsPassphrase(keys.pemPlain)).toBe(false);
    expect(keyNeedsPassphrase(`${armor('BEGIN', 'ENCRYPTED')}\nMIIB\n${armor('END', 'ENCRYPTED')}`)).toBe(
      true,
    );
    expect(keyNeedsPassphrase('PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: aes256-cbc\n')).toBe(true);
    expect(keyNeedsPassphrase('PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n')).toBe(false);
  });

  it('says no when it cannot tell (the broker then explains)', () => {
    expect(keyNeedsPassphrase('')).toBe(false);
    expect(keyNeedsPassphrase('not a key')).toBe(false);
    expect(keyNeedsPassphrase(`${armor('BEGIN', 'OPENSSH')}\n!!!\n${armor('END', 'OPENSSH')}`)).toBe(false);
  });
});
