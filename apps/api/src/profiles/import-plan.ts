import type { ImportEntry, ImportMode, ImportPreview } from '@tether/protocol';
import type { ConnectionProfileRow, FolderRow, NewConnectionProfileRow } from '../db/schema/index.js';
import { importKey } from './import-key.js';
import { type ImportedFolder, ImportFileError, stableCompare } from './velociterm-yaml.js';

export interface ImportState {
  userId: string;
  folders: Pick<FolderRow, 'id' | 'name'>[];
  credentials: { id: string; name: string }[];
  profiles: ConnectionProfileRow[];
}

export interface ImportPlan {
  foldersToCreate: { id: string; name: string }[];
  /** Added and changed rows, for one chunked upsert on (user_id, import_key). */
  upserts: NewConnectionProfileRow[];
  /** replace mode: profiles the file does not list. */
  deleteIds: string[];
  /** replace mode: folders the file does not list (deleted once empty). */
  folderIdsToDelete: string[];
  preview: ImportPreview;
}

/** Key-order-independent JSON, so jsonb's reordering of keys is not mistaken for a change. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

const COMPARED = ['username', 'authMethod', 'credentialId', 'deviceType', 'model', 'notes'] as const;

function changed(before: ConnectionProfileRow, after: NewConnectionProfileRow): boolean {
  for (const key of COMPARED) if ((before[key] ?? null) !== (after[key] ?? null)) return true;
  return (
    canonical(before.tags) !== canonical(after.tags ?? []) ||
    canonical(before.extra) !== canonical(after.extra ?? {})
  );
}

/**
 * Works out what an import does, without touching the database: which folders to create, which
 * rows to upsert, which to delete (replace mode), and the preview shown for a dry run. The same
 * plan is then executed in one transaction, so a dry run and the real import agree.
 *
 * Field rules: VelociTerm's own keys (DeviceType, Model, unknown keys) are authoritative from the
 * file. Tether's extra keys (username, auth_method, credential, tags, notes) only change a stored
 * value when present, so importing a plain VelociTerm file never wipes what was set in Tether.
 * Stored secrets are never touched by an import.
 */
export function planImport(
  state: ImportState,
  file: ImportedFolder[],
  mode: ImportMode,
  options: { now: Date; newId: () => string },
): ImportPlan {
  const foldersByName = new Map(state.folders.map((f) => [f.name.toLowerCase(), f]));
  const credentialsByName = new Map(state.credentials.map((c) => [c.name.toLowerCase(), c.id]));
  const byKey = new Map(state.profiles.map((p) => [p.importKey, p]));

  const plan: ImportPlan = {
    foldersToCreate: [],
    upserts: [],
    deleteIds: [],
    folderIdsToDelete: [],
    preview: { added: [], updated: [], unchanged: [], removed: [], folders: { added: [], removed: [] } },
  };
  const keysInFile = new Map<string, number>();
  const folderIdsInFile = new Set<string>();

  for (const folder of file) {
    let folderId: string | null = null;
    let folderName = '';
    if (folder.name) {
      let existing = foldersByName.get(folder.name.toLowerCase());
      if (!existing) {
        existing = { id: options.newId(), name: folder.name };
        foldersByName.set(folder.name.toLowerCase(), existing);
        plan.foldersToCreate.push(existing);
        plan.preview.folders.added.push(folder.name);
      }
      folderId = existing.id;
      // The stored spelling: "core" in the file is the existing folder "Core", and keys use it.
      folderName = existing.name;
      folderIdsInFile.add(existing.id);
    }
    for (const s of folder.sessions) {
      const key = importKey(s.name, s.host, s.port, folderName);
      const clash = keysInFile.get(key);
      if (clash !== undefined) {
        // Only reachable through colons in names and IPv6 hosts ("a:b" + "c" vs "a" + "b:c"):
        // VelociTerm's key is ambiguous there, and one statement cannot upsert a key twice.
        throw new ImportFileError([
          {
            path: 'yaml',
            message: `line ${s.line}: session "${s.name}" has the same id "${key}" as the session at line ${clash}`,
          },
        ]);
      }
      keysInFile.set(key, s.line);
      const before = byKey.get(key);
      const entry: ImportEntry = { folder: folderName || null, name: s.name };

      const extra = { ...s.extra };
      let credentialId = before?.credentialId ?? null;
      if (s.credential !== undefined) {
        credentialId = s.credential ? (credentialsByName.get(s.credential.toLowerCase()) ?? null) : null;
        // A set this user does not have (yet): keep the name so the link survives export and a
        // later re-import, once a set of that name exists, connects it.
        if (s.credential && !credentialId) extra.credential = s.credential;
      }
      const row: NewConnectionProfileRow = {
        id: before?.id ?? options.newId(),
        userId: state.userId,
        folderId,
        name: s.name,
        host: s.host,
        port: s.port,
        username: s.username !== undefined ? s.username : (before?.username ?? null),
        authMethod: s.authMethod ?? before?.authMethod ?? 'none',
        credentialId,
        deviceType: s.deviceType,
        model: s.model,
        tags: s.tags ?? before?.tags ?? [],
        notes: s.notes !== undefined ? s.notes : (before?.notes ?? null),
        extra,
        importKey: key,
        createdAt: before?.createdAt ?? options.now,
        updatedAt: options.now,
      };
      if (!before) {
        plan.upserts.push(row);
        plan.preview.added.push(entry);
      } else if (changed(before, row)) {
        plan.upserts.push(row);
        plan.preview.updated.push(entry);
      } else {
        plan.preview.unchanged.push(entry);
      }
    }
  }

  if (mode === 'replace') {
    const folderNames = new Map(state.folders.map((f) => [f.id, f.name]));
    const removed = state.profiles.filter((p) => !keysInFile.has(p.importKey));
    removed.sort(
      (a, b) =>
        stableCompare(folderNames.get(a.folderId ?? '') ?? '', folderNames.get(b.folderId ?? '') ?? '') ||
        stableCompare(a.name, b.name),
    );
    for (const p of removed) {
      plan.deleteIds.push(p.id);
      plan.preview.removed.push({
        folder: p.folderId ? (folderNames.get(p.folderId) ?? null) : null,
        name: p.name,
      });
    }
    for (const f of [...state.folders].sort((a, b) => stableCompare(a.name, b.name))) {
      if (folderIdsInFile.has(f.id)) continue;
      plan.folderIdsToDelete.push(f.id);
      plan.preview.folders.removed.push(f.name);
    }
  }
  return plan;
}
