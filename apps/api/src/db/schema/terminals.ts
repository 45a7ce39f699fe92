import { bigint, index, integer, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { users } from './users.js';

export const terminals = pgTable(
  'terminals',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    nodeId: text('node_id').notNull(),
    host: text('host').notNull(),
    port: integer('port').notNull(),
    sshUsername: text('ssh_username').notNull(),
    profileId: text('profile_id'),
    title: text('title'),
    cols: integer('cols').notNull(),
    rows: integer('rows').notNull(),
    status: text('status', { enum: ['connecting', 'running', 'exited', 'lost'] }).notNull(),
    exitCode: integer('exit_code'),
    exitSignal: text('exit_signal'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    lastAttachedAt: timestamp('last_attached_at', { withTimezone: true }),
    lastOutputAt: timestamp('last_output_at', { withTimezone: true }),
    endedAt: timestamp('ended_at', { withTimezone: true }),
    endReason: text('end_reason'),
    /** The owner cleared it from their list (ended terminals only); admins still see it. */
    clearedAt: timestamp('cleared_at', { withTimezone: true }),
  },
  (t) => [
    index('terminals_user_idx').on(t.userId, t.createdAt),
    index('terminals_node_status_idx').on(t.nodeId, t.status),
  ],
);

export type TerminalRow = typeof terminals.$inferSelect;

/**
 * The last screen of an ended terminal (its host's final snapshot, without scrollback), so a tab
 * restored after the host freed the terminal still shows it. Kept for a user's most recent ended
 * terminals only (see the repo), and dropped when the user clears them from the list.
 */
export const terminalScreens = pgTable(
  'terminal_screens',
  {
    terminalId: uuid('terminal_id')
      .primaryKey()
      .references(() => terminals.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    data: text('data').notNull(),
    cols: integer('cols').notNull(),
    rows: integer('rows').notNull(),
    /** The terminal's output offset the screen stands for. */
    outputOffset: bigint('output_offset', { mode: 'number' }).notNull(),
    capturedAt: timestamp('captured_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('terminal_screens_user_idx').on(t.userId, t.capturedAt)],
);

export type TerminalScreenRow = typeof terminalScreens.$inferSelect;

export const knownHosts = pgTable(
  'known_hosts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    host: text('host').notNull(),
    port: integer('port').notNull(),
    keyType: text('key_type').notNull(),
    fingerprint: text('fingerprint').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('known_hosts_user_host_port_idx').on(t.userId, t.host, t.port)],
);

export type KnownHostRow = typeof knownHosts.$inferSelect;
