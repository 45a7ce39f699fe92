import { sql } from 'drizzle-orm';
import {
  boolean,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { users } from './users.js';

/** Saved-connection folders (DESIGN §8): flat, per user, names unique case-insensitively. */
export const folders = pgTable(
  'folders',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('folders_user_name_lower_idx').on(t.userId, sql`lower(${t.name})`),
    // Target of the profiles' composite foreign key: a profile can only sit in its owner's folder.
    unique('folders_id_user_unique').on(t.id, t.userId),
  ],
);

export type FolderRow = typeof folders.$inferSelect;

/**
 * Credential sets shared by several profiles. `secret_enc` is the AES-256-GCM sealed JSON secret
 * (`{ password }` or `{ privateKey, passphrase? }`), bound to user id + row id + column name.
 */
export const credentials = pgTable(
  'credentials',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    kind: text('kind', { enum: ['password', 'privateKey'] }).notNull(),
    username: text('username'),
    secretEnc: text('secret_enc').notNull(),
    hasPassphrase: boolean('has_passphrase').notNull().default(false),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('credentials_user_name_lower_idx').on(t.userId, sql`lower(${t.name})`),
    unique('credentials_id_user_unique').on(t.id, t.userId),
  ],
);

export type CredentialRow = typeof credentials.$inferSelect;

/**
 * Saved hosts. `import_key` is VelociTerm's deterministic identity
 * `display_name:host:port:folder_name` ('' for no folder), recomputed whenever one of its parts
 * changes; it is unique per user, so an import upserts on it. `id` is a random uuid that never
 * changes, so terminals and the SPA can keep referring to a profile across renames.
 */
export const connectionProfiles = pgTable(
  'connection_profiles',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    folderId: uuid('folder_id'),
    name: text('name').notNull(),
    host: text('host').notNull(),
    port: integer('port').notNull(),
    username: text('username'),
    authMethod: text('auth_method', { enum: ['password', 'publickey', 'keyboard-interactive', 'none'] })
      .notNull()
      .default('none'),
    credentialId: uuid('credential_id'),
    /** Sealed JSON secret stored on the profile itself, or null. */
    secretEnc: text('secret_enc'),
    deviceType: text('device_type'),
    model: text('model'),
    tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
    notes: text('notes'),
    /** Keys of the imported VelociTerm entry that Tether does not model; written back on export. */
    extra: jsonb('extra').$type<Record<string, unknown>>().notNull().default({}),
    importKey: text('import_key').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('connection_profiles_user_import_key_idx').on(t.userId, t.importKey),
    index('connection_profiles_user_folder_idx').on(t.userId, t.folderId),
    index('connection_profiles_user_credential_idx').on(t.userId, t.credentialId),
    // Composite keys make cross-user references impossible at the database level, whatever the
    // application does. NO ACTION (checked at statement end) lets a user's cascade delete remove
    // folders, credentials and profiles together; non-empty folder and in-use credential deletes
    // are refused with a friendly error before the database would refuse them.
    foreignKey({
      name: 'connection_profiles_folder_fk',
      columns: [t.folderId, t.userId],
      foreignColumns: [folders.id, folders.userId],
    }),
    foreignKey({
      name: 'connection_profiles_credential_fk',
      columns: [t.credentialId, t.userId],
      foreignColumns: [credentials.id, credentials.userId],
    }),
  ],
);

export type ConnectionProfileRow = typeof connectionProfiles.$inferSelect;
export type NewConnectionProfileRow = typeof connectionProfiles.$inferInsert;
