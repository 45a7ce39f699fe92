// One argon2 hash or verify, run by the hashing pool's worker threads (see passwords.ts).
// Plain JavaScript so that the same file serves the TypeScript sources (tests, `pnpm dev`) and
// the built broker (copied into dist/ by scripts/copy-assets.mjs).
import { hashSync, verifySync } from '@node-rs/argon2';

/** @param {{ op: 'hash', password: string, options: object } | { op: 'verify', hashed: string, password: string }} task */
export default function argon2Task(task) {
  if (task.op === 'hash') return hashSync(task.password, task.options);
  try {
    return verifySync(task.hashed, task.password);
  } catch {
    return false; // not an argon2 hash this library can read: a failed verify, not an error
  }
}
