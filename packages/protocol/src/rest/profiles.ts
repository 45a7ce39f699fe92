import { z } from 'zod';
import { HostNameSchema, PortSchema } from '../target.js';
import { IsoDateSchema } from './common.js';

/**
 * Saved connections (DESIGN §8): folders, connection profiles and credential sets, per user.
 *
 * Secrets (passwords, private keys, passphrases) go in, never come out: responses only say
 * whether one is stored (`hasStoredSecret`, `hasPassphrase`). They are encrypted at rest.
 *
 * VelociTerm compatibility: `POST /api/profiles/import` reads and `GET /api/profiles/export`
 * writes the VelociTerm `sessions.yaml` layout:
 *
 * ```yaml
 * - folder_name: Core
 *   sessions:
 *     - display_name: core-sw1
 *       host: 10.0.0.1
 *       port: '22'
 *       DeviceType: cisco_ios
 *       Model: C9300
 * ```
 *
 * A session is identified by `display_name:host:port:folder_name`, so importing the same file
 * again updates rather than duplicates. Keys Tether does not know (`credsid`, `Vendor`, …) are
 * kept in `extra` and written back on export. Tether's own fields travel as extra keys VelociTerm
 * ignores: `username`, `auth_method`, `credential` (a credential set's name), `tags`, `notes`.
 */

export const PROFILES_IMPORT_MAX_BYTES = 5 * 1024 * 1024;
export const PROFILES_EXPORT_CONTENT_TYPE = 'application/yaml';

const NAME_MAX = 200;
const TAG_MAX = 64;
const TAGS_MAX = 50;
const NOTES_MAX = 10_000;
const SECRET_MAX = 4096;
const PRIVATE_KEY_MAX = 32_768;

export const AuthMethodSchema = z.enum(['password', 'publickey', 'keyboard-interactive', 'none']);
/** `none` = nothing configured: ask at connect time. */
export type AuthMethod = z.infer<typeof AuthMethodSchema>;

export const CredentialKindSchema = z.enum(['password', 'privateKey']);
export type CredentialKind = z.infer<typeof CredentialKindSchema>;

export const DisplayNameSchema = z
  .string()
  .trim()
  .min(1, 'is required')
  .max(NAME_MAX, `must be at most ${NAME_MAX} characters`);

/** Same rule as the terminal socket's target host, so every saved profile can be opened. */
export const ProfileHostSchema = HostNameSchema;

const SshUsernameSchema = z.string().trim().max(255, 'must be at most 255 characters');

const optionalText = (max: number) => z.string().trim().max(max, `must be at most ${max} characters`);

export const TagsSchema = z
  .array(z.string().trim().min(1, 'must not be empty').max(TAG_MAX, `must be at most ${TAG_MAX} characters`))
  .max(TAGS_MAX, `at most ${TAGS_MAX} tags`)
  // Tags are a set: duplicates (case-insensitively) collapse to the first spelling.
  .transform((tags) => {
    const seen = new Set<string>();
    return tags.filter((t) => !seen.has(t.toLowerCase()) && seen.add(t.toLowerCase()));
  });

/** Session keys the YAML import/export maps onto profile fields; they cannot also be `extra` keys. */
export const VELOCITERM_MAPPED_KEYS = [
  'display_name',
  'host',
  'port',
  'DeviceType',
  'Model',
  'username',
  'auth_method',
  'credential',
  'tags',
  'notes',
] as const;

/** Keys VelociTerm (or another tool) wrote that Tether keeps verbatim and exports again. */
export const ExtraSchema = z.record(z.string(), z.unknown());

/** `extra` as a client may write it: mapped keys belong in their own fields. */
const ExtraInputSchema = ExtraSchema.refine(
  (extra) => !VELOCITERM_MAPPED_KEYS.some((k) => Object.hasOwn(extra, k)),
  `must not contain ${VELOCITERM_MAPPED_KEYS.join(', ')} (use the profile's own fields)`,
);

