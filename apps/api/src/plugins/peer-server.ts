import websocket from '@fastify/websocket';
import {
  PEER_TERMINAL_SOCKET_PATH,
  PEER_TICKET_HEADER,
  type PeerTicket,
  PeerTicketError,
} from '@tether/host-protocol';
import { ErrorCode, Permission } from '@tether/protocol';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { z } from 'zod';
import type { AuthContext } from '../auth/auth-service.js';
import { createTerminalsRepo } from '../persistence/terminals-repo.js';
import type { PeerSocketGrant } from '../ws/terminal-socket.js';

const IdParamsSchema = z.object({ id: z.uuid() });

/**
 * The peer port (issue #16): where other nodes reach the terminals this node holds. Its own
 * listener (PEER_HOST:PEER_PORT), TLS 1.3 with the key derived from PEER_SECRET, and two routes,
 * each needing a fresh ticket signed by another node for this one:
 * - the terminal socket, for a browser attached to another node (the ticket names the terminal,
 *   the user and the web session; the session must be live here too, and revoking it anywhere
 *   closes the socket);
 * - ending a terminal (its owner, or an administrator, acting through another node).
 * Nothing else: no sign-in, no REST, no `open`.
 */
export default fp(
  async (app) => {
    const { config } = app;
    const link = app.peerLink;
    if (!config.peer || !link) return;
    const repo = createTerminalsRepo(app.database.db);
    const peer: FastifyInstance = Fastify({
      https: link.serverTls(),
      loggerInstance: app.log.child({ component: 'peer-server' }),
      // The forwarding node sends the browser's frames as they are.
      bodyLimit: 64 * 1024,
    });
    await peer.register(websocket, {
      options: { maxPayload: config.limits.messageSizeLimit, perMessageDeflate: false },
    });

    /** The ticket's claims and the live session it acts for; answers 403/503 itself otherwise. */
    async function admit(
      request: FastifyRequest,
      act: PeerTicket['act'],
    ): Promise<{ ticket: PeerTicket; ctx: AuthContext } | { status: number; code: string; message: string }> {
      const header = request.headers[PEER_TICKET_HEADER];
      let ticket: PeerTicket;
      try {
        ticket = link!.verify(typeof header === 'string' ? header : '');
      } catch (err) {
        request.log.warn({ err: (err as Error).message }, 'peer request refused');
        return {
          status: 403,
          code: ErrorCode.FORBIDDEN,
          message: err instanceof PeerTicketError ? err.message : 'bad ticket',
        };
      }
      if (ticket.act !== act)
        return { status: 403, code: ErrorCode.FORBIDDEN, message: 'ticket for another act' };
      try {
        return { ticket, ctx: await app.auth.sessionContext(ticket.sid, ticket.uid) };
      } catch (err) {
        const e = err as { statusCode?: number; code?: string; message: string };
        return {
          status: e.statusCode ?? 503,
          code: e.code ?? ErrorCode.SERVICE_UNAVAILABLE,
          message: e.message,
        };
      }
    }

    const grants = new WeakMap<FastifyRequest, PeerSocketGrant>();
    peer.get(
      PEER_TERMINAL_SOCKET_PATH,
      {
        websocket: true,
        preValidation: async (request, reply) => {
          const admitted = await admit(request, 'attach');
          if ('status' in admitted) {
            await reply
              .status(admitted.status)
              .send({ error: { code: admitted.code, message: admitted.message } });
            return;
          }
          grants.set(request, {
            ctx: admitted.ctx,
            terminalId: admitted.ticket.tid,
            from: admitted.ticket.from,
          });
        },
      },
      (socket, request) => {
        const grant = grants.get(request);
        if (!grant) return socket.close(1011, 'no grant');
        app.handleTerminalSocket(socket as never, request, grant);
      },
    );

    peer.post('/peer/v1/terminals/:id/terminate', async (request, reply) => {
      const params = IdParamsSchema.safeParse(request.params);
      if (!params.success) {
        return reply
          .status(400)
          .send({ error: { code: ErrorCode.VALIDATION_FAILED, message: 'The terminal id must be a UUID.' } });
      }
      const { id } = params.data;
      const admitted = await admit(request, 'terminate');
      if ('status' in admitted) {
        return reply
          .status(admitted.status)
          .send({ error: { code: admitted.code, message: admitted.message } });
      }
      const { ticket, ctx } = admitted;
      if (ticket.tid !== id)
        return reply
          .status(403)
          .send({ error: { code: ErrorCode.FORBIDDEN, message: 'ticket for another terminal' } });
      const row = await repo.findById(id);
      const admin = ctx.permissions.has(Permission.TERMINALS_MANAGE);
      if (!row || (row.userId !== ctx.userId && !admin)) {
        return reply
          .status(404)
          .send({ error: { code: ErrorCode.TERMINAL_NOT_FOUND, message: 'No such terminal.' } });
      }
      const live = app.terminals.get(row.id, row.userId);
      if (live && !live.ended) {
        await app.terminals.terminate(
          live,
          ctx,
          row.userId === ctx.userId ? 'Ended by the user.' : 'Ended by an administrator.',
        );
      }
      return reply.status(204).send();
    });

    // A node with another PEER_SECRET (or anything else knocking) fails the handshake: say so,
    // at most once a minute, since nothing else would show why its forwards fail.
    let handshakeWarnedAt = Number.NEGATIVE_INFINITY;
    let handshakeFailures = 0;
    peer.server.on('tlsClientError', (err: Error, socket: { remoteAddress?: string }) => {
      handshakeFailures++;
      if (Date.now() - handshakeWarnedAt < 60_000) return;
      handshakeWarnedAt = Date.now();
      app.log.warn(
        { err: err.message, from: socket.remoteAddress, failures: handshakeFailures },
        'a peer failed the TLS handshake on the peer port (a node with another PEER_SECRET?)',
      );
      handshakeFailures = 0;
    });

    app.addHook('onReady', async () => {
      await peer.listen({ host: config.peer!.host, port: config.peer!.port });
      app.log.info({ host: config.peer!.host, port: config.peer!.port }, 'peer port listening');
    });
    app.addHook('preClose', async () => {
      await peer.close();
    });
  },
  { name: 'peer-server', dependencies: ['cluster', 'terminals'] },
);
