import { and, eq, inArray, lt, ne, sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import { type Db, queryRows } from '../db/index.js';
import { liveSockets, type NodeRow, nodes, rateCounters, terminals } from '../db/schema/index.js';

/** How a node looks to the others: its row's state, or `unreachable` once its heartbeat is old. */
export type NodeState = 'up' | 'draining' | 'stopped' | 'unreachable';

export interface NodeView {
  id: string;
  state: NodeState;
  peerUrl: string | null;
  hostGeneration: string | null;
  version: string;
  startedAt: Date;
  heartbeatAt: Date;
  /** Age of the last heartbeat by the database's clock, when it was read. */
  heartbeatAgeMs: number;
}

export interface MembershipOptions {
  db: Db;
  nodeId: string;
  version: string;
  peerUrl: string | null;
  /** The terminal host generation serving this node right now (null while none answers). */
  hostGeneration: () => string | null;
  intervalMs: number;
  /**
   * Whether other nodes may share the database (PostgreSQL). With the embedded database this is
   * the only node: it writes its row at start and stop but does not heartbeat (every query of
   * PGlite runs on the API's event loop, and nobody would read the heartbeat).
   */
  heartbeat?: boolean;
  unreachableAfterMs: number;
  lostAfterMs: number;
  log: FastifyBaseLogger;
  /**
   * This node's heartbeat had lapsed for longer than `lostAfterMs` (a partition, a stalled
   * process, the database away): other nodes may have recorded its terminals lost meanwhile.
   * The caller reconciles them with what its terminal host still holds.
   */
  onReturned?: () => Promise<void>;
}

/** Rows of nodes silent for this long are removed (their terminals were recorded lost long ago). */
const FORGET_AFTER_MS = 7 * 24 * 3600_000;

/**
 * Node membership in PostgreSQL (DESIGN §11): each node writes its row at start, refreshes its
 * heartbeat with the database's clock every `intervalMs`, says when it drains and when it stops.
 * Every node also does the housekeeping for all: the terminals of a node silent for longer than
 * `lostAfterMs` are recorded lost, with the reason (idempotent; any number of nodes may run it).
 */
export function createMembership(options: MembershipOptions) {
  const { db, nodeId, log } = options;
  let view = new Map<string, NodeView>();
  let state: 'up' | 'draining' = 'up';
  let timer: NodeJS.Timeout | undefined;
  let beating: Promise<void> | null = null;
  let stopped = false;

  async function register(): Promise<void> {
    const values = {
      id: nodeId,
      peerUrl: options.peerUrl,
      hostGeneration: options.hostGeneration(),
      version: options.version,
      state,
      startedAt: sql`now()`,
      heartbeatAt: sql`now()`,
    } as const;
    await db
      .insert(nodes)
      .values(values as never)
      .onConflictDoUpdate({ target: nodes.id, set: { ...values, id: undefined } as never });
  }

  /** One heartbeat, then the shared housekeeping and a fresh view of every node. */
  async function beat(): Promise<void> {
    const [row] = await queryRows<{ previous: Date | string | null; now: Date | string }>(
      db,
      sql`
      with prev as (select ${nodes.heartbeatAt} as at from ${nodes} where ${nodes.id} = ${nodeId})
      update ${nodes} set heartbeat_at = now(), host_generation = ${options.hostGeneration()},
        state = ${state}
      where ${nodes.id} = ${nodeId}
      returning (select at from prev) as previous, now() as now`,
    );
    if (!row) {
      // The row went away (an operator removed it): this node is here all the same.
      await register();
    } else if (row.previous !== null) {
      const gap = new Date(row.now).getTime() - new Date(row.previous).getTime();
      if (gap > options.lostAfterMs) {
        log.warn({ gapMs: gap }, 'this node was silent past NODE_LOST_AFTER; reconciling its terminals');
        await options.onReturned?.();
      }
    }
    await markLostNodes();
    await refresh();
  }

  /** Terminals of nodes silent past the grace period: lost, with the reason. */
  async function markLostNodes(): Promise<void> {
    const silent = await db
      .select({ id: nodes.id, heartbeatAt: nodes.heartbeatAt })
      .from(nodes)
      .where(
        and(
          ne(nodes.id, nodeId),
          lt(nodes.heartbeatAt, sql`now() - make_interval(secs => ${options.lostAfterMs / 1000})`),
        ),
      );
    for (const node of silent) {
      const ended = await db
        .update(terminals)
        .set({
          status: 'lost',
          endedAt: new Date(),
          endReason: `Its broker node (${node.id}) stopped answering at ${node.heartbeatAt.toISOString()} and did not come back.`,
        })
        .where(and(eq(terminals.nodeId, node.id), inArray(terminals.status, ['running', 'connecting'])))
        .returning({ id: terminals.id });
      if (ended.length > 0)
        log.warn({ node: node.id, terminals: ended.length }, 'terminals of a lost node recorded lost');
      // Its sockets are gone too (no longer counted against their users' caps).
      await db.delete(liveSockets).where(eq(liveSockets.nodeId, node.id));
    }
    await db.delete(rateCounters).where(lt(rateCounters.windowEndsAt, sql`now() - interval '1 minute'`));
    await db
      .delete(nodes)
      .where(lt(nodes.heartbeatAt, sql`now() - make_interval(secs => ${FORGET_AFTER_MS / 1000})`));
  }

  async function refresh(): Promise<void> {
    const rows = await db
      .select({
        row: nodes,
        ageMs: sql<number>`(extract(epoch from now() - ${nodes.heartbeatAt}) * 1000)::float8`,
      })
      .from(nodes);
    view = new Map(rows.map(({ row, ageMs }) => [row.id, toView(row, Number(ageMs))]));
  }

  function toView(row: NodeRow, ageMs: number): NodeView {
    if (row.id === nodeId) {
      // This process is answering: whatever its row says, it is up (or draining).
      return {
        id: row.id,
        state,
        peerUrl: row.peerUrl,
        hostGeneration: options.hostGeneration(),
        version: row.version,
        startedAt: row.startedAt,
        heartbeatAt: new Date(),
        heartbeatAgeMs: 0,
      };
    }
    const silent = ageMs > options.unreachableAfterMs;
    return {
      id: row.id,
      // A node that stopped cleanly says so; one that went silent is unreachable.
      state: row.state === 'stopped' ? 'stopped' : silent ? 'unreachable' : row.state,
      peerUrl: row.peerUrl,
      hostGeneration: row.hostGeneration,
      version: row.version,
      startedAt: row.startedAt,
      heartbeatAt: row.heartbeatAt,
      heartbeatAgeMs: Math.max(0, Math.round(ageMs)),
    };
  }

  function tick() {
    if (stopped || beating) return;
    beating = beat()
      .catch((err: Error) => log.warn({ err: err.message }, 'node heartbeat failed'))
      .finally(() => {
        beating = null;
      });
  }

  return {
    /** Writes this node's row and the first view; heartbeats from then on. */
    async start(): Promise<void> {
      await register();
      await refresh();
      if (options.heartbeat === false) return;
      timer = setInterval(tick, options.intervalMs);
      timer.unref();
    },
    /** Every node as last read (this one included). */
    nodes(): NodeView[] {
      return [...view.values()].sort((a, b) => a.id.localeCompare(b.id));
    },
    node(id: string): NodeView | undefined {
      return view.get(id);
    },
    /** Re-reads every node now (an admin page asking). */
    refresh,
    /** Marks this node draining: the others and the load balancer's readiness check see it. */
    async drain(): Promise<void> {
      state = 'draining';
      await db.update(nodes).set({ state }).where(eq(nodes.id, nodeId));
    },
    /** Clean shutdown: stops heartbeating and says so (best effort: the database may be gone). */
    async stop(): Promise<void> {
      stopped = true;
      clearInterval(timer);
      await beating;
      await db
        .update(nodes)
        .set({ state: 'stopped' })
        .where(eq(nodes.id, nodeId))
        .catch((err: Error) => log.warn({ err: err.message }, 'could not record this node stopped'));
    },
  };
}

export type Membership = ReturnType<typeof createMembership>;
