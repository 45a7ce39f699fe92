import { jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { users } from './users.js';

/**
 * Each user's NetBox API token (DESIGN §8). `token_enc` is sealed with the saved-connection key
 * (AES-256-GCM), bound to the user id and this column, and is never returned by the API.
 */
export const netboxTokens = pgTable('netbox_tokens', {
  userId: uuid('user_id')
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  tokenEnc: text('token_enc').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export type NetboxTokenRow = typeof netboxTokens.$inferSelect;

/**
 * Instance-wide settings an admin changes at run time (key → JSON value), shared by every node.
 * `netbox`: `{ url, tlsVerify }`, each null = use the environment (NETBOX_URL, NETBOX_TLS_VERIFY).
 */
export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  value: jsonb('value').$type<Record<string, unknown>>().notNull(),
  // No foreign key: the setting outlives the admin who changed it.
  updatedBy: uuid('updated_by'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export type SettingRow = typeof settings.$inferSelect;