const FolderRefSchema = z.uuid('must be a folder id').nullable();

// ── folders ──────────────────────────────────────────────────────────────────

export const FolderSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  profileCount: z.number().int(),
  createdAt: IsoDateSchema,
  updatedAt: IsoDateSchema,
});
export type Folder = z.infer<typeof FolderSchema>;

export const FolderListSchema = z.object({ folders: z.array(FolderSchema) });
export type FolderList = z.infer<typeof FolderListSchema>;

export const CreateFolderRequestSchema = z.object({ name: DisplayNameSchema });
export type CreateFolderRequest = z.infer<typeof CreateFolderRequestSchema>;

export const RenameFolderRequestSchema = z.object({ name: DisplayNameSchema });
export type RenameFolderRequest = z.infer<typeof RenameFolderRequestSchema>;

/**
 * DELETE /api/folders/:id. A non-empty folder is refused (`CONFLICT`) unless its profiles are
 * moved first: `moveTo` is another folder's id or `root` (no folder).
 */
export const DeleteFolderQuerySchema = z.object({
  moveTo: z.union([z.literal('root'), z.uuid('must be a folder id or "root"')]).optional(),
});
export type DeleteFolderQuery = z.infer<typeof DeleteFolderQuerySchema>;

// ── profiles ─────────────────────────────────────────────────────────────────

/** A secret stored on the profile itself (a credential set is the shared alternative). */
const PasswordSecretSchema = z.object({
  kind: z.literal('password'),
  password: z.string().min(1, 'is required').max(SECRET_MAX, `must be at most ${SECRET_MAX} characters`),
});
const PrivateKeySecretSchema = z.object({
  kind: z.literal('privateKey'),
  /** OpenSSH or PEM private key text. */
  privateKey: z
    .string()
    .min(1, 'is required')
    .max(PRIVATE_KEY_MAX, `must be at most ${PRIVATE_KEY_MAX} characters`),
  passphrase: z.string().max(SECRET_MAX, `must be at most ${SECRET_MAX} characters`).optional(),
});
const KIND_ERROR = { error: 'must be "password" or "privateKey"' };

export const ProfileSecretSchema = z.discriminatedUnion(
  'kind',
  [PasswordSecretSchema, PrivateKeySecretSchema],
  KIND_ERROR,
);
export type ProfileSecret = z.infer<typeof ProfileSecretSchema>;

export const ProfileSchema = z.object({
  id: z.uuid(),
  folderId: z.uuid().nullable(),
  name: z.string(),
  host: z.string(),
  port: z.number().int(),
  username: z.string().nullable(),
  authMethod: AuthMethodSchema,
  credentialId: z.uuid().nullable(),
  /** The profile stores its own secret (a linked credential set is reported by `credentialId`). */
  hasStoredSecret: z.boolean(),
  deviceType: z.string().nullable(),
  model: z.string().nullable(),
  tags: z.array(z.string()),
  notes: z.string().nullable(),
  extra: ExtraSchema,
  createdAt: IsoDateSchema,
  updatedAt: IsoDateSchema,
});
export type Profile = z.infer<typeof ProfileSchema>;

export const ProfileListSchema = z.object({ profiles: z.array(ProfileSchema) });
export type ProfileList = z.infer<typeof ProfileListSchema>;

const profileFields = {
  name: DisplayNameSchema,
  host: ProfileHostSchema,
  port: PortSchema,
  username: SshUsernameSchema.nullable(),
  authMethod: AuthMethodSchema,
  credentialId: z.uuid('must be a credential set id').nullable(),
  folderId: FolderRefSchema,
  deviceType: optionalText(NAME_MAX).nullable(),
  model: optionalText(NAME_MAX).nullable(),
  tags: TagsSchema,
  notes: optionalText(NOTES_MAX).nullable(),
  extra: ExtraInputSchema,
};

