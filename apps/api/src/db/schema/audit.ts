import { bigserial, index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const auditEvents = pgTable(
  'audit_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    // No foreign keys: the audit trail must outlive the users and sessions it mentions.
    userId: uuid('user_id'),
    username: text('username'),
    sessionId: uuid('session_id'),
    ip: text('ip'),
    type: text('type').notNull(),
    target: text('target'),
    outcome: text('outcome', { enum: ['success', 'failure'] }).notNull(),
    detail: jsonb('detail').$type<Record<string, unknown>>(),
  },
  (t) => [
    index('audit_events_at_idx').on(t.at),
    index('audit_events_user_at_idx').on(t.userId, t.at),
    index('audit_events_type_at_idx').on(t.type, t.at),
  ],
);

export type AuditEventRow = typeof auditEvents.$inferSelect;
