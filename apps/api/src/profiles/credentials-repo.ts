import { and, asc, eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/index.js';
import { type CredentialRow, connectionProfiles, credentials } from '../db/schema/index.js';

export interface CredentialWithUsage extends CredentialRow {
  usedBy: number;
}

export type NewCredential = typeof credentials.$inferInsert;

/** Credential sets, scoped by owner. Rows carry the sealed secret; never send them as they are. */
export function createCredentialsRepo(db: DbOrTx) {
  // Table names spelled out: Drizzle renders columns unqualified in a one-table select, which
  // inside this correlated subquery would bind to connection_profiles and count nothing.
  const usedBy = sql<number>`(select count(*)::int from "connection_profiles" cp
    where cp."user_id" = "credentials"."user_id" and cp."credential_id" = "credentials"."id")`;

  return {
    async list(userId: string): Promise<CredentialWithUsage[]> {
      const rows = await db
        .select({ row: credentials, usedBy })
        .from(credentials)
        .where(eq(credentials.userId, userId))
        .orderBy(asc(sql`lower(${credentials.name})`), asc(credentials.name));
      return rows.map((r) => ({ ...r.row, usedBy: r.usedBy }));
    },

    async findById(userId: string, id: string): Promise<CredentialWithUsage | undefined> {
      const [r] = await db
        .select({ row: credentials, usedBy })
        .from(credentials)
        .where(and(eq(credentials.userId, userId), eq(credentials.id, id)))
        .limit(1);
      return r && { ...r.row, usedBy: r.usedBy };
    },

    async insert(row: NewCredential): Promise<CredentialRow> {
      const [created] = await db.insert(credentials).values(row).returning();
      return created!;
    },

    async update(
      userId: string,
      id: string,
      patch: Partial<Pick<CredentialRow, 'name' | 'username' | 'kind' | 'secretEnc' | 'hasPassphrase'>>,
    ): Promise<CredentialRow | undefined> {
      const [row] = await db
        .update(credentials)
        .set({ ...patch, updatedAt: new Date() })
        .where(and(eq(credentials.userId, userId), eq(credentials.id, id)))
        .returning();
      return row;
    },

    async delete(userId: string, id: string): Promise<CredentialRow | undefined> {
      const [row] = await db
        .delete(credentials)
        .where(and(eq(credentials.userId, userId), eq(credentials.id, id)))
        .returning();
      return row;
    },

    /** Names of the profiles using a set, for "still in use by …" errors. */
    async usersOf(userId: string, id: string): Promise<string[]> {
      const rows = await db
        .select({ name: connectionProfiles.name })
        .from(connectionProfiles)
        .where(and(eq(connectionProfiles.userId, userId), eq(connectionProfiles.credentialId, id)))
        .orderBy(asc(sql`lower(${connectionProfiles.name})`), asc(connectionProfiles.name));
      return rows.map((r) => r.name);
    },

    /** One sealed value, to prove at start-up that the key opens what is stored. */
    async sample(): Promise<Pick<CredentialRow, 'id' | 'userId' | 'secretEnc'> | undefined> {
      const [row] = await db
        .select({ id: credentials.id, userId: credentials.userId, secretEnc: credentials.secretEnc })
        .from(credentials)
        .limit(1);
      return row;
    },
  };
}

export type CredentialsRepo = ReturnType<typeof createCredentialsRepo>;
