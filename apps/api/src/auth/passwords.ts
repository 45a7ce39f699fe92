import { availableParallelism } from 'node:os';
import argon2 from 'argon2';

/**
 * argon2id at OWASP's minimum (m=19 MiB, t=2, p=1). The hash string records its parameters, so
 * raising them later still verifies old hashes; `needsRehash` upgrades on the next login.
 */
export const ARGON2_OPTIONS = {
  type: argon2.argon2id,
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
  return withSlot(() => argon2.hash(password, ARGON2_OPTIONS));
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await withSlot(() => argon2.verify(hash, password));
  } catch {
    return false;
  }
}

export function needsRehash(hash: string): boolean {
  return argon2.needsRehash(hash, ARGON2_OPTIONS);
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
