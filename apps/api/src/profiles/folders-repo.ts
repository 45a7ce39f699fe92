import { and, asc, eq, inArray, isNotNull, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/index.js';
import { connectionProfiles, type FolderRow, folders } from '../db/schema/index.js';
import { importKeySql } from './import-key.js';

export interface FolderWithCount extends FolderRow {
  profileCount: number;
}

/** Every query is scoped by user id: another user's folder simply does not exist. */
export function createFoldersRepo(db: DbOrTx) {
  return {
    async list(userId: string): Promise<FolderWithCount[]> {
      const [rows, counts] = await Promise.all([
        db
          .select()
          .from(folders)
          .where(eq(folders.userId, userId))
          .orderBy(asc(sql`lower(${folders.name})`), asc(folders.name)),
        db
          .select({ folderId: connectionProfiles.folderId, n: sql<number>`count(*)::int` })
          .from(connectionProfiles)
          .where(and(eq(connectionProfiles.userId, userId), isNotNull(connectionProfiles.folderId)))
          .groupBy(connectionProfiles.folderId),
      ]);
      const byFolder = new Map(counts.map((c) => [c.folderId, c.n]));
      return rows.map((row) => ({ ...row, profileCount: byFolder.get(row.id) ?? 0 }));
    },

    async findById(userId: string, id: string): Promise<FolderRow | undefined> {
      const [row] = await db
        .select()
        .from(folders)
        .where(and(eq(folders.userId, userId), eq(folders.id, id)))
        .limit(1);
      return row;
    },

    async create(userId: string, name: string): Promise<FolderRow> {
      const [row] = await db.insert(folders).values({ userId, name }).returning();
      return row!;
    },

    /** Creates several folders in one statement (imports plan their ids up front). */
    async createMany(userId: string, created: { id: string; name: string }[]): Promise<FolderRow[]> {
      if (!created.length) return [];
      return db
        .insert(folders)
        .values(created.map(({ id, name }) => ({ id, userId, name })))
        .returning();
    },

    /**
     * Renames a folder and re-derives the import keys of its profiles, which embed the folder
     * name, in the same statement set (the caller wraps both in a transaction).
     */
    async rename(userId: string, id: string, name: string): Promise<FolderRow | undefined> {
      const [row] = await db
        .update(folders)
        .set({ name, updatedAt: new Date() })
        .where(and(eq(folders.userId, userId), eq(folders.id, id)))
        .returning();
      if (row) {
        await db
          .update(connectionProfiles)
          .set({ importKey: importKeySql(name) })
          .where(and(eq(connectionProfiles.userId, userId), eq(connectionProfiles.folderId, id)));
      }
      return row;
    },

    async countProfiles(userId: string, id: string): Promise<number> {
      const [row] = await db
        .select({ n: sql<number>`count(*)::int` })
        .from(connectionProfiles)
        .where(and(eq(connectionProfiles.userId, userId), eq(connectionProfiles.folderId, id)));
      return row?.n ?? 0;
    },

    async delete(userId: string, id: string): Promise<FolderRow | undefined> {
      const [row] = await db
        .delete(folders)
        .where(and(eq(folders.userId, userId), eq(folders.id, id)))
        .returning();
      return row;
    },

    /** Deletes the given folders that hold no profiles; returns the deleted rows. */
    deleteEmpty(userId: string, ids: string[]): Promise<FolderRow[]> {
      if (!ids.length) return Promise.resolve([]);
      return db
        .delete(folders)
        .where(
          and(
            eq(folders.userId, userId),
            inArray(folders.id, ids),
            // Spelled out with table names: Drizzle renders columns unqualified in a one-table
            // statement, which inside this subquery would silently bind to connection_profiles.
            sql`not exists (select 1 from "connection_profiles" cp
              where cp."user_id" = "folders"."user_id" and cp."folder_id" = "folders"."id")`,
          ),
        )
        .returning();
    },
  };
}

export type FoldersRepo = ReturnType<typeof createFoldersRepo>;
