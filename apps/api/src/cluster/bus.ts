import { EventEmitter } from 'node:events';
import { sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import postgres from 'postgres';
import { z } from 'zod';
import type { Db } from '../db/index.js';

/** The one PostgreSQL channel every node of a deployment listens on. */
export const CLUSTER_CHANNEL = 'tether_cluster';

const REVOKE_REASONS = [
  'replaced',
  'logout',
  'expired',
  'idle',
  'password_changed',
  'admin',
  'disabled',
  'deleted',
] as const;

/**
 * What one node tells the others. `node` is the sender's NODE_ID (a node ignores its own). Kept
 * small: a NOTIFY payload must stay under 8,000 bytes.
 */
export const ClusterEventSchema = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('session-ended'),
    node: z.string(),
    sessionId: z.string(),
    userId: z.string(),
    reason: z.enum(REVOKE_REASONS),
  }),
  z.object({ t: z.literal('user-disabled'), node: z.string(), userId: z.string() }),
]);
export type ClusterEvent = z.infer<typeof ClusterEventSchema>;

interface BusEvents {
  /** An event another node published. */
  event: [ClusterEvent];
  /**
   * The listening connection is (again) subscribed. Notifications sent while it was down are
   * not replayed by PostgreSQL, so whoever relies on them catches up from the tables now.
   */
  listening: [];
}

export interface ClusterBus extends EventEmitter<BusEvents> {
  /** Whether events reach other nodes (PostgreSQL); PGlite serves one process, so there are none. */
  readonly shared: boolean;
  /** Whether the listening connection is subscribed right now. */
  readonly listening: boolean;
  /** Sends to every other node; best effort (the periodic checks are the backstop). */
  publish(event: ClusterEvent): void;
  close(): Promise<void>;
}

/** A bus for the embedded database: one process, nothing to tell anyone. */
export function createLocalBus(): ClusterBus {
  const bus = new EventEmitter<BusEvents>() as ClusterBus;
  Object.defineProperties(bus, {
    shared: { value: false },
    listening: { value: false },
    publish: { value: () => {} },
    close: { value: async () => {} },
  });
  return bus;
}

/**
 * Events between the nodes of one deployment over PostgreSQL's LISTEN/NOTIFY. The listener is a
 * dedicated connection of its own (a LISTEN lives on one session: it needs a direct connection
 * to the server, not a transaction-pooling proxy such as PgBouncer in transaction mode). When
 * that connection drops (server restart, `pg_terminate_backend`, network), it is opened again
 * with backoff and `listening` fires after each successful LISTEN so that callers run their
 * catch-up queries. Publishing goes through the ordinary pool.
 */
export function createPostgresBus(deps: {
  url: string;
  nodeId: string;
  db: Db;
  log: FastifyBaseLogger;
  /** Longest wait between two attempts to listen again (default 5 s). */
  maxRetryMs?: number;
}): ClusterBus {
  const { nodeId, db, log } = deps;
  const maxRetryMs = deps.maxRetryMs ?? 5_000;
  const bus = new EventEmitter<BusEvents>() as ClusterBus;
  let closed = false;
  let listening = false;
  let subscribing = false;
  let retryMs = 100;
  let retryTimer: NodeJS.Timeout | undefined;

  // `onnotify` is the option postgres.js's own `listen` is built on (src/index.js), absent from its
  // type definitions; using it directly lets this module own the reconnect and its catch-up.
  const options: postgres.Options<Record<string, never>> & {
    onnotify: (channel: string, payload: string) => void;
  } = {
    max: 1,
    idle_timeout: 0,
    max_lifetime: null,
    fetch_types: false,
    connect_timeout: 10,
    onnotice: () => {},
    // Named so an operator (and the tests) can find it in pg_stat_activity.
    connection: { application_name: `tether-listen ${nodeId}`.slice(0, 63) },
    onnotify(channel, payload) {
      if (channel === CLUSTER_CHANNEL) receive(payload);
    },
    onclose() {
      if (closed) return;
      if (listening) log.warn('cluster listener connection lost; listening again');
      listening = false;
      schedule(0);
    },
  };
  const client = postgres(deps.url, options);

  function receive(payload: string) {
    let parsed: ReturnType<typeof ClusterEventSchema.safeParse>;
    try {
      parsed = ClusterEventSchema.safeParse(JSON.parse(payload));
    } catch {
      parsed = { success: false } as never;
    }
    if (!parsed.success) {
      log.warn({ bytes: payload.length }, 'ignored a cluster notification that is not one of ours');
      return;
    }
    if (parsed.data.node === nodeId) return;
    bus.emit('event', parsed.data);
  }

  function schedule(delayMs: number) {
    if (closed || subscribing || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void subscribe();
    }, delayMs);
    retryTimer.unref();
  }

  async function subscribe() {
    if (closed || subscribing || listening) return;
    subscribing = true;
    try {
      await client.unsafe(`listen ${CLUSTER_CHANNEL}`);
      subscribing = false;
      if (closed) return;
      listening = true;
      retryMs = 100;
      bus.emit('listening');
    } catch (err) {
      subscribing = false;
      if (closed) return;
      log.warn({ err: (err as Error).message, retryMs }, 'cluster listener cannot listen; retrying');
      const wait = retryMs;
      retryMs = Math.min(maxRetryMs, retryMs * 2);
      schedule(wait);
    }
  }

  Object.defineProperties(bus, {
    shared: { value: true },
    listening: { get: () => listening },
    publish: {
      value(event: ClusterEvent) {
        const payload = JSON.stringify(event);
        db.execute(sql`select pg_notify(${CLUSTER_CHANNEL}, ${payload})`).catch((err: Error) => {
          log.warn({ err: err.message, type: event.t }, 'cluster notification not sent');
        });
      },
    },
    close: {
      async value() {
        closed = true;
        clearTimeout(retryTimer);
        await client.end({ timeout: 2 }).catch(() => {});
      },
    },
  });
  void subscribe();
  return bus;
}
