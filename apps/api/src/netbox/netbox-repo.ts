import { eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/index.js';
import { type NetboxTokenRow, netboxTokens, settings } from '../db/schema/index.js';

export function createNetboxTokensRepo(db: DbOrTx) {
  return {
    async find(userId: string): Promise<NetboxTokenRow | undefined> {
      const [row] = await db.select().from(netboxTokens).where(eq(netboxTokens.userId, userId)).limit(1);
      return row;
    },

    async upsert(userId: string, tokenEnc: string): Promise<NetboxTokenRow> {
      const now = new Date();
      const [row] = await db
        .insert(netboxTokens)
        .values({ userId, tokenEnc, createdAt: now, updatedAt: now })
        .onConflictDoUpdate({ target: netboxTokens.userId, set: { tokenEnc, updatedAt: now } })
        .returning();
      return row!;
    },

    async delete(userId: string): Promise<boolean> {
      const rows = await db
        .delete(netboxTokens)
        .where(eq(netboxTokens.userId, userId))
        .returning({ userId: netboxTokens.userId });
      return rows.length > 0;
    },

    /** One sealed token, to prove at start-up that the key opens what is stored. */
    async sample(): Promise<NetboxTokenRow | undefined> {
      const [row] = await db.select().from(netboxTokens).limit(1);
      return row;
    },
  };
}

export function createSettingsRepo(db: DbOrTx) {
  return {
    async get(key: string): Promise<Record<string, unknown> | undefined> {
      const [row] = await db.select().from(settings).where(eq(settings.key, key)).limit(1);
      return row?.value;
    },

    async set(key: string, value: Record<string, unknown>, updatedBy: string | null): Promise<void> {
      await db
        .insert(settings)
        .values({ key, value, updatedBy, updatedAt: new Date() })
        .onConflictDoUpdate({
          target: settings.key,
          set: { value, updatedBy, updatedAt: sql`now()` },
        });
    },
  };
}
