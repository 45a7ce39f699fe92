import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import {
  NETBOX_IMPORT_MAX_DEVICES,
  NETBOX_PAGE_MAX,
  type NetboxDevice,
  type NetboxDeviceFilter,
  type NetboxDevicePage,
  NetboxErrorCode,
  type NetboxImportResult,
  type NetboxSettings,
  type NetboxStatus,
  type NetboxTestResult,
} from '@tether/protocol';
import { createTargetPolicy, type TargetPolicy } from '@tether/terminal-engine';
import { createUsersRepo } from '../auth/users-repo.js';
import type { SecretBox, SecretContext } from '../crypto/secret-box.js';
import type { Db } from '../db/index.js';
import { NotFoundError } from '../errors.js';
import { createFoldersRepo } from '../profiles/folders-repo.js';
import { createProfilesRepo } from '../profiles/profiles-repo.js';
import {
  agentFor,
  checkNetboxUrl,
  createNetboxClient,
  DEFAULT_RETRY,
  type NetboxClient,
  NetboxError,
  type NetboxTarget,
  type RetryPolicy,
} from './netbox-client.js';
import { filterParams, mapDevice } from './netbox-devices.js';
import { planNetboxImport } from './netbox-import-plan.js';
import { createNetboxTokensRepo, createSettingsRepo } from './netbox-repo.js';

const TOKEN_FIELD = 'netbox_tokens.token_enc';
const SETTINGS_KEY = 'netbox';
const DEVICES = '/api/dcim/devices/';
/** Ids per request when importing a selection (keeps the URL well under 8 KB). */
const IDS_PER_REQUEST = 200;
/** config_context is rendered per device and is by far the slowest part of a device list. */
const EXCLUDE = { exclude: 'config_context' };

export interface NetboxProgress {
  phase: 'fetch' | 'save';
  fetched: number;
  total: number;
}

export interface NetboxEnvDefaults {
  url?: string;
  tlsVerify: boolean;
  ca?: string;
}

interface StoredSettings {
  url: string | null;
  tlsVerify: boolean | null;
}

