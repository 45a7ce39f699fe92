import { integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * Failed sign-ins per username, whether or not an account has that name, so that a name locks
 * identically for known and unknown users, on every node and across restarts. Keyed by a hash of
 * the lower-cased name: people type passwords into the username field, and this table needs only
 * equality. A row exists only while there is something to remember.
 */
export const loginFailures = pgTable('login_failures', {
  /** sha256 (hex) of the lower-cased username (auth/login-failures-repo.ts `nameKey`). */
  nameKey: text('name_key').primaryKey(),
  /** Failures since the last lock or success; restarts at 0 when the name locks. */
  failures: integer('failures').notNull().default(0),
  lockedUntil: timestamp('locked_until', { withTimezone: true }),
  lastFailureAt: timestamp('last_failure_at', { withTimezone: true }).notNull(),
});

export type LoginFailureRow = typeof loginFailures.$inferSelect;
