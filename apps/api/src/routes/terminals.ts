import type { KnownHostList, TerminalList, TerminalSummary } from '@tether/protocol';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { NotFoundError } from '../errors.js';
import { parseBody } from '../lib/validate.js';
import { createKnownHostsRepo } from '../persistence/known-hosts-repo.js';
import { createTerminalsRepo } from '../persistence/terminals-repo.js';
import { requireAuth } from '../plugins/auth.js';
import { registerTerminalSocket } from '../ws/terminal-socket.js';

const IdParamsSchema = z.object({ id: z.uuid('must be a UUID') });
const ClearQuerySchema = z.object({ status: z.literal('ended', { error: 'must be "ended"' }) });

/** My terminals and known hosts (REST), and the terminal WebSocket. */
const terminalRoutes: FastifyPluginAsync = async (app) => {
  const repo = createTerminalsRepo(app.database.db);
  const knownHosts = createKnownHostsRepo(app.database.db);

  registerTerminalSocket(app);

  app.register(async (scoped) => {
    scoped.addHook('preHandler', app.authenticate);

    scoped.get('/api/terminals', async (request): Promise<TerminalList> => {
      return { terminals: await app.terminals.list(requireAuth(request).userId) };
    });

    // Clears the ended ones from my list (`?status=ended`, the only status that can be cleared).
    scoped.delete('/api/terminals', async (request): Promise<{ cleared: number }> => {
      parseBody(ClearQuerySchema, request.query);
      return { cleared: await repo.clearEnded(requireAuth(request).userId) };
    });

    scoped.get('/api/terminals/:id', async (request): Promise<{ terminal: TerminalSummary }> => {
      const { id } = parseBody(IdParamsSchema, request.params);
      const row = await repo.findForUser(requireAuth(request).userId, id);
      if (!row) throw new NotFoundError('Terminal');
      return { terminal: app.terminals.summary(row) };
    });

    scoped.delete('/api/terminals/:id', async (request, reply) => {
      const ctx = requireAuth(request);
      const { id } = parseBody(IdParamsSchema, request.params);
      const live = app.terminals.get(id, ctx.userId);
      if (!live) {
        const row = await repo.findForUser(ctx.userId, id);
        if (!row) throw new NotFoundError('Terminal');
        // Held by another node: that node ends it (peer link).
        if ((row.status === 'running' || row.status === 'connecting') && row.nodeId !== app.config.nodeId)
          await app.terminals.terminateOnOwner(row, ctx);
        return reply.status(204).send(); // already ended: deleting is idempotent
      }
      await app.terminals.terminate(live, ctx, 'Ended by the user.');
      return reply.status(204).send();
    });

    scoped.get('/api/known-hosts', async (request): Promise<KnownHostList> => {
      const rows = await knownHosts.list(requireAuth(request).userId);
      return {
        knownHosts: rows.map((r) => ({
          id: r.id,
          host: r.host,
          port: r.port,
          keyType: r.keyType,
          fingerprint: r.fingerprint,
          createdAt: r.createdAt.toISOString(),
        })),
      };
    });

    scoped.delete('/api/known-hosts/:id', async (request, reply) => {
      const ctx = requireAuth(request);
      const { id } = parseBody(IdParamsSchema, request.params);
      const row = await knownHosts.forget(ctx.userId, id);
      if (!row) throw new NotFoundError('Known host');
      await app.audit.record({
        type: 'hostkey.forgotten',
        outcome: 'success',
        userId: ctx.userId,
        username: ctx.username,
        target: `${row.host}:${row.port}`,
        detail: { fingerprint: row.fingerprint },
      });
      return reply.status(204).send();
    });
  });
};

export default terminalRoutes;
