import { index, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { users } from './users.js';

/**
 * Fixed-window counters shared by every node (issue #16, "one policy on every node"): sign-in
 * attempts per client address, failed SSH opens per user. `key` names the limit and its subject.
 */
export const rateCounters = pgTable('rate_counters', {
  key: text('key').primaryKey(),
  hits: integer('hits').notNull(),
  windowEndsAt: timestamp('window_ends_at', { withTimezone: true }).notNull(),
});

/** Authenticated terminal sockets, on whichever node: what the per-user socket cap counts. */
export const liveSockets = pgTable(
  'live_sockets',
  {
    id: uuid('id').primaryKey(),
    nodeId: text('node_id').notNull(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    openedAt: timestamp('opened_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('live_sockets_user_idx').on(t.userId), index('live_sockets_node_idx').on(t.nodeId)],
);
