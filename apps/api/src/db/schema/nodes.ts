import { pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * The broker nodes sharing this database (issue #16, DESIGN §11). Each node writes its own row at
 * start and refreshes `heartbeatAt` with the database's clock (never its own), so every node
 * judges every other by one clock: a row whose heartbeat is older than NODE_UNREACHABLE_AFTER is
 * an unreachable node, one older than NODE_LOST_AFTER a lost one whose terminals are recorded lost.
 */
export const nodes = pgTable('nodes', {
  id: text('id').primaryKey(),
  /** How other nodes reach this one's peer link; null when it has none configured. */
  peerUrl: text('peer_url'),
  /** The terminal host generation serving this node's terminals (null while it has none). */
  hostGeneration: text('host_generation'),
  version: text('version').notNull(),
  state: text('state', { enum: ['up', 'draining', 'stopped'] }).notNull(),
  startedAt: timestamp('started_at', { withTimezone: true }).notNull(),
  heartbeatAt: timestamp('heartbeat_at', { withTimezone: true }).notNull(),
});

export type NodeRow = typeof nodes.$inferSelect;
