import { eq, inArray, sql } from 'drizzle-orm';
import { type Db, queryRows } from '../db/index.js';
import { liveSockets, nodes, rateCounters } from '../db/schema/index.js';

/**
 * Limits that hold for the deployment, not per process (issue #16): counted in the database that
 * every node shares, so a client spreading its attempts over the nodes gains nothing.
 * - `hit`/`peek`: fixed-window counters (sign-in attempts per address through @fastify/rate-limit's
 *   store interface, failed SSH opens per user);
 * - `openSocket`/`closeSocket`: authenticated terminal sockets per user. Sockets of nodes that no
 *   longer answer are not counted (their rows are removed when the node starts again or is lost).
 */
export function createSharedLimits(options: { db: Db; nodeId: string; unreachableAfterMs: number }) {
  const { db, nodeId } = options;

  return {
    /** Counts one hit on `key` in a window of `windowMs`; the hits so far and the window's remaining ms. */
    async hit(key: string, windowMs: number): Promise<{ hits: number; ttlMs: number }> {
      const [row] = await queryRows<{ hits: number; ttl_ms: number }>(
        db,
        sql`
        insert into ${rateCounters} (key, hits, window_ends_at)
        values (${key}, 1, now() + make_interval(secs => ${windowMs / 1000}))
        on conflict (key) do update set
          hits = case when ${rateCounters.windowEndsAt} <= now() then 1 else ${rateCounters.hits} + 1 end,
          window_ends_at = case when ${rateCounters.windowEndsAt} <= now()
            then excluded.window_ends_at else ${rateCounters.windowEndsAt} end
        returning hits, (extract(epoch from window_ends_at - now()) * 1000)::float8 as ttl_ms`,
      );
      return { hits: Number(row!.hits), ttlMs: Math.max(0, Math.ceil(Number(row!.ttl_ms))) };
    },

    /** The hits on `key` in its current window (0 when it has none). */
    async peek(key: string): Promise<{ hits: number; ttlMs: number }> {
      const [row] = await queryRows<{ hits: number; ttl_ms: number }>(
        db,
        sql`
        select hits, (extract(epoch from window_ends_at - now()) * 1000)::float8 as ttl_ms
        from ${rateCounters} where key = ${key} and window_ends_at > now()`,
      );
      return row
        ? { hits: Number(row.hits), ttlMs: Math.max(0, Math.ceil(Number(row.ttl_ms))) }
        : { hits: 0, ttlMs: 0 };
    },

    /**
     * Records an authenticated socket of `userId` unless the user already has `max` on the nodes
     * that answer; false (and nothing recorded) when over. Two nodes admitting a user's last
     * socket at the same instant may both succeed: the cap bounds resources, it is not a count
     * anyone relies on being exact.
     */
    async openSocket(id: string, userId: string, max: number): Promise<boolean> {
      const [row] = await queryRows<{ n: number }>(
        db,
        sql`
        with added as (insert into ${liveSockets} (id, node_id, user_id) values (${id}, ${nodeId}, ${userId}))
        select count(*)::int as n from ${liveSockets} s join ${nodes} n on n.id = s.node_id
        where s.user_id = ${userId}
          and (n.id = ${nodeId} or n.heartbeat_at > now() - make_interval(secs => ${options.unreachableAfterMs / 1000}))`,
      );
      // The count does not see this statement's own insert.
      if (Number(row!.n) < max) return true;
      await db.delete(liveSockets).where(eq(liveSockets.id, id));
      return false;
    },

    async closeSocket(id: string): Promise<void> {
      await db.delete(liveSockets).where(eq(liveSockets.id, id));
    },

    /** This node's rows from a previous run (its sockets died with it). */
    async forgetNodeSockets(ids: string[] = [nodeId]): Promise<void> {
      await db.delete(liveSockets).where(inArray(liveSockets.nodeId, ids));
    },
  };
}

export type SharedLimits = ReturnType<typeof createSharedLimits>;

/**
 * @fastify/rate-limit's store interface over `hit`, one key space per route (`child`), so the
 * sign-in limit per client address holds across nodes.
 */
export function sharedRateLimitStore(limits: SharedLimits) {
  return class SharedRateLimitStore {
    constructor(
      _options: unknown,
      readonly prefix = 'http:',
    ) {}

    incr(
      key: string,
      callback: (error: Error | null, result?: { current: number; ttl: number }) => void,
      timeWindow: number,
    ): void {
      limits.hit(`${this.prefix}${key}`, timeWindow).then(
        (r) => callback(null, { current: r.hits, ttl: r.ttlMs }),
        (err: Error) => callback(err),
      );
    }

    child(routeOptions: { routeInfo?: { method?: string | string[]; url?: string } }) {
      const route = routeOptions.routeInfo ?? {};
      return new SharedRateLimitStore(undefined, `http:${String(route.method ?? '')}:${route.url ?? ''}:`);
    }
  };
}
