import { availableParallelism } from 'node:os';
import { type Algorithm, parseOptions, type Version } from '@node-rs/argon2';
import { Piscina } from 'piscina';

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
 * Hashing runs in its own pool of worker threads (piscina), one per core, at a lower CPU
 * priority than the event loop (nice +10; Linux, through piscina's optional @napi-rs/nice).
 * A login costs ~10 ms of CPU and a burst of them fills every core; at equal priority the event
 * loop waited its turn behind argon2 each time it woke, so every open terminal stuttered while
 * people signed in (bench, keystroke echo during 20 back-to-back login loops: p50 12-13.5 ms,
 * p99 43-48 ms on libuv's pool; 3.2-3.5 ms and 23 ms here). Now the event loop gets a core as
 * soon as it has work and argon2 takes the rest: an idle machine hashes as fast as before.
 * One hash per thread, first come first served: with more in flight than cores they would all
 * slow down together.
 */
const slots = Math.max(1, availableParallelism());
let pool: Piscina | undefined;

function hashPool(): Piscina {
  pool ??= new Piscina({
    filename: new URL('./hash-worker.mjs', import.meta.url).href,
    minThreads: slots,
    maxThreads: slots,
    niceIncrement: 10,
    // First come, first served: by default a task that finds every thread busy goes back to the
    // end of the queue, which gave some logins twice the wait of others.
    stricterFIFO: true,
    recordTiming: false,
  });
  return pool;
}

type HashTask =
  | { op: 'hash'; password: string; options: typeof ARGON2_OPTIONS }
  | { op: 'verify'; hashed: string; password: string };

function run<T>(task: HashTask): Promise<T> {
  return hashPool().run(task) as Promise<T>;
}

export function hashPassword(password: string): Promise<string> {
  return run({ op: 'hash', password, options: ARGON2_OPTIONS });
}

/**
 * False for a wrong password or an unreadable hash (the worker maps those). A failure of the
 * pool itself (a worker that died) rejects instead: it must become a 500, not count as a wrong
 * password towards the account's lockout.
 */
export function verifyPassword(hashed: string, password: string): Promise<boolean> {
  return run<boolean>({ op: 'verify', hashed, password });
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
