import { randomUUID } from 'node:crypto';
import {
  type CreateCredentialRequestSchema,
  type CreateProfileRequestSchema,
  type Credential,
  ErrorCode,
  type Folder,
  type ImportMode,
  type ImportResponse,
  type Profile,
  type ProfileSearchQuery,
  type ProfileSecret,
  ProfileSecretSchema,
  type SshAuth,
  type UpdateCredentialRequestSchema,
  type UpdateProfileRequestSchema,
} from '@tether/protocol';
import ssh2 from 'ssh2';
import type { z } from 'zod';
import { createUsersRepo } from '../auth/users-repo.js';
import { type SecretBox, type SecretContext, SecretDecryptionError } from '../crypto/secret-box.js';
import type { Db, DbOrTx } from '../db/index.js';
import type { ConnectionProfileRow, CredentialRow, FolderRow } from '../db/schema/index.js';
import { AppError, NotFoundError, ValidationError } from '../errors.js';
import { type CredentialWithUsage, createCredentialsRepo } from './credentials-repo.js';
import { uniqueViolation } from './db-errors.js';
import { createFoldersRepo, type FolderWithCount } from './folders-repo.js';
import { importKey } from './import-key.js';
import { planImport } from './import-plan.js';
import { parseImportFile } from './parse-import.js';
import { createProfilesRepo } from './profiles-repo.js';
import { type ExportFolder, serializeVelociTerm } from './velociterm-yaml.js';

const { utils } = ssh2;

const PROFILE_SECRET_FIELD = 'connection_profiles.secret_enc';
const CREDENTIAL_SECRET_FIELD = 'credentials.secret_enc';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LISTED_NAMES = 10;

export type CreateProfileInput = z.infer<typeof CreateProfileRequestSchema>;
export type UpdateProfileInput = z.infer<typeof UpdateProfileRequestSchema>;
export type CreateCredentialInput = z.infer<typeof CreateCredentialRequestSchema>;
export type UpdateCredentialInput = z.infer<typeof UpdateCredentialRequestSchema>;

/** What the terminal layer needs to open a saved connection. */
export interface ResolvedProfile {
  target: { host: string; port: number; username: string };
  /** Decrypted stored credentials; absent = ask at connect time. Never log it. */
  auth?: SshAuth;
  profile: Profile;
}

export class EncryptionKeyMismatchError extends Error {
  constructor() {
    super(
      'The encryption key does not decrypt the saved-connection secrets stored in the database: ' +
        'ENCRYPTION_KEY (or DATA_DIR/encryption-key) differs from the key they were encrypted with. ' +
        'Restore the original key.',
    );
    this.name = 'EncryptionKeyMismatchError';
  }
}

function conflict(message: string, fields?: Record<string, string>): AppError {
  return new AppError(409, ErrorCode.CONFLICT, message, fields ? { fields } : {});
}

function listNames(names: string[]): string {
  const shown = names.slice(0, LISTED_NAMES).map((n) => `"${n}"`);
  const more = names.length - shown.length;
  return more > 0 ? `${shown.join(', ')} and ${more} more` : shown.join(', ');
}

