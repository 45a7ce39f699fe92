import type { NetboxDevice, NetboxSkipped } from '@tether/protocol';
import type { ConnectionProfileRow, FolderRow, NewConnectionProfileRow } from '../db/schema/index.js';
import { importKey } from '../profiles/import-key.js';

/** What a saved connection remembers of its NetBox device, in `extra.netbox`. */
export interface NetboxLink {
  id: number;
  site: string | null;
  role: string | null;
  serial: string | null;
  status: string | null;
  /** The tags NetBox gave it, so a re-import replaces those and keeps the user's own. */
  tags: string[];
}

export function netboxLinkOf(extra: Record<string, unknown> | null | undefined): NetboxLink | undefined {
  const link = extra?.netbox as Partial<NetboxLink> | undefined;
  return link && typeof link === 'object' && typeof link.id === 'number' ? (link as NetboxLink) : undefined;
}

export interface NetboxImportState {
  userId: string;
  folders: Pick<FolderRow, 'id' | 'name'>[];
  profiles: ConnectionProfileRow[];
}

export interface NetboxImportPlan {
  foldersToCreate: { id: string; name: string }[];
  /** New and changed rows, upserted by id. */
  upserts: NewConnectionProfileRow[];
  added: number;
  updated: number;
  unchanged: number;
  skipped: NetboxSkipped[];
}

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

const COMPARED = ['folderId', 'name', 'host', 'port', 'deviceType', 'model'] as const;

function changed(before: ConnectionProfileRow, after: NewConnectionProfileRow): boolean {
  for (const key of COMPARED) if ((before[key] ?? null) !== (after[key] ?? null)) return true;
  return (
    canonical(before.tags) !== canonical(after.tags) || canonical(before.extra) !== canonical(after.extra)
  );
}

/**
 * Works out what importing these devices does, without touching the database.
 *
 * Identity: a saved connection imported from NetBox carries the device id in `extra.netbox.id`;
 * a re-import finds it by that id (wherever the user moved or renamed it since) and updates it in
 * place, keeping its id, username, auth, credential, notes and secret. A device not seen before
 * adopts an existing unlinked profile with the same VelociTerm identity (name, host, port,
 * folder), e.g. one imported from YAML; otherwise it is added. Its `import_key` stays the
 * VelociTerm one, so exporting to YAML and importing that file again matches these rows too.
 */
export function planNetboxImport(
  state: NetboxImportState,
  devices: NetboxDevice[],
  target: { mode: 'site' } | { mode: 'folder'; folder: { id: string; name: string } | null },
  options: { now: Date; newId: () => string },
): NetboxImportPlan {
  const foldersByName = new Map(state.folders.map((f) => [f.name.toLowerCase(), f]));
  const folderNames = new Map(state.folders.map((f) => [f.id, f.name]));
  const byDevice = new Map<number, ConnectionProfileRow>();
  for (const p of state.profiles) {
    const link = netboxLinkOf(p.extra);
    if (link && !byDevice.has(link.id)) byDevice.set(link.id, p);
  }
  const byKey = new Map(state.profiles.map((p) => [p.importKey, p]));
  /** import_key → the row holding it once this plan is applied. */
  const keyOwner = new Map(state.profiles.map((p) => [p.importKey, p.id]));

  const plan: NetboxImportPlan = {
    foldersToCreate: [],
    upserts: [],
    added: 0,
    updated: 0,
    unchanged: 0,
    skipped: [],
  };
  const seen = new Set<number>();

  for (const d of devices) {
    if (seen.has(d.id)) continue;
    seen.add(d.id);
    if (!d.host || d.skipReason) {
      plan.skipped.push({ id: d.id, name: d.name, reason: d.skipReason ?? 'no usable address' });
      continue;
    }
    let folder: { id: string; name: string } | null = null;
    if (target.mode === 'folder') folder = target.folder;
    else if (d.site) {
      const siteName = d.site.name.trim().slice(0, 200) || d.site.slug;
      let existing = foldersByName.get(siteName.toLowerCase());
      if (!existing) {
        existing = { id: options.newId(), name: siteName };
        foldersByName.set(siteName.toLowerCase(), existing);
        folderNames.set(existing.id, siteName);
        plan.foldersToCreate.push(existing);
      }
      folder = existing;
    }
    const key = importKey(d.name, d.host, d.port, folder?.name ?? null);
    let before = byDevice.get(d.id);
    if (!before) {
      const sameKey = byKey.get(key);
      const sameKeyLink = sameKey ? netboxLinkOf(sameKey.extra) : undefined;
      if (sameKey && !sameKeyLink) before = sameKey;
    }
    const id = before?.id ?? options.newId();
    const owner = keyOwner.get(key);
    if (owner !== undefined && owner !== id) {
      const where = folder ? `folder "${folder.name}"` : 'the top level';
      plan.skipped.push({
        id: d.id,
        name: d.name,
        reason: `another saved connection in ${where} already has the name "${d.name}", host ${d.host} and port ${d.port}`,
      });
      continue;
    }
    keyOwner.set(key, id);

    const previous = before ? netboxLinkOf(before.extra) : undefined;
    const netboxTags = new Set(previous?.tags.map((t) => t.toLowerCase()) ?? []);
    const ownTags = (before?.tags ?? []).filter((t) => !netboxTags.has(t.toLowerCase()));
    const tagSet = new Set<string>();
    const tags = [...d.tags, ...ownTags].filter((t) => {
      const k = t.toLowerCase();
      return !tagSet.has(k) && tagSet.add(k);
    });
    const link: NetboxLink = {
      id: d.id,
      site: d.site?.name ?? null,
      role: d.role?.name ?? null,
      serial: d.serial,
      status: d.status,
      tags: d.tags,
    };
    const row: NewConnectionProfileRow = {
      id,
      userId: state.userId,
      folderId: folder?.id ?? null,
      name: d.name,
      host: d.host,
      port: d.port,
      username: before?.username ?? null,
      authMethod: before?.authMethod ?? 'none',
      credentialId: before?.credentialId ?? null,
      deviceType: d.platform?.slug ?? null,
      model: d.model,
      tags: tags.slice(0, 50),
      notes: before?.notes ?? null,
      extra: { ...(before?.extra ?? {}), netbox: link },
      importKey: key,
      createdAt: before?.createdAt ?? options.now,
      updatedAt: options.now,
    };
    if (!before) {
      plan.upserts.push(row);
      plan.added++;
    } else if (changed(before, row)) {
      plan.upserts.push(row);
      plan.updated++;
    } else {
      plan.unchanged++;
    }
  }
  return plan;
}