export function createNetboxService(deps: {
  db: Db;
  box: SecretBox;
  env: NetboxEnvDefaults;
  retry?: RetryPolicy;
  /** Where NetBox may be: never link-local, metadata or denied ranges (internal is fine). */
  policy?: TargetPolicy;
  onRetry?: (info: { path: string; status: number | string; attempt: number; delayMs: number }) => void;
}) {
  const { db, box, env } = deps;
  const policy = deps.policy ?? createTargetPolicy({ internal: 'allow' });
  const tokens = createNetboxTokensRepo(db);
  const settingsRepo = createSettingsRepo(db);
  const tokenCtx = (userId: string): SecretContext => ({ userId, rowId: userId, field: TOKEN_FIELD });
  let agent: { key: string; agent: http.Agent } | undefined;

  async function stored(): Promise<StoredSettings> {
    const v = (await settingsRepo.get(SETTINGS_KEY)) ?? {};
    return {
      url: typeof v.url === 'string' ? v.url : null,
      tlsVerify: typeof v.tlsVerify === 'boolean' ? v.tlsVerify : null,
    };
  }

  /** The admin's setting wins over the environment; read per call so every node agrees. */
  async function target(): Promise<NetboxTarget | undefined> {
    const s = await stored();
    const url = (s.url ?? env.url)?.replace(/\/+$/, '');
    if (!url) return undefined;
    return { url, tlsVerify: s.tlsVerify ?? env.tlsVerify, ...(env.ca ? { ca: env.ca } : {}) };
  }

  function agentOf(t: NetboxTarget): http.Agent {
    const key = `${t.url}\0${t.tlsVerify}`;
    if (agent?.key !== key) {
      agent?.agent.destroy();
      agent = { key, agent: agentFor(t, policy) };
    }
    return agent.agent;
  }

  async function tokenOf(userId: string): Promise<string | undefined> {
    const row = await tokens.find(userId);
    return row ? box.open(row.tokenEnc, tokenCtx(userId)) : undefined;
  }

  /** A client for this user, or the reason there cannot be one. */
  async function clientFor(
    userId: string,
    signal?: AbortSignal,
  ): Promise<{ client: NetboxClient; token: string }> {
    const t = await target();
    if (!t) {
      throw new NetboxError(
        NetboxErrorCode.NOT_CONFIGURED,
        'NetBox is not configured: an admin sets its URL (NETBOX_URL or the NetBox settings)',
        409,
      );
    }
    await checkNetboxUrl(t.url, policy);
    const token = await tokenOf(userId);
    if (!token) {
      throw new NetboxError(NetboxErrorCode.NO_TOKEN, 'Save your NetBox API token first', 409);
    }
    const client = createNetboxClient({
      target: t,
      token,
      agent: agentOf(t),
      retry: deps.retry ?? DEFAULT_RETRY,
      ...(signal ? { signal } : {}),
      ...(deps.onRetry ? { onRetry: deps.onRetry } : {}),
    });
    return { client, token };
  }

  function mapAll(results: unknown[]): NetboxDevice[] {
    return results.map(mapDevice).filter((d): d is NetboxDevice => d !== null);
  }

  /** The token's user: `/api/authentication-check/` (NetBox ≥ 4.5), else the token list. */
  async function tokenUser(client: NetboxClient, token: string): Promise<string | null> {
    try {
      const me = (await client.get('/api/authentication-check/')) as { username?: unknown; user?: unknown };
      if (typeof me?.username === 'string') return me.username;
    } catch (err) {
      if (!(err instanceof NetboxError) || err.code === NetboxErrorCode.UNREACHABLE) return null;
    }
    try {
      const page = await client.page('/api/users/tokens/', { limit: 100 });
      const userOf = (t: unknown) => {
        const u = (t as { user?: { username?: unknown } })?.user?.username;
        return typeof u === 'string' ? u : null;
      };
      const exact = page.results.find((t) => (t as { key?: unknown }).key === token);
      if (exact) return userOf(exact);
      // A user who is not a superuser only sees their own tokens.
      const users = new Set(page.results.map(userOf));
      return users.size === 1 ? [...users][0]! : null;
    } catch {
      return null;
    }
  }

  return {
    /** Throws NOT_CONFIGURED / NO_TOKEN (409) before a long-running request starts. */
    async ensureReady(userId: string): Promise<void> {
      await clientFor(userId);
    },

    async status(userId: string): Promise<NetboxStatus> {
      const [t, row] = await Promise.all([target(), tokens.find(userId)]);
      return {
        configured: Boolean(t),
        url: t?.url ?? null,
        tokenStored: Boolean(row),
        tokenUpdatedAt: row?.updatedAt.toISOString() ?? null,
      };
    },

    async saveToken(userId: string, token: string): Promise<{ replaced: boolean }> {
      const replaced = Boolean(await tokens.find(userId));
      await tokens.upsert(userId, box.seal(token, tokenCtx(userId)));
      return { replaced };
    },

    async deleteToken(userId: string): Promise<void> {
      if (!(await tokens.delete(userId))) throw new NotFoundError('NetBox token');
    },

    /** Version, the token's user and the device count, or the reason it does not work. */
    async test(userId: string): Promise<NetboxTestResult> {
      try {
        const { client, token } = await clientFor(userId);
        const status = (await client.get('/api/status/')) as Record<string, unknown> | null;
        const version = status?.['netbox-version'];
        if (typeof version !== 'string') {
          throw new NetboxError(NetboxErrorCode.NOT_NETBOX, '/api/status/ did not report a NetBox version');
        }
        const devices = await client.page(DEVICES, { limit: 1, brief: 'true' });
        return { ok: true, version, user: await tokenUser(client, token), deviceCount: devices.count };
      } catch (err) {
        if (err instanceof NetboxError) return { ok: false, error: { code: err.code, message: err.message } };
        throw err;
      }
    },

    /** One page of devices, straight from NetBox and mapped. */
    async searchDevices(
      userId: string,
      query: NetboxDeviceFilter & { offset: number; limit: number },
    ): Promise<NetboxDevicePage> {
      const { client } = await clientFor(userId);
      const page = await client.page(DEVICES, {
        ...filterParams(query),
        offset: query.offset,
        limit: query.limit,
        ordering: 'name',
        ...EXCLUDE,
      });
      return { count: page.count, offset: query.offset, limit: query.limit, devices: mapAll(page.results) };
    },

    async listSites(userId: string): Promise<{ slug: string; name: string }[]> {
      const { client } = await clientFor(userId);
      const all = await client.getAll(
        '/api/dcim/sites/',
        { limit: NETBOX_PAGE_MAX, brief: 'true' },
        { max: 10_000 },
      );
      return all.results
        .map((s) => s as { slug?: unknown; name?: unknown })
        .filter(
          (s): s is { slug: string; name: string } =>
            typeof s.slug === 'string' && typeof s.name === 'string',
        )
        .map(({ slug, name }) => ({ slug, name }))
        .sort((a, b) => a.name.localeCompare(b.name));
    },

    /**
     * Fetches every device first (nothing is written while NetBox is paged through), then plans
     * and applies the import in one transaction: a failure anywhere leaves nothing half-imported.
     */
    async importDevices(
      userId: string,
      input: {
        deviceIds?: number[];
        filter?: NetboxDeviceFilter;
        folderMode: 'site' | 'folder';
        folderId?: string | null;
      },
      onProgress: (p: NetboxProgress) => void,
      signal?: AbortSignal,
    ): Promise<NetboxImportResult> {
      const started = performance.now();
      if (input.folderMode === 'folder' && input.folderId) {
        if (!(await createFoldersRepo(db).findById(userId, input.folderId)))
          throw new NotFoundError('Folder');
      }
      const { client } = await clientFor(userId, signal);
      const raw: unknown[] = [];
      const missing: number[] = [];
      if (input.deviceIds) {
        const ids = [...new Set(input.deviceIds)];
        for (let i = 0; i < ids.length; i += IDS_PER_REQUEST) {
          const chunk = ids.slice(i, i + IDS_PER_REQUEST);
          const got = await client.getAll(
            DEVICES,
            { id: chunk, limit: NETBOX_PAGE_MAX, ...EXCLUDE },
            { max: NETBOX_IMPORT_MAX_DEVICES },
          );
          raw.push(...got.results);
          onProgress({ phase: 'fetch', fetched: Math.min(ids.length, i + chunk.length), total: ids.length });
        }
        const found = new Set(raw.map((d) => (d as { id?: unknown }).id));
        missing.push(...ids.filter((id) => !found.has(id)));
      } else {
        const got = await client.getAll(
          DEVICES,
          { ...filterParams(input.filter ?? {}), limit: NETBOX_PAGE_MAX, ordering: 'id', ...EXCLUDE },
          {
            max: NETBOX_IMPORT_MAX_DEVICES,
            onPage: (fetched, total) => onProgress({ phase: 'fetch', fetched, total }),
          },
        );
        raw.push(...got.results);
      }
      const devices = mapAll(raw);
      onProgress({ phase: 'save', fetched: devices.length, total: devices.length });
      signal?.throwIfAborted();

      const plan = await db.transaction(async (tx) => {
        // One import per user at a time: the plan is computed from a snapshot and must not race.
        await createUsersRepo(tx).lockById(userId);
        const txFolders = createFoldersRepo(tx);
        const txProfiles = createProfilesRepo(tx);
        const [folderRows, profileRows] = await Promise.all([
          txFolders.list(userId),
          txProfiles.listAll(userId),
        ]);
        let folder: { id: string; name: string } | null = null;
        if (input.folderMode === 'folder' && input.folderId) {
          const f = folderRows.find((r) => r.id === input.folderId);
          if (!f) throw new NotFoundError('Folder');
          folder = { id: f.id, name: f.name };
        }
        const planned = planNetboxImport(
          { userId, folders: folderRows, profiles: profileRows },
          devices,
          input.folderMode === 'site' ? { mode: 'site' } : { mode: 'folder', folder },
          { now: new Date(), newId: randomUUID },
        );
        if (planned.foldersToCreate.length) await txFolders.createMany(userId, planned.foldersToCreate);
        await txProfiles.upsertMany(planned.upserts, 'id');
        return planned;
      });
      return {
        fetched: devices.length,
        added: plan.added,
        updated: plan.updated,
        unchanged: plan.unchanged,
        skipped: [
          ...missing.map((id) => ({
            id,
            name: `#${id}`,
            reason: 'not found in NetBox (deleted, or not visible to your token)',
          })),
          ...plan.skipped,
        ],
        foldersAdded: plan.foldersToCreate.map((f) => f.name),
        ms: Math.round(performance.now() - started),
      };
    },

    // ── admin ──
    async getSettings(): Promise<NetboxSettings> {
      const [s, t] = await Promise.all([stored(), target()]);
      return {
        url: s.url,
        tlsVerify: s.tlsVerify,
        effective: { url: t?.url ?? null, tlsVerify: t?.tlsVerify ?? env.tlsVerify, caFile: Boolean(env.ca) },
      };
    },

    async updateSettings(
      input: { url?: string | null; tlsVerify?: boolean | null },
      adminId: string,
    ): Promise<NetboxSettings> {
      if (input.url) await checkNetboxUrl(input.url, policy);
      const s = await stored();
      const next: StoredSettings = {
        url: input.url === undefined ? s.url : input.url ? input.url.replace(/\/+$/, '') : null,
        tlsVerify: input.tlsVerify === undefined ? s.tlsVerify : input.tlsVerify,
      };
      await settingsRepo.set(SETTINGS_KEY, { ...next }, adminId);
      return this.getSettings();
    },

    /** Start-up proof that the key opens a stored token (see profiles' verifyKey). */
    async verifyKey(): Promise<void> {
      const row = await tokens.sample();
      if (row) box.open(row.tokenEnc, tokenCtx(row.userId));
    },

    close(): void {
      agent?.agent.destroy();
      agent = undefined;
    },
  };
}

export type NetboxService = ReturnType<typeof createNetboxService>;
