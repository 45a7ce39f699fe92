import { and, desc, eq, gte, inArray, lt, lte, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/index.js';
import { type AuditEventRow, auditEvents } from '../db/schema/index.js';

export interface AuditInput {
  type: string;
  outcome: 'success' | 'failure';
  userId?: string | null;
  username?: string | null;
  sessionId?: string | null;
  ip?: string | null;
  target?: string | null;
  /** Never secrets: no passwords, tokens, keys or terminal contents. */
  detail?: Record<string, unknown> | null;
}

export interface AuditFilter {
  userId?: string;
  type?: string;
  from?: Date;
  to?: Date;
  /** Return events with id below this (keyset paging, newest first). */
  beforeId?: number;
  limit: number;
}

export type AuditListener = (event: AuditInput) => void;

export function createAuditRepo(db: DbOrTx) {
  const listeners = new Set<AuditListener>();
  /** Tells the listeners only: for events a caller wrote itself, in a statement of its own. */
  function notify(events: AuditInput[]): void {
    for (const event of events) {
      for (const listener of listeners) {
        try {
          listener(event);
        } catch {
          // An observer's bug must not turn into a failed login or a lost audit row.
        }
      }
    }
  }

  /** Several events in one insert (one round trip), e.g. a login and the session it replaced. */
  async function recordMany(events: AuditInput[]): Promise<void> {
    if (events.length === 0) return;
    notify(events);
    await db.insert(auditEvents).values(
      events.map((event) => ({
        type: event.type,
        outcome: event.outcome,
        userId: event.userId ?? null,
        username: event.username ?? null,
        sessionId: event.sessionId ?? null,
        ip: event.ip ?? null,
        target: event.target ?? null,
        detail: event.detail ?? null,
      })),
    );
  }

  return {
    /**
     * Observes every event as it is recorded (metrics, logs). Listeners run before the insert,
     * so an event still counts when the database is down and the insert fails; a throwing
     * listener never breaks the caller. Returns an unsubscribe function.
     */
    subscribe(listener: AuditListener): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    record: (event: AuditInput): Promise<void> => recordMany([event]),

    recordMany,

    notify,

    query(filter: AuditFilter): Promise<AuditEventRow[]> {
      return db
        .select()
        .from(auditEvents)
        .where(
          and(
            filter.userId ? eq(auditEvents.userId, filter.userId) : undefined,
            filter.type ? eq(auditEvents.type, filter.type) : undefined,
            filter.from ? gte(auditEvents.at, filter.from) : undefined,
            filter.to ? lte(auditEvents.at, filter.to) : undefined,
            filter.beforeId !== undefined ? lt(auditEvents.id, filter.beforeId) : undefined,
          ),
        )
        .orderBy(desc(auditEvents.id))
        .limit(filter.limit);
    },

    /**
     * Deletes in batches, each one short statement: a backlog of millions of rows must not
     * meet DATABASE_STATEMENT_TIMEOUT, nor hold its locks for long.
     */
    async deleteOlderThan(cutoff: Date, batch = 5_000): Promise<number> {
      let total = 0;
      for (;;) {
        const old = db
          .select({ id: auditEvents.id })
          .from(auditEvents)
          .where(lt(auditEvents.at, cutoff))
          .limit(batch);
        const rows = await db
          .delete(auditEvents)
          .where(inArray(auditEvents.id, old))
          .returning({ id: auditEvents.id });
        total += rows.length;
        if (rows.length < batch) return total;
      }
    },

    async count(): Promise<number> {
      const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(auditEvents);
      return row?.n ?? 0;
    },
  };
}

export type AuditRepo = ReturnType<typeof createAuditRepo>;
