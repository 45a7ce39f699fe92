import { and, desc, eq, getTableColumns, inArray, isNull, notInArray, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/index.js';
import {
  type TerminalRow,
  type TerminalScreenRow,
  terminalScreens,
  terminals,
  users,
} from '../db/schema/index.js';

/** Last screens kept per user: enough for every pane a stored workspace can hold (32 tabs × 8). */
export const SCREENS_KEPT_PER_USER = 256;

export type TerminalStatus = TerminalRow['status'];
export type NewTerminal = typeof terminals.$inferInsert;

export function createTerminalsRepo(db: DbOrTx) {
  return {
    async insert(values: NewTerminal): Promise<TerminalRow> {
      const [row] = await db.insert(terminals).values(values).returning();
      return row!;
    },

    async update(id: string, patch: Partial<Omit<TerminalRow, 'id' | 'userId'>>): Promise<void> {
      await db.update(terminals).set(patch).where(eq(terminals.id, id));
    },

    async findForUser(userId: string, id: string): Promise<TerminalRow | undefined> {
      const [row] = await db
        .select()
        .from(terminals)
        .where(and(eq(terminals.id, id), eq(terminals.userId, userId)))
        .limit(1);
      return row;
    },

    async findById(id: string): Promise<TerminalRow | undefined> {
      const [row] = await db.select().from(terminals).where(eq(terminals.id, id)).limit(1);
      return row;
    },

    /** Live terminals first, then the most recent ended ones the user has not cleared (bounded history). */
    listForUser(userId: string, limit = 200): Promise<TerminalRow[]> {
      return db
        .select()
        .from(terminals)
        .where(and(eq(terminals.userId, userId), isNull(terminals.clearedAt)))
        .orderBy(
          sql`case when ${terminals.status} in ('connecting', 'running') then 0 else 1 end`,
          desc(terminals.createdAt),
        )
        .limit(limit);
    },

    /** Every user's terminals with the owner's username (admin view); live ones first. */
    listAll(
      filter: { liveOnly?: boolean; userId?: string; limit?: number } = {},
    ): Promise<Array<TerminalRow & { ownerUsername: string | null }>> {
      return db
        .select({ ...getTableColumns(terminals), ownerUsername: users.username })
        .from(terminals)
        .leftJoin(users, eq(users.id, terminals.userId))
        .where(
          and(
            filter.liveOnly ? inArray(terminals.status, ['connecting', 'running']) : undefined,
            filter.userId ? eq(terminals.userId, filter.userId) : undefined,
          ),
        )
        .orderBy(
          sql`case when ${terminals.status} in ('connecting', 'running') then 0 else 1 end`,
          desc(terminals.createdAt),
        )
        .limit(filter.limit ?? 500);
    },

    /**
     * Start-up: this node's terminals that were live when it went down cannot be running any
     * more (their SSH sessions died with the process). Say so instead of showing them running.
     */
    /** This node's rows still marked running or connecting, except `keep`, become `lost`. */
    async markNodeTerminalsLost(nodeId: string, reason: string, keep: string[] = []): Promise<number> {
      const rows = await db
        .update(terminals)
        .set({ status: 'lost', endedAt: new Date(), endReason: reason })
        .where(
          and(
            eq(terminals.nodeId, nodeId),
            or(eq(terminals.status, 'running'), eq(terminals.status, 'connecting')),
            keep.length > 0 ? notInArray(terminals.id, keep) : undefined,
          ),
        )
        .returning({ id: terminals.id });
      return rows.length;
    },

    /** Disabled accounts that still have live terminals on this node (catch-up after a missed event). */
    async disabledUsersWithLiveTerminals(nodeId: string): Promise<string[]> {
      const rows = await db
        .selectDistinct({ userId: terminals.userId })
        .from(terminals)
        .innerJoin(users, eq(users.id, terminals.userId))
        .where(
          and(
            eq(terminals.nodeId, nodeId),
            inArray(terminals.status, ['running', 'connecting']),
            sql`${users.disabledAt} is not null`,
          ),
        );
      return rows.map((r) => r.userId);
    },

    /** Takes the user's ended terminals off their list (the rows stay for administrators). */
    async clearEnded(userId: string): Promise<number> {
      const rows = await db
        .update(terminals)
        .set({ clearedAt: new Date() })
        .where(
          and(
            eq(terminals.userId, userId),
            inArray(terminals.status, ['exited', 'lost']),
            isNull(terminals.clearedAt),
          ),
        )
        .returning({ id: terminals.id });
      if (rows.length > 0)
        await db.delete(terminalScreens).where(
          and(
            eq(terminalScreens.userId, userId),
            inArray(
              terminalScreens.terminalId,
              rows.map((r) => r.id),
            ),
          ),
        );
      return rows.length;
    },

    /**
     * Keeps an ended terminal's last screen, and only the user's SCREENS_KEPT_PER_USER most recent
     * ones (a screen is a few KB, at most FINAL_SCREEN_MAX_BYTES).
     */
    async saveScreen(screen: Omit<TerminalScreenRow, 'capturedAt'> & { capturedAt?: Date }): Promise<void> {
      await db.insert(terminalScreens).values(screen).onConflictDoNothing();
      const newest = db
        .select({ id: terminalScreens.terminalId })
        .from(terminalScreens)
        .where(eq(terminalScreens.userId, screen.userId))
        .orderBy(desc(terminalScreens.capturedAt))
        .limit(SCREENS_KEPT_PER_USER);
      await db
        .delete(terminalScreens)
        .where(
          and(eq(terminalScreens.userId, screen.userId), notInArray(terminalScreens.terminalId, newest)),
        );
    },

    async screenFor(userId: string, terminalId: string): Promise<TerminalScreenRow | undefined> {
      const [row] = await db
        .select()
        .from(terminalScreens)
        .where(and(eq(terminalScreens.terminalId, terminalId), eq(terminalScreens.userId, userId)))
        .limit(1);
      return row;
    },

    async setLastOutput(ids: string[], at: Date): Promise<void> {
      if (ids.length === 0) return;
      await db.update(terminals).set({ lastOutputAt: at }).where(inArray(terminals.id, ids));
    },
  };
}

export type TerminalsRepo = ReturnType<typeof createTerminalsRepo>;
