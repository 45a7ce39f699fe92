import { and, desc, eq, inArray, isNull, lt, ne, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/index.js';
import { type SessionRow, sessions, users } from '../db/schema/index.js';

export type RevokeReason =
  | 'replaced'
  | 'logout'
  | 'expired'
  | 'idle'
  | 'password_changed'
  | 'admin'
  | 'disabled';

export function createSessionsRepo(db: DbOrTx) {
  return {
    async insert(values: typeof sessions.$inferInsert): Promise<SessionRow> {
      const [row] = await db.insert(sessions).values(values).returning();
      return row!;
    },

    async findById(id: string): Promise<SessionRow | undefined> {
      const [row] = await db.select().from(sessions).where(eq(sessions.id, id)).limit(1);
      return row;
    },

    /** Revokes every live session of a user (optionally keeping one); returns the revoked ids. */
    async revokeLiveForUser(userId: string, reason: RevokeReason, exceptId?: string): Promise<string[]> {
      const rows = await db
        .update(sessions)
        .set({ revokedAt: new Date(), revokeReason: reason })
        .where(
          and(
            eq(sessions.userId, userId),
            isNull(sessions.revokedAt),
            exceptId ? ne(sessions.id, exceptId) : undefined,
          ),
        )
        .returning({ id: sessions.id });
      return rows.map((r) => r.id);
    },

    async revoke(id: string, reason: RevokeReason): Promise<SessionRow | undefined> {
      const [row] = await db
        .update(sessions)
        .set({ revokedAt: new Date(), revokeReason: reason })
        .where(and(eq(sessions.id, id), isNull(sessions.revokedAt)))
        .returning();
      return row;
    },

    async touch(id: string, at: Date): Promise<void> {
      await db.update(sessions).set({ lastActivityAt: at }).where(eq(sessions.id, id));
    },

    async rotateToken(id: string, tokenId: string, at: Date): Promise<void> {
      await db.update(sessions).set({ tokenId, lastActivityAt: at }).where(eq(sessions.id, id));
    },

    listLive(): Promise<Array<SessionRow & { username: string }>> {
      return db
        .select({
          id: sessions.id,
          userId: sessions.userId,
          tokenId: sessions.tokenId,
          fingerprintHash: sessions.fingerprintHash,
          ip: sessions.ip,
          userAgent: sessions.userAgent,
          createdAt: sessions.createdAt,
          lastActivityAt: sessions.lastActivityAt,
          expiresAt: sessions.expiresAt,
          revokedAt: sessions.revokedAt,
          revokeReason: sessions.revokeReason,
          username: users.username,
        })
        .from(sessions)
        .innerJoin(users, eq(users.id, sessions.userId))
        .where(and(isNull(sessions.revokedAt), sql`${sessions.expiresAt} > now()`))
        .orderBy(desc(sessions.lastActivityAt));
    },

    /**
     * Of the given session ids, those that are no longer live and why; used to close the sockets
     * of sessions revoked on any node. A vanished row (deleted user) counts as revoked.
     */
    async findDead(
      ids: string[],
      idleCutoff: Date,
    ): Promise<Array<{ id: string; reason: RevokeReason | 'deleted' }>> {
      if (ids.length === 0) return [];
      const rows = await db
        .select({
          id: sessions.id,
          revokedAt: sessions.revokedAt,
          revokeReason: sessions.revokeReason,
          expiresAt: sessions.expiresAt,
          lastActivityAt: sessions.lastActivityAt,
        })
        .from(sessions)
        .where(inArray(sessions.id, ids));
      const byId = new Map(rows.map((r) => [r.id, r]));
      const now = Date.now();
      const dead: Array<{ id: string; reason: RevokeReason | 'deleted' }> = [];
      for (const id of ids) {
        const r = byId.get(id);
        if (!r) dead.push({ id, reason: 'deleted' });
        else if (r.revokedAt) dead.push({ id, reason: (r.revokeReason ?? 'logout') as RevokeReason });
        else if (r.expiresAt.getTime() <= now) dead.push({ id, reason: 'expired' });
        else if (r.lastActivityAt < idleCutoff) dead.push({ id, reason: 'idle' });
      }
      return dead;
    },

    /**
     * Housekeeping: live rows past their absolute or idle limit are marked revoked (so the
     * one-live-session index reflects reality), and rows ended longer ago than the retention
     * window are deleted. Returns counts for logging.
     */
    async sweep(idleCutoff: Date, deleteBefore: Date): Promise<{ expired: number; deleted: number }> {
      const expired = await db
        .update(sessions)
        .set({
          revokedAt: new Date(),
          revokeReason: sql`case when ${sessions.expiresAt} <= now() then 'expired' else 'idle' end`,
        })
        .where(
          and(
            isNull(sessions.revokedAt),
            or(sql`${sessions.expiresAt} <= now()`, lt(sessions.lastActivityAt, idleCutoff)),
          ),
        )
        .returning({ id: sessions.id });
      const deleted = await db
        .delete(sessions)
        .where(or(lt(sessions.revokedAt, deleteBefore), lt(sessions.expiresAt, deleteBefore)))
        .returning({ id: sessions.id });
      return { expired: expired.length, deleted: deleted.length };
    },
  };
}

export type SessionsRepo = ReturnType<typeof createSessionsRepo>;
