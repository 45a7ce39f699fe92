import { createHash } from 'node:crypto';
import { and, eq, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/index.js';
import { loginFailures } from '../db/schema/index.js';

/** The table's key for a username: the same for "Alice" and "alice", known or not. */
export function nameKey(username: string): string {
  return createHash('sha256').update(username.toLowerCase(), 'utf8').digest('hex');
}

export function createLoginFailuresRepo(db: DbOrTx) {
  return {
    /** When the name is locked until, or null. */
    async lockedUntil(key: string, at: Date): Promise<Date | null> {
      const [row] = await db
        .select({ lockedUntil: loginFailures.lockedUntil })
        .from(loginFailures)
        .where(eq(loginFailures.nameKey, key))
        .limit(1);
      return row?.lockedUntil && row.lockedUntil > at ? row.lockedUntil : null;
    },

    /**
     * Counts a failure in one statement (safe under concurrent attempts on any node). The
     * `maxFailures`-th failure locks the name until `at + lockoutMs` and restarts the count.
     * Returns the count after this failure (0 when it locked) and the lock it set, if any.
     */
    async recordFailure(
      key: string,
      maxFailures: number,
      lockoutMs: number,
      at: Date,
    ): Promise<{ failures: number; lockedUntil: Date | null }> {
      const until = new Date(at.getTime() + lockoutMs);
      const next = sql`${loginFailures.failures} + 1`;
      const [row] = await db
        .insert(loginFailures)
        .values({
          nameKey: key,
          failures: maxFailures <= 1 ? 0 : 1,
          lockedUntil: maxFailures <= 1 ? until : null,
          lastFailureAt: at,
        })
        .onConflictDoUpdate({
          target: loginFailures.nameKey,
          set: {
            failures: sql`case when ${next} >= ${maxFailures} then 0 else ${next} end`,
            lockedUntil: sql`case when ${next} >= ${maxFailures} then ${until.toISOString()}::timestamptz else ${loginFailures.lockedUntil} end`,
            lastFailureAt: at,
          },
        })
        .returning({ failures: loginFailures.failures, lockedUntil: loginFailures.lockedUntil });
      const locked = row?.lockedUntil && row.lockedUntil.getTime() === until.getTime() ? until : null;
      return { failures: row?.failures ?? 0, lockedUntil: locked };
    },

    /** A successful sign-in, an admin unlock or a password reset forgets the failures. */
    async clear(key: string): Promise<void> {
      await db.delete(loginFailures).where(eq(loginFailures.nameKey, key));
    },

    async findMany(keys: string[]) {
      if (!keys.length) return [];
      return db.select().from(loginFailures).where(inArray(loginFailures.nameKey, keys));
    },

    /**
     * Housekeeping: rows whose lock is over and whose last failure is older than `before` say
     * nothing any more. Returns how many were deleted.
     */
    async sweep(at: Date, before: Date): Promise<number> {
      const rows = await db
        .delete(loginFailures)
        .where(
          and(
            lt(loginFailures.lastFailureAt, before),
            or(isNull(loginFailures.lockedUntil), lt(loginFailures.lockedUntil, at)),
          ),
        )
        .returning({ k: loginFailures.nameKey });
      return rows.length;
    },
  };
}

export type LoginFailuresRepo = ReturnType<typeof createLoginFailuresRepo>;
