import { and, desc, eq, inArray, isNull, lt, ne, or, sql } from 'drizzle-orm';
import { type DbOrTx, queryRows } from '../db/index.js';
import { auditEvents, loginFailures, type SessionRow, sessions, users } from '../db/schema/index.js';
import { uniqueViolation } from '../profiles/db-errors.js';

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
    /**
     * A login's write, in one statement and one round trip: takes the user's row lock (storing a
     * rehashed password), forgets the name's failed sign-ins, revokes the user's live session(s) and
     * inserts the new one, and writes the audit rows (`auth.login`, one `session.revoked` per
     * replaced session). Returns the revoked ids, or null when the user no longer exists; the
     * caller tells the audit listeners (`audit.notify`).
     *
     * A statement sees the database as of its start, so two concurrent logins of one user can
     * both miss the session the other just created: the second then fails the one-live-session
     * index (SQLSTATE 23505) without having changed anything, and is simply run again — by then
     * the lock is free and the new statement sees the other login's session and revokes it. The
     * database keeps the guarantee; the retry only turns its refusal into the right outcome.
     */
    async replaceLive(input: {
      userId: string;
      /** login_failures key of the name signed in with: a success forgets its failures. */
      nameKey: string;
      session: Omit<typeof sessions.$inferInsert, 'userId' | 'revokedAt' | 'revokeReason'> & {
        id: string;
        createdAt: Date;
      };
      passwordHash?: string | null;
      audit: { username: string; ip: string | null };
    }): Promise<string[] | null> {
      const { userId, nameKey, session: v, passwordHash, audit } = input;
      const at = v.createdAt.toISOString();
      const statement = sql`
        with locked as (
          update ${users}
          set id = id
            ${passwordHash ? sql`, password_hash = ${passwordHash}` : sql``}
          where id = ${userId}
          returning id
        ), forgotten as (
          delete from ${loginFailures} where name_key = ${nameKey}::text and exists (select 1 from locked)
        ), revoked as (
          update ${sessions}
          set revoked_at = ${at}::timestamptz, revoke_reason = 'replaced'
          where user_id = (select id from locked) and revoked_at is null
          returning id
        ), inserted as (
          insert into ${sessions}
            (id, user_id, token_id, fingerprint_hash, ip, user_agent, created_at, last_activity_at, expires_at)
          select ${v.id}::uuid, id, ${v.tokenId}::text, ${v.fingerprintHash}::text, ${v.ip ?? null}::text,
            ${v.userAgent ?? null}::text, ${at}::timestamptz,
            ${(v.lastActivityAt ?? v.createdAt).toISOString()}::timestamptz, ${v.expiresAt.toISOString()}::timestamptz
          from locked
          -- after the revoke: the new row must not meet the old live one in the unique index
          where (select count(*) from revoked) >= 0
          returning id
        ), audited as (
          insert into ${auditEvents} (type, outcome, user_id, username, session_id, ip, detail)
          select 'auth.login', 'success', ${userId}::uuid, ${audit.username}::text, id, ${audit.ip}::text, null::jsonb
          from inserted
          union all
          select 'session.revoked', 'success', ${userId}::uuid, ${audit.username}::text, id, ${audit.ip}::text,
            '{"reason":"replaced"}'::jsonb
          from revoked
        )
        select id::text as id, 'revoked' as kind from revoked
        union all
        select id::text, 'inserted' from inserted`;
      for (let attempt = 1; ; attempt++) {
        try {
          const rows = await queryRows<{ id: string; kind: string }>(db, statement);
          if (!rows.some((r) => r.kind === 'inserted')) return null;
          return rows.filter((r) => r.kind === 'revoked').map((r) => r.id);
        } catch (err) {
          // Each retry follows another login's commit; logins reach this point a few at a time
          // (argon2 admits one per core), so a handful of attempts is plenty.
          if (attempt >= 10 || uniqueViolation(err) !== 'sessions_one_live_per_user_idx') throw err;
        }
      }
    },

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