export const CreateProfileRequestSchema = z.object({
  ...profileFields,
  port: PortSchema.default(22),
  username: profileFields.username.optional(),
  authMethod: AuthMethodSchema.default('none'),
  credentialId: profileFields.credentialId.optional(),
  folderId: FolderRefSchema.optional(),
  deviceType: profileFields.deviceType.optional(),
  model: profileFields.model.optional(),
  tags: TagsSchema.default([]),
  notes: profileFields.notes.optional(),
  extra: ExtraInputSchema.default({}),
  secret: ProfileSecretSchema.nullable().optional(),
});
export type CreateProfileRequest = z.input<typeof CreateProfileRequestSchema>;

/** PATCH: every field optional, at least one. `secret: null` forgets the stored secret. */
export const UpdateProfileRequestSchema = z
  .object({
    name: profileFields.name.optional(),
    host: profileFields.host.optional(),
    port: PortSchema.optional(),
    username: profileFields.username.optional(),
    authMethod: AuthMethodSchema.optional(),
    credentialId: profileFields.credentialId.optional(),
    folderId: FolderRefSchema.optional(),
    deviceType: profileFields.deviceType.optional(),
    model: profileFields.model.optional(),
    tags: TagsSchema.optional(),
    notes: profileFields.notes.optional(),
    extra: ExtraInputSchema.optional(),
    secret: ProfileSecretSchema.nullable().optional(),
  })
  .refine((v) => Object.values(v).some((x) => x !== undefined), 'at least one field is required');
export type UpdateProfileRequest = z.input<typeof UpdateProfileRequestSchema>;

/** POST /api/profiles/:id/move: `folderId: null` moves to the top level. */
export const MoveProfileRequestSchema = z.object({ folderId: FolderRefSchema });
export type MoveProfileRequest = z.infer<typeof MoveProfileRequestSchema>;

/** GET /api/profiles: all filters combine (AND); text matching is case-insensitive. */
export const ProfileSearchQuerySchema = z.object({
  /** Substring of the name, host, device type, model or any tag. */
  q: z.string().trim().max(200, 'must be at most 200 characters').optional(),
  /** A folder id, or `root` for profiles in no folder. */
  folderId: z.union([z.literal('root'), z.uuid('must be a folder id or "root"')]).optional(),
  /** Exact tag (case-insensitive). */
  tag: z.string().trim().max(TAG_MAX).optional(),
  /** Exact device type (case-insensitive). */
  deviceType: z.string().trim().max(NAME_MAX).optional(),
});
export type ProfileSearchQuery = z.infer<typeof ProfileSearchQuerySchema>;

// ── credential sets ──────────────────────────────────────────────────────────

export const CredentialSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  kind: CredentialKindSchema,
  username: z.string().nullable(),
  hasPassphrase: z.boolean(),
  /** Number of profiles that use this set. */
  usedBy: z.number().int(),
  createdAt: IsoDateSchema,
  updatedAt: IsoDateSchema,
});
export type Credential = z.infer<typeof CredentialSchema>;

export const CredentialListSchema = z.object({ credentials: z.array(CredentialSchema) });
export type CredentialList = z.infer<typeof CredentialListSchema>;

const credentialFields = { name: DisplayNameSchema, username: SshUsernameSchema.nullable().optional() };

/** POST /api/credentials: `{ name, username?, kind: 'password', password }` or a private key. */
export const CreateCredentialRequestSchema = z.discriminatedUnion(
  'kind',
  [PasswordSecretSchema.extend(credentialFields), PrivateKeySecretSchema.extend(credentialFields)],
  KIND_ERROR,
);
export type CreateCredentialRequest = z.input<typeof CreateCredentialRequestSchema>;

