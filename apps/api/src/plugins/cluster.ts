import { createPeerLink, type PeerLink } from '@tether/host-protocol';
import fp from 'fastify-plugin';
import type { SessionEndedEvent } from '../auth/auth-service.js';
import { type ClusterBus, createLocalBus, createPostgresBus } from '../cluster/bus.js';
import { createMembership, type Membership } from '../cluster/membership.js';
import { createSharedLimits, type SharedLimits } from '../cluster/shared-limits.js';
import { VERSION } from '../version.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Events between the nodes sharing this database (LISTEN/NOTIFY; none with PGlite). */
    cluster: ClusterBus;
    /** The nodes sharing this database, this one included (heartbeats in the `nodes` table). */
    membership: Membership;
    /** Tickets and TLS of the link to the other nodes; null on a single node (no PEER_SECRET). */
    peerLink: PeerLink | null;
    /** Limits counted in the database, the same on every node (cluster/shared-limits.ts). */
    sharedLimits: SharedLimits;
  }
}

/**
 * What ends a web session or an account on one node is felt on every node at once: this node's
 * session and account events go out on the bus, and the other nodes' come in as the same events
 * (marked with their origin, so they are not sent on again). Sockets and terminals react to the
 * events as they do to local ones (ws/session-sockets.ts, plugins/terminals.ts).
 */
export default fp(
  async (app) => {
    const { config, database, auth } = app;
    const bus =
      database.driver === 'postgres' && config.database.url
        ? createPostgresBus({
            url: config.database.url,
            nodeId: config.nodeId,
            db: database.db,
            log: app.log.child({ component: 'cluster' }),
          })
        : createLocalBus();
    app.decorate('cluster', bus);

    const membership = createMembership({
      db: database.db,
      nodeId: config.nodeId,
      version: VERSION,
      peerUrl: config.peer?.url ?? null,
      hostGeneration: () => (app.hasDecorator('terminals') ? (app.terminals.manager.host?.id ?? null) : null),
      intervalMs: config.cluster.heartbeatIntervalMs,
      heartbeat: database.driver === 'postgres',
      unreachableAfterMs: config.cluster.unreachableAfterMs,
      lostAfterMs: config.cluster.lostAfterMs,
      log: app.log.child({ component: 'membership' }),
      onReturned: async () => {
        if (app.hasDecorator('terminals')) await app.terminals.reconcile();
      },
    });
    app.decorate('membership', membership);
    const sharedLimits = createSharedLimits({
      db: database.db,
      nodeId: config.nodeId,
      unreachableAfterMs: config.cluster.unreachableAfterMs,
    });
    app.decorate('sharedLimits', sharedLimits);
    app.decorate(
      'peerLink',
      config.peer ? createPeerLink({ secret: config.peer.secret, nodeId: config.nodeId }) : null,
    );
    // Once everything is loaded (the terminal host connected): the row says which host serves it.
    app.addHook('onReady', async () => {
      // Sockets this node counted in a previous run died with it.
      await sharedLimits.forgetNodeSockets();
      await membership.start();
    });
    app.addHook('preClose', async () => {
      await membership.stop();
    });

    const onEnded = (e: SessionEndedEvent) => {
      if (e.origin) return;
      bus.publish({
        t: 'session-ended',
        node: config.nodeId,
        sessionId: e.sessionId,
        userId: e.userId,
        reason: e.reason,
      });
    };
    const onDisabled = (e: { userId: string; origin?: string }) => {
      if (!e.origin) bus.publish({ t: 'user-disabled', node: config.nodeId, userId: e.userId });
    };
    auth.events.on('session-ended', onEnded);
    auth.events.on('user-disabled', onDisabled);
    bus.on('event', (e) => {
      switch (e.t) {
        case 'session-ended':
          auth.events.emit('session-ended', {
            sessionId: e.sessionId,
            userId: e.userId,
            reason: e.reason,
            origin: e.node,
          });
          break;
        case 'user-disabled':
          auth.events.emit('user-disabled', { userId: e.userId, origin: e.node });
          break;
      }
    });

    app.addHook('onClose', async () => {
      auth.events.off('session-ended', onEnded as never);
      auth.events.off('user-disabled', onDisabled as never);
      await bus.close();
    });
  },
  { name: 'cluster', dependencies: ['db', 'auth'] },
);
