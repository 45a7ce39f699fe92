import { availableParallelism } from 'node:os';
import { type Algorithm, hash, parseOptions, type Version, verify } from '@node-rs/argon2';

/**
 * argon2id at OWASP's minimum (m=19 MiB, t=2, p=1), version 0x13. The hash string records its
 * parameters, so raising them later still verifies old hashes; `needsRehash` upgrades on the
 * next login. Hashes are standard PHC strings, interchangeable with any other argon2 library.
 *
 * @node-rs/argon2 (the RustCrypto implementation, prebuilt per platform) rather than the
 * node-gyp `argon2` package: the same hash in less than half the time on x86-64 (SIMD), and no
 * compiler at install time. The enum values are spelled out: const enums do not survive
 * isolated-module builds.
 */
export const ARGON2_OPTIONS = {
  algorithm: 2 as Algorithm, // Argon2id
  version: 1 as Version, // 0x13
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

/**
 * argon2 runs on libuv's thread pool (4 threads by default). With more hashes in flight than
 * cores they all slow down together and every login waits for the slowest; admitting one per
 * core, first come first served, keeps the same throughput with a much shorter tail.
 */
const slots = Math.max(1, availableParallelism());
let running = 0;
const waiting: Array<() => void> = [];

async function withSlot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= slots) await new Promise<void>((resolve) => waiting.push(resolve));
  else running++;
  try {
    return await work();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

export function hashPassword(password: string): Promise<string> {
  return withSlot(() => hash(password, ARGON2_OPTIONS));
}

export async function verifyPassword(hashed: string, password: string): Promise<boolean> {
  try {
    return await withSlot(() => verify(hashed, password));
  } catch {
    return false;
  }
}

/** True when `hashed` was made with other parameters (or is not an argon2 hash at all). */
export function needsRehash(hashed: string): boolean {
  try {
    const used = parseOptions(hashed);
    return (
      used.algorithm !== ARGON2_OPTIONS.algorithm ||
      used.version !== ARGON2_OPTIONS.version ||
      used.memoryCost !== ARGON2_OPTIONS.memoryCost ||
      used.timeCost !== ARGON2_OPTIONS.timeCost ||
      used.parallelism !== ARGON2_OPTIONS.parallelism
    );
  } catch {
    return true;
  }
}

let dummyHash: Promise<string> | undefined;

/**
 * Unknown usernames are verified against a real hash of the same cost so that the response time
 * does not reveal whether an account exists.
 */
export async function burnVerify(password: string): Promise<false> {
  dummyHash ??= hashPassword('tether-dummy-password-for-timing-equalisation');
  await verifyPassword(await dummyHash, password);
  return false;
}