export function toApiFolder(row: FolderWithCount): Folder {
  return {
    id: row.id,
    name: row.name,
    profileCount: row.profileCount,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** The API view of a profile: the sealed secret becomes a boolean. */
export function toApiProfile(row: ConnectionProfileRow): Profile {
  return {
    id: row.id,
    folderId: row.folderId,
    name: row.name,
    host: row.host,
    port: row.port,
    username: row.username,
    authMethod: row.authMethod,
    credentialId: row.credentialId,
    hasStoredSecret: row.secretEnc !== null,
    deviceType: row.deviceType,
    model: row.model,
    tags: row.tags,
    notes: row.notes,
    extra: row.extra,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export function toApiCredential(row: CredentialWithUsage): Credential {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    username: row.username,
    hasPassphrase: row.hasPassphrase,
    usedBy: row.usedBy,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** Rejects a key ssh2 could not use, before it is stored (the message never quotes the key). */
function checkPrivateKey(secret: ProfileSecret, field: string): void {
  if (secret.kind !== 'privateKey') return;
  const parsed = utils.parseKey(secret.privateKey, secret.passphrase);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error || !key.isPrivateKey()) {
    throw new ValidationError(
      { [field]: 'is not a usable private key (or the passphrase is wrong)' },
      'The private key could not be read',
    );
  }
}

export function createProfilesService(deps: { db: Db; box: SecretBox }) {
  const { db, box } = deps;
  const folders = createFoldersRepo(db);
  const profiles = createProfilesRepo(db);
  const credentials = createCredentialsRepo(db);

  const profileCtx = (userId: string, rowId: string): SecretContext => ({
    userId,
    rowId,
    field: PROFILE_SECRET_FIELD,
  });
  const credentialCtx = (userId: string, rowId: string): SecretContext => ({
    userId,
    rowId,
    field: CREDENTIAL_SECRET_FIELD,
  });

  function seal(secret: ProfileSecret, ctx: SecretContext): string {
    return box.seal(JSON.stringify(secret), ctx);
  }

  function open(sealed: string, ctx: SecretContext): ProfileSecret {
    const plain = box.open(sealed, ctx);
    let parsed: ReturnType<typeof ProfileSecretSchema.safeParse>;
    try {
      parsed = ProfileSecretSchema.safeParse(JSON.parse(plain));
    } catch {
      throw new SecretDecryptionError('unexpected content');
    }
    if (!parsed.success) throw new SecretDecryptionError('unexpected content');
    return parsed.data;
  }

  async function requireFolder(userId: string, id: string, tx: DbOrTx = db): Promise<FolderRow> {
    const row = await createFoldersRepo(tx).findById(userId, id);
    if (!row) throw new NotFoundError('Folder');
    return row;
  }

  async function requireProfile(userId: string, id: string): Promise<ConnectionProfileRow> {
    // A malformed id cannot name anything of yours; answered before PostgreSQL's uuid cast fails.
    const row = UUID.test(id) ? await profiles.findById(userId, id) : undefined;
    if (!row) throw new NotFoundError('Saved connection');
    return row;
  }

  async function requireCredential(userId: string, id: string): Promise<CredentialWithUsage> {
    const row = UUID.test(id) ? await credentials.findById(userId, id) : undefined;
    if (!row) throw new NotFoundError('Credential set');
    return row;
  }

  function profileConflict(err: unknown): never {
    const constraint = uniqueViolation(err);
    if (constraint?.includes('import_key')) {
      throw conflict('A saved connection with this name, host and port already exists in that folder', {
        name: 'is already used for this host and port in the folder',
      });
    }
    throw err;
  }

  async function folderNameOf(userId: string, folderId: string | null): Promise<string | null> {
    return folderId ? (await requireFolder(userId, folderId)).name : null;
  }

  return {
    // ── folders ──
    async listFolders(userId: string): Promise<Folder[]> {
      return (await folders.list(userId)).map(toApiFolder);
    },

    async createFolder(userId: string, name: string): Promise<Folder> {
      try {
        return toApiFolder({ ...(await folders.create(userId, name)), profileCount: 0 });
      } catch (err) {
        if (uniqueViolation(err))
          throw conflict(`A folder named "${name}" already exists`, { name: 'is taken' });
        throw err;
      }
    },

    async renameFolder(userId: string, id: string, name: string): Promise<Folder> {
      try {
        const row = await db.transaction(async (tx) => {
          const renamed = await createFoldersRepo(tx).rename(userId, id, name);
          if (!renamed) throw new NotFoundError('Folder');
          return { ...renamed, profileCount: await createFoldersRepo(tx).countProfiles(userId, id) };
        });
        return toApiFolder(row);
      } catch (err) {
        if (uniqueViolation(err))
          throw conflict(`A folder named "${name}" already exists`, { name: 'is taken' });
        throw err;
      }
    },

    /** Refuses a non-empty folder unless `moveTo` (a folder id or 'root') says where its profiles go. */
    async deleteFolder(
      userId: string,
      id: string,
      moveTo?: string,
    ): Promise<{ folder: FolderRow; moved: number }> {
      try {
        return await db.transaction(async (tx) => {
          const txFolders = createFoldersRepo(tx);
          const folder = await requireFolder(userId, id, tx);
          const count = await txFolders.countProfiles(userId, id);
          let moved = 0;
          if (count > 0) {
            if (!moveTo) {
              throw conflict(
                `Folder "${folder.name}" holds ${count} saved connection${count === 1 ? '' : 's'}; move them ` +
                  'first, or delete with ?moveTo=<folderId> or ?moveTo=root',
              );
            }
            if (moveTo === id) throw new ValidationError({ moveTo: 'must be a different folder' });
            const target = moveTo === 'root' ? null : await requireFolder(userId, moveTo, tx);
            moved = await createProfilesRepo(tx).moveAll(userId, id, {
              id: target?.id ?? null,
              name: target?.name ?? '',
            });
          }
          await txFolders.delete(userId, id);
          return { folder, moved };
        });
      } catch (err) {
        if (uniqueViolation(err)) {
          throw conflict(
            'The target folder already holds a saved connection with the same name, host and port as one being moved',
          );
        }
        throw err;
      }
    },

    // ── profiles ──
    async searchProfiles(userId: string, query: ProfileSearchQuery): Promise<Profile[]> {
      const rows = await profiles.search(userId, {
        q: query.q || undefined,
        folderId:
          query.folderId === undefined ? undefined : query.folderId === 'root' ? null : query.folderId,
        tag: query.tag || undefined,
        deviceType: query.deviceType || undefined,
      });
      return rows.map(toApiProfile);
    },

    async getProfile(userId: string, id: string): Promise<Profile> {
      return toApiProfile(await requireProfile(userId, id));
    },

    async createProfile(userId: string, input: CreateProfileInput): Promise<Profile> {
      const folderId = input.folderId ?? null;
      const folderName = await folderNameOf(userId, folderId);
      if (input.credentialId) await requireCredential(userId, input.credentialId);
      if (input.secret) checkPrivateKey(input.secret, 'secret.privateKey');
      const id = randomUUID();
      try {
        const row = await profiles.insert({
          id,
          userId,
          folderId,
          name: input.name,
          host: input.host,
          port: input.port,
          username: input.username || null,
          authMethod: input.authMethod,
          credentialId: input.credentialId ?? null,
          secretEnc: input.secret ? seal(input.secret, profileCtx(userId, id)) : null,
          deviceType: input.deviceType || null,
          model: input.model || null,
          tags: input.tags,
          notes: input.notes || null,
          extra: input.extra,
          importKey: importKey(input.name, input.host, input.port, folderName),
        });
        return toApiProfile(row);
      } catch (err) {
        profileConflict(err);
      }
    },

    async updateProfile(userId: string, id: string, input: UpdateProfileInput): Promise<Profile> {
      const before = await requireProfile(userId, id);
      const folderId = input.folderId !== undefined ? input.folderId : before.folderId;
      const folderName = await folderNameOf(userId, folderId);
      if (input.credentialId) await requireCredential(userId, input.credentialId);
      if (input.secret) checkPrivateKey(input.secret, 'secret.privateKey');
      const name = input.name ?? before.name;
      const host = input.host ?? before.host;
      const port = input.port ?? before.port;
      const orNull = <T>(v: T | null | undefined, fallback: T | null): T | null =>
        v === undefined ? fallback : v || null;
      try {
        const row = await profiles.update(userId, id, {
          folderId,
          name,
          host,
          port,
          username: orNull(input.username, before.username),
          authMethod: input.authMethod ?? before.authMethod,
          credentialId: input.credentialId !== undefined ? input.credentialId : before.credentialId,
          secretEnc:
            input.secret === undefined
              ? before.secretEnc
              : input.secret === null
                ? null
                : seal(input.secret, profileCtx(userId, id)),
          deviceType: orNull(input.deviceType, before.deviceType),
          model: orNull(input.model, before.model),
          tags: input.tags ?? before.tags,
          notes: orNull(input.notes, before.notes),
          extra: input.extra ?? before.extra,
          importKey: importKey(name, host, port, folderName),
        });
        if (!row) throw new NotFoundError('Saved connection');
        return toApiProfile(row);
      } catch (err) {
        profileConflict(err);
      }
    },

    async moveProfile(userId: string, id: string, folderId: string | null): Promise<Profile> {
      const before = await requireProfile(userId, id);
      const folderName = await folderNameOf(userId, folderId);
      try {
        const row = await profiles.update(userId, id, {
          folderId,
          importKey: importKey(before.name, before.host, before.port, folderName),
        });
        if (!row) throw new NotFoundError('Saved connection');
        return toApiProfile(row);
      } catch (err) {
        profileConflict(err);
      }
    },

    async deleteProfile(userId: string, id: string): Promise<void> {
      const row = UUID.test(id) ? await profiles.delete(userId, id) : undefined;
      if (!row) throw new NotFoundError('Saved connection');
    },

    // ── credential sets ──
    async listCredentials(userId: string): Promise<Credential[]> {
      return (await credentials.list(userId)).map(toApiCredential);
    },

    async createCredential(userId: string, input: CreateCredentialInput): Promise<Credential> {
      const { name, username, ...secret } = input;
      checkPrivateKey(secret, 'privateKey');
      const id = randomUUID();
      try {
        const row = await credentials.insert({
          id,
          userId,
          name,
          kind: secret.kind,
          username: username || null,
          secretEnc: seal(secret, credentialCtx(userId, id)),
          hasPassphrase: secret.kind === 'privateKey' && Boolean(secret.passphrase),
        });
        return toApiCredential({ ...row, usedBy: 0 });
      } catch (err) {
        if (uniqueViolation(err)) {
          throw conflict(`A credential set named "${name}" already exists`, { name: 'is taken' });
        }
        throw err;
      }
    },

    /** Returns the updated set and which parts changed (for the audit record, never values). */
    async updateCredential(
      userId: string,
      id: string,
      input: UpdateCredentialInput,
    ): Promise<{ credential: Credential; changed: string[] }> {
      const before = await requireCredential(userId, id);
      if (input.secret) checkPrivateKey(input.secret, 'secret.privateKey');
      const patch: Partial<
        Pick<CredentialRow, 'name' | 'username' | 'kind' | 'secretEnc' | 'hasPassphrase'>
      > = {};
      const changed: string[] = [];
      if (input.name !== undefined && input.name !== before.name) {
        patch.name = input.name;
        changed.push('name');
      }
      if (input.username !== undefined && (input.username || null) !== before.username) {
        patch.username = input.username || null;
        changed.push('username');
      }
      if (input.secret) {
        patch.kind = input.secret.kind;
        patch.secretEnc = seal(input.secret, credentialCtx(userId, id));
        patch.hasPassphrase = input.secret.kind === 'privateKey' && Boolean(input.secret.passphrase);
        changed.push('secret');
      }
      try {
        const row = await credentials.update(userId, id, patch);
        if (!row) throw new NotFoundError('Credential set');
        return { credential: toApiCredential({ ...row, usedBy: before.usedBy }), changed };
      } catch (err) {
        if (uniqueViolation(err)) {
          throw conflict(`A credential set named "${input.name}" already exists`, { name: 'is taken' });
        }
        throw err;
      }
    },

    /** Refused while profiles use the set; the error lists them. */
    async deleteCredential(userId: string, id: string): Promise<CredentialRow> {
      const before = await requireCredential(userId, id);
      const inUse = async () => {
        const names = await credentials.usersOf(userId, id);
        return conflict(
          `Credential set "${before.name}" is used by ${names.length} saved connection${names.length === 1 ? '' : 's'}: ` +
            `${listNames(names)}. Change or delete ${names.length === 1 ? 'it' : 'them'} first.`,
        );
      };
      if (before.usedBy > 0) throw await inUse();
      try {
        const row = await credentials.delete(userId, id);
        if (!row) throw new NotFoundError('Credential set');
        return row;
      } catch (err) {
        // A profile linked it between the check and the delete: the foreign key refused.
        if (
          (err as { code?: string }).code === '23503' ||
          (err as { cause?: { code?: string } }).cause?.code === '23503'
        ) {
          throw await inUse();
        }
        throw err;
      }
    },

    // ── connect ──
    /**
     * The target and decrypted credentials for opening a saved connection. Auth resolution:
     * `keyboard-interactive` asks the server; otherwise a secret stored on the profile wins over
     * its credential set's; no secret → undefined, so the terminal layer asks at connect time.
     */
    async resolveProfileForConnect(userId: string, profileId: string): Promise<ResolvedProfile> {
      const row = await requireProfile(userId, profileId);
      const credential = row.credentialId ? await credentials.findById(userId, row.credentialId) : undefined;
      const username = row.username || credential?.username;
      if (!username) {
        throw new ValidationError(
          { username: 'is required to connect' },
          `Saved connection "${row.name}" has no username; edit it or link a credential set that has one`,
        );
      }
      let auth: SshAuth | undefined;
      if (row.authMethod === 'keyboard-interactive') {
        auth = { method: 'keyboard-interactive' };
      } else {
        const secret = row.secretEnc
          ? open(row.secretEnc, profileCtx(userId, row.id))
          : credential
            ? open(credential.secretEnc, credentialCtx(userId, credential.id))
            : undefined;
        if (secret?.kind === 'password') auth = { method: 'password', password: secret.password };
        else if (secret?.kind === 'privateKey') {
          auth = {
            method: 'publickey',
            privateKey: secret.privateKey,
            ...(secret.passphrase ? { passphrase: secret.passphrase } : {}),
          };
        }
      }
      return {
        target: { host: row.host, port: row.port, username },
        ...(auth ? { auth } : {}),
        profile: toApiProfile(row),
      };
    },

    // ── VelociTerm YAML ──
    /** Parses, plans and (unless dry-run) applies an import in one transaction: all or nothing. */
    async importVelociTerm(
      userId: string,
      input: { yaml: string; mode: ImportMode; dryRun: boolean },
    ): Promise<ImportResponse> {
      const file = await parseImportFile(input.yaml);
      const run = async (tx: DbOrTx) => {
        const [folderRows, credentialRows, profileRows] = await Promise.all([
          createFoldersRepo(tx).list(userId),
          createCredentialsRepo(tx).list(userId),
          createProfilesRepo(tx).listAll(userId),
        ]);
        return planImport(
          { userId, folders: folderRows, credentials: credentialRows, profiles: profileRows },
          file,
          input.mode,
          { now: new Date(), newId: randomUUID },
        );
      };
      if (input.dryRun) {
        const plan = await run(db);
        return { mode: input.mode, dryRun: true, preview: plan.preview };
      }
      const plan = await db.transaction(async (tx) => {
        // One import per user at a time: the plan is computed from a snapshot and must not race.
        await createUsersRepo(tx).lockById(userId);
        const planned = await run(tx);
        const txFolders = createFoldersRepo(tx);
        const txProfiles = createProfilesRepo(tx);
        if (planned.foldersToCreate.length) {
          await txFolders.createMany(userId, planned.foldersToCreate);
        }
        await txProfiles.deleteMany(userId, planned.deleteIds);
        await txProfiles.upsertMany(planned.upserts);
        await txFolders.deleteEmpty(userId, planned.folderIdsToDelete);
        return planned;
      });
      return { mode: input.mode, dryRun: false, preview: plan.preview };
    },

    /** The user's folders and profiles in the VelociTerm layout; secrets never leave. */
    async exportVelociTerm(userId: string): Promise<string> {
      const [folderRows, credentialRows, profileRows] = await Promise.all([
        folders.list(userId),
        credentials.list(userId),
        profiles.listAll(userId),
      ]);
      const credentialNames = new Map(credentialRows.map((c) => [c.id, c.name]));
      const byFolder = new Map<string | null, ExportFolder>(
        folderRows.map((f) => [f.id, { name: f.name, sessions: [] }]),
      );
      for (const p of profileRows) {
        let folder = byFolder.get(p.folderId);
        if (!folder) {
          folder = { name: '', sessions: [] };
          byFolder.set(p.folderId, folder);
        }
        folder.sessions.push({
          name: p.name,
          host: p.host,
          port: p.port,
          deviceType: p.deviceType,
          model: p.model,
          username: p.username,
          authMethod: p.authMethod,
          credential: p.credentialId ? (credentialNames.get(p.credentialId) ?? null) : null,
          tags: p.tags,
          notes: p.notes,
          extra: p.extra,
        });
      }
      return serializeVelociTerm([...byFolder.values()]);
    },

    /**
     * Start-up proof that the key opens what is stored: one sealed credential and one sealed
     * profile secret are decrypted. A changed ENCRYPTION_KEY fails here, not at connect time.
     */
    async verifyKey(): Promise<void> {
      const [c, p] = await Promise.all([credentials.sample(), profiles.sample()]);
      try {
        if (c) open(c.secretEnc, credentialCtx(c.userId, c.id));
        if (p) open(p.secretEnc, profileCtx(p.userId, p.id));
      } catch (err) {
        if (err instanceof SecretDecryptionError) throw new EncryptionKeyMismatchError();
        throw err;
      }
    },
  };
}

export type ProfilesService = ReturnType<typeof createProfilesService>;
