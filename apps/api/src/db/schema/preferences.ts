import { jsonb, pgTable, timestamp, uuid } from 'drizzle-orm/pg-core';
import { users } from './users.js';

/**
 * What follows a user from browser to browser (issue #17): their terminal settings (only the
 * fields they changed; defaults live in the protocol) and their workspace layout (tabs, splits,
 * the active tab). One row per user, written on change.
 */
export const userPreferences = pgTable('user_preferences', {
  userId: uuid('user_id')
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  settings: jsonb('settings').$type<Record<string, unknown>>().notNull().default({}),
  workspace: jsonb('workspace').$type<Record<string, unknown>>(),
  settingsUpdatedAt: timestamp('settings_updated_at', { withTimezone: true }),
  workspaceUpdatedAt: timestamp('workspace_updated_at', { withTimezone: true }),
});

export type UserPreferencesRow = typeof userPreferences.$inferSelect;
