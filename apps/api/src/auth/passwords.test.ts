import { readdirSync, readFileSync } from 'node:fs';
import { hash } from '@node-rs/argon2';
import { describe, expect, it } from 'vitest';
import { ARGON2_OPTIONS, burnVerify, hashPassword, needsRehash, verifyPassword } from './passwords.js';

/** Made by the `argon2` package (node-argon2 0.45, the broker's previous library) for 'bench-login-password'. */
const NODE_ARGON2_HASH =
  '$argon2id$v=19$m=19456,p=1,t=2$hJRJ70/RJNUNNCY8Qe9Uig$JSMSXoULqNjKlMF6u0puNSnW/+Nc45Ku8Hm7Nf3Lvag';

describe('passwords', () => {
  it('hashes with argon2id m=19456 t=2 p=1 in PHC format, salted, and verifies', async () => {
    const a = await hashPassword('correct horse battery staple');
    const b = await hashPassword('correct horse battery staple');
    expect(a).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword(a, 'correct horse battery staple')).toBe(true);
    expect(await verifyPassword(a, 'correct horse battery stapler')).toBe(false);
    expect(await verifyPassword(a, '')).toBe(false);
    expect(needsRehash(a)).toBe(false);
  });

  it('verifies hashes written by another argon2 implementation (upgrades keep every password)', async () => {
    expect(await verifyPassword(NODE_ARGON2_HASH, 'bench-login-password')).toBe(true);
    expect(await verifyPassword(NODE_ARGON2_HASH, 'bench-login-passwore')).toBe(false);
    expect(needsRehash(NODE_ARGON2_HASH)).toBe(false);
  });

  it('asks for a rehash when the parameters differ, and treats garbage as a failed verify', async () => {
    const weaker = await hash('pw-12345678', { ...ARGON2_OPTIONS, timeCost: 1 });
    expect(needsRehash(weaker)).toBe(true);
    expect(await verifyPassword(weaker, 'pw-12345678')).toBe(true);
    const argon2i = await hash('pw-12345678', {
      ...ARGON2_OPTIONS,
      algorithm: 1 as typeof ARGON2_OPTIONS.algorithm,
    });
    expect(needsRehash(argon2i)).toBe(true);
    for (const garbage of [
      '',
      'not a hash',
      '$2b$10$abcdefghijklmnopqrstuv',
      '$argon2id$v=19$m=19456,t=2,p=1$x$y',
    ]) {
      expect(needsRehash(garbage)).toBe(true);
      expect(await verifyPassword(garbage, 'pw-12345678')).toBe(false);
    }
    expect(await burnVerify('anything')).toBe(false);
  });

  it.runIf(process.platform === 'linux')(
    'hashes on threads with a lower CPU priority than the event loop',
    async () => {
      expect(await verifyPassword(NODE_ARGON2_HASH, 'bench-login-password')).toBe(true);
      // /proc/<pid>/task/<tid>/stat: field 19 is the nice value; the main thread's tid is the pid.
      const niceOf = (tid: string) => {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      };
      const main = niceOf(String(process.pid));
      const niced = readdirSync('/proc/self/task').filter((tid) => niceOf(tid) === Math.min(19, main + 10));
      expect(niced.length).toBeGreaterThanOrEqual(1);
      expect(niced).not.toContain(String(process.pid));
    },
  );
});