/** PATCH /api/credentials/:id: rename, change the username, or replace the secret. */
export const UpdateCredentialRequestSchema = z
  .object({
    name: DisplayNameSchema.optional(),
    username: SshUsernameSchema.nullable().optional(),
    secret: ProfileSecretSchema.optional(),
  })
  .refine((v) => Object.values(v).some((x) => x !== undefined), 'at least one field is required');
export type UpdateCredentialRequest = z.input<typeof UpdateCredentialRequestSchema>;

// ── VelociTerm import / export ───────────────────────────────────────────────

export const ImportModeSchema = z.enum(['merge', 'replace']);
/** `merge` adds and updates; `replace` also deletes this user's profiles the file does not list. */
export type ImportMode = z.infer<typeof ImportModeSchema>;

/** UTF-8 byte length without TextEncoder/Buffer, so the schema runs anywhere. */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

export const ImportRequestSchema = z.object({
  yaml: z
    .string({ error: 'is required (the YAML file as a string)' })
    .refine(
      (s) => s.length <= PROFILES_IMPORT_MAX_BYTES && utf8Length(s) <= PROFILES_IMPORT_MAX_BYTES,
      `must be at most ${PROFILES_IMPORT_MAX_BYTES / 1024 / 1024} MiB`,
    ),
  mode: ImportModeSchema.default('merge'),
  /** true: compute and return the preview, write nothing. */
  dryRun: z.boolean().default(false),
});
export type ImportRequest = z.input<typeof ImportRequestSchema>;

export const ImportEntrySchema = z.object({ folder: z.string().nullable(), name: z.string() });
export type ImportEntry = z.infer<typeof ImportEntrySchema>;

export const ImportPreviewSchema = z.object({
  added: z.array(ImportEntrySchema),
  updated: z.array(ImportEntrySchema),
  unchanged: z.array(ImportEntrySchema),
  /** Only in `replace` mode. */
  removed: z.array(ImportEntrySchema),
  folders: z.object({ added: z.array(z.string()), removed: z.array(z.string()) }),
});
export type ImportPreview = z.infer<typeof ImportPreviewSchema>;

export const ImportResponseSchema = z.object({
  mode: ImportModeSchema,
  dryRun: z.boolean(),
  preview: ImportPreviewSchema,
});
export type ImportResponse = z.infer<typeof ImportResponseSchema>;

/** VelociTerm's port is a string (`'22'`); numbers are accepted too. */
export const VelociTermPortSchema = z.union([
  PortSchema,
  z
    .string()
    .trim()
    .regex(/^\d{1,5}$/, 'must be a number from 1 to 65535')
    .transform(Number)
    .pipe(PortSchema),
]);

/** One `sessions` entry; unknown keys pass through (they are kept in `extra`). */
export const VelociTermSessionSchema = z.looseObject({
  display_name: z.union([DisplayNameSchema, z.number().transform(String)]),
  host: ProfileHostSchema,
  port: VelociTermPortSchema.default(22),
  DeviceType: optionalText(NAME_MAX).nullish(),
  Model: optionalText(NAME_MAX).nullish(),
  username: SshUsernameSchema.nullish(),
  auth_method: AuthMethodSchema.nullish(),
  credential: optionalText(NAME_MAX).nullish(),
  tags: TagsSchema.nullish(),
  notes: optionalText(NOTES_MAX).nullish(),
});
export type VelociTermSession = z.input<typeof VelociTermSessionSchema>;

/** One top-level list item. Folder-level keys other than these two are ignored. */
export const VelociTermFolderSchema = z.object({
  /** Empty (or null) means the top level: profiles in no folder. */
  folder_name: z.union(
    [z.string().trim().max(NAME_MAX, `must be at most ${NAME_MAX} characters`), z.null()],
    {
      error: 'is required (use an empty string for the top level)',
    },
  ),
  sessions: z.array(z.unknown(), { error: 'must be a list of sessions' }).nullable().default([]),
});
export type VelociTermFolder = z.input<typeof VelociTermFolderSchema>;
