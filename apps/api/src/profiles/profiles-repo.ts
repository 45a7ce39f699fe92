import { and, asc, eq, ilike, inArray, isNotNull, isNull, or, type SQL, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/index.js';
import {
  type ConnectionProfileRow,
  connectionProfiles,
  type NewConnectionProfileRow,
} from '../db/schema/index.js';
import { importKeySql } from './import-key.js';

export interface ProfileFilter {
  q?: string;
  /** A folder id, or null for profiles in no folder. */
  folderId?: string | null;
  tag?: string;
  deviceType?: string;
}

/**
 * Columns an import writes, in the JSON record the upsert reads (snake_case, as in the table).
 * `secret_enc` is deliberately absent: an import never touches a stored secret.
 */
const IMPORT_COLUMNS = [
  ['id', 'uuid'],
  ['user_id', 'uuid'],
  ['folder_id', 'uuid'],
  ['name', 'text'],
  ['host', 'text'],
  ['port', 'integer'],
  ['username', 'text'],
  ['auth_method', 'text'],
  ['credential_id', 'uuid'],
  ['device_type', 'text'],
  ['model', 'text'],
  ['tags', 'text[]'],
  ['notes', 'text'],
  ['extra', 'jsonb'],
  ['import_key', 'text'],
  ['created_at', 'timestamptz'],
  ['updated_at', 'timestamptz'],
] as const;

/** What an import may change on an existing row: never its id, owner, identity or secret. */
const IMPORT_UPDATABLE = [
  'username',
  'auth_method',
  'credential_id',
  'device_type',
  'model',
  'tags',
  'notes',
  'extra',
  'updated_at',
];

/** What a NetBox re-import may change: the device's own facts, never the user's auth choices. */
const NETBOX_UPDATABLE = [
  'folder_id',
  'name',
  'host',
  'port',
  'device_type',
  'model',
  'tags',
  'extra',
  'import_key',
  'updated_at',
];

const UPSERT_SQL = {
  columns: sql.raw(IMPORT_COLUMNS.map(([c]) => `"${c}"`).join(', ')),
  recordType: sql.raw(IMPORT_COLUMNS.map(([c, t]) => `"${c}" ${t}`).join(', ')),
  set: sql.raw(IMPORT_UPDATABLE.map((c) => `"${c}" = excluded."${c}"`).join(', ')),
  setById: sql.raw(NETBOX_UPDATABLE.map((c) => `"${c}" = excluded."${c}"`).join(', ')),
};

// 1,000 rows ≈ 0.5 MB of JSON per statement: 2,000 profiles are two round trips, and even a
// 5 MiB file stays a few dozen statements with bounded memory.
const UPSERT_CHUNK = 1_000;
const DELETE_CHUNK = 5_000;

const p = connectionProfiles;

/** `%text%` for ILIKE with the pattern characters of the user's text taken literally. */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export function createProfilesRepo(db: DbOrTx) {
  return {
    search(userId: string, filter: ProfileFilter = {}): Promise<ConnectionProfileRow[]> {
      const conditions: (SQL | undefined)[] = [eq(p.userId, userId)];
      if (filter.folderId !== undefined) {
        conditions.push(filter.folderId === null ? isNull(p.folderId) : eq(p.folderId, filter.folderId));
      }
      if (filter.q) {
        const pattern = containsPattern(filter.q);
        conditions.push(
          or(
            ilike(p.name, pattern),
            ilike(p.host, pattern),
            ilike(p.deviceType, pattern),
            ilike(p.model, pattern),
            sql`exists (select 1 from unnest(${p.tags}) as t(tag) where t.tag ilike ${pattern})`,
          ),
        );
      }
      if (filter.tag) {
        conditions.push(
          sql`exists (select 1 from unnest(${p.tags}) as t(tag) where lower(t.tag) = lower(${filter.tag}))`,
        );
      }
      if (filter.deviceType) {
        conditions.push(sql`lower(${p.deviceType}) = lower(${filter.deviceType})`);
      }
      return db
        .select()
        .from(p)
        .where(and(...conditions))
        .orderBy(asc(sql`lower(${p.name})`), asc(p.name), asc(p.host), asc(p.port), asc(p.id));
    },

    async findById(userId: string, id: string): Promise<ConnectionProfileRow | undefined> {
      const [row] = await db
        .select()
        .from(p)
        .where(and(eq(p.userId, userId), eq(p.id, id)))
        .limit(1);
      return row;
    },

    async insert(row: NewConnectionProfileRow): Promise<ConnectionProfileRow> {
      const [created] = await db.insert(p).values(row).returning();
      return created!;
    },

    async update(
      userId: string,
      id: string,
      patch: Partial<Omit<NewConnectionProfileRow, 'id' | 'userId' | 'createdAt'>>,
    ): Promise<ConnectionProfileRow | undefined> {
      const [row] = await db
        .update(p)
        .set({ ...patch, updatedAt: new Date() })
        .where(and(eq(p.userId, userId), eq(p.id, id)))
        .returning();
      return row;
    },

    async delete(userId: string, id: string): Promise<ConnectionProfileRow | undefined> {
      const [row] = await db
        .delete(p)
        .where(and(eq(p.userId, userId), eq(p.id, id)))
        .returning();
      return row;
    },

    /** Moves every profile of one folder to another (or to no folder), re-deriving import keys. */
    async moveAll(
      userId: string,
      fromFolderId: string,
      to: { id: string | null; name: string },
    ): Promise<number> {
      const rows = await db
        .update(p)
        .set({ folderId: to.id, importKey: importKeySql(to.name), updatedAt: new Date() })
        .where(and(eq(p.userId, userId), eq(p.folderId, fromFolderId)))
        .returning({ id: p.id });
      return rows.length;
    },

    /** All of a user's profiles (import diffing and export). */
    listAll(userId: string): Promise<ConnectionProfileRow[]> {
      return db.select().from(p).where(eq(p.userId, userId));
    },

    /**
     * Chunked multi-row `INSERT … SELECT FROM jsonb_to_recordset($1) ON CONFLICT (user_id,
     * import_key) DO UPDATE`: one statement and one bind parameter per 1,000 profiles. Measured
     * here, this is 4-7× faster than Drizzle's `values([...])` with 18 parameters per row, whose
     * query building alone cost more than the database work. Existing rows keep their id and
     * stored secret.
     */
    async upsertMany(rows: NewConnectionProfileRow[], on: 'importKey' | 'id' = 'importKey'): Promise<void> {
      for (let i = 0; i < rows.length; i += UPSERT_CHUNK) {
        const records = rows.slice(i, i + UPSERT_CHUNK).map((r) => ({
          id: r.id,
          user_id: r.userId,
          folder_id: r.folderId ?? null,
          name: r.name,
          host: r.host,
          port: r.port,
          username: r.username ?? null,
          auth_method: r.authMethod ?? 'none',
          credential_id: r.credentialId ?? null,
          device_type: r.deviceType ?? null,
          model: r.model ?? null,
          tags: r.tags ?? [],
          notes: r.notes ?? null,
          extra: r.extra ?? {},
          import_key: r.importKey,
          created_at: (r.createdAt ?? new Date()).toISOString(),
          updated_at: (r.updatedAt ?? new Date()).toISOString(),
        }));
        await db.execute(sql`
          insert into ${p} (${UPSERT_SQL.columns})
          select ${UPSERT_SQL.columns}
          from jsonb_to_recordset(${JSON.stringify(records)}::jsonb) as r(${UPSERT_SQL.recordType})
          ${
            on === 'id'
              ? // NetBox imports match rows by id (planned from this user's rows); the user_id
                // condition makes touching another user's row impossible even so.
                sql`on conflict (id) do update set ${UPSERT_SQL.setById} where ${p}.user_id = excluded.user_id`
              : sql`on conflict (user_id, import_key) do update set ${UPSERT_SQL.set}`
          }`);
      }
    },

    async deleteMany(userId: string, ids: string[]): Promise<void> {
      for (let i = 0; i < ids.length; i += DELETE_CHUNK) {
        await db.delete(p).where(and(eq(p.userId, userId), inArray(p.id, ids.slice(i, i + DELETE_CHUNK))));
      }
    },

    /** One sealed profile secret, to prove at start-up that the key opens what is stored. */
    async sample(): Promise<{ id: string; userId: string; secretEnc: string } | undefined> {
      const [row] = await db
        .select({ id: p.id, userId: p.userId, secretEnc: p.secretEnc })
        .from(p)
        .where(isNotNull(p.secretEnc))
        .limit(1);
      return row?.secretEnc ? { id: row.id, userId: row.userId, secretEnc: row.secretEnc } : undefined;
    },
  };
}

export type ProfilesRepo = ReturnType<typeof createProfilesRepo>;
