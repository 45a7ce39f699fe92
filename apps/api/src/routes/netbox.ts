import { PassThrough } from 'node:stream';
import {
  ErrorCode,
  NETBOX_IMPORT_CONTENT_TYPE,
  NetboxDeviceQuerySchema,
  type NetboxImportEvent,
  NetboxImportRequestSchema,
  type NetboxSiteList,
  NetboxTokenRequestSchema,
  Permission,
  UpdateNetboxSettingsRequestSchema,
} from '@tether/protocol';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { parseBody } from '../lib/validate.js';
import { requireAuth } from '../plugins/auth.js';

/**
 * NetBox (DESIGN §8): a user's token, device search and import into saved connections; an
 * admin's NetBox URL. The broker only ever calls the admin-configured NetBox.
 */
const netboxRoutes: FastifyPluginAsync = async (app) => {
  const { audit, netbox } = app;
  const userId = (request: FastifyRequest) => requireAuth(request).userId;

  function record(
    request: FastifyRequest,
    type: string,
    target: string,
    detail: Record<string, unknown> | null,
    outcome: 'success' | 'failure' = 'success',
  ) {
    const ctx = requireAuth(request);
    return audit.record({
      type,
      outcome,
      userId: ctx.userId,
      username: ctx.username,
      sessionId: ctx.sessionId,
      ip: request.ip,
      target,
      detail,
    });
  }

  app.register(async (reads) => {
    reads.addHook('preHandler', app.authenticate);

    reads.get('/api/netbox/status', async (request) => netbox.status(userId(request)));

    // POST: it calls out to NetBox, and must not be prefetched or cached.
    reads.post('/api/netbox/test', async (request) => netbox.test(userId(request)));

    reads.get('/api/netbox/devices', async (request) => {
      const query = parseBody(NetboxDeviceQuerySchema, request.query);
      return netbox.searchDevices(userId(request), query);
    });

    reads.get(
      '/api/netbox/sites',
      async (request): Promise<NetboxSiteList> => ({ sites: await netbox.listSites(userId(request)) }),
    );
  });

  app.register(async (writes) => {
    writes.addHook('onRequest', app.requirePermission(Permission.PROFILES_WRITE));

    writes.put('/api/netbox/token', async (request, reply) => {
      const { token } = parseBody(NetboxTokenRequestSchema, request.body);
      const { replaced } = await netbox.saveToken(userId(request), token);
      // Never the token, not even a part of it.
      await record(request, replaced ? 'netbox.token.replaced' : 'netbox.token.saved', 'netbox', null);
      return reply.status(204).send();
    });

    writes.delete('/api/netbox/token', async (request, reply) => {
      await netbox.deleteToken(userId(request));
      await record(request, 'netbox.token.deleted', 'netbox', null);
      return reply.status(204).send();
    });

    /**
     * Streams NDJSON: `progress` lines while NetBox is paged through, then one `done` or `error`
     * line. Problems found before any device is fetched (validation, no token, no URL, unknown
     * folder) are ordinary JSON errors with their status code.
     */
    writes.post('/api/netbox/import', async (request, reply) => {
      const body = parseBody(NetboxImportRequestSchema, request.body);
      await netbox.ensureReady(userId(request));
      const status = await netbox.status(userId(request));
      const stream = new PassThrough();
      const write = (event: NetboxImportEvent) => stream.write(`${JSON.stringify(event)}\n`);
      const abort = new AbortController();
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) abort.abort(new Error('client went away'));
      });
      const what = body.deviceIds ? { devices: body.deviceIds.length } : { filter: body.filter };
      const run = async () => {
        try {
          const result = await netbox.importDevices(
            userId(request),
            body,
            // One line per NetBox page (≤ 1,000 devices): at most a few dozen lines.
            (p) => write({ type: 'progress', ...p }),
            abort.signal,
          );
          request.log.info(
            {
              fetched: result.fetched,
              added: result.added,
              updated: result.updated,
              skipped: result.skipped.length,
              ms: result.ms,
            },
            'netbox import',
          );
          await record(request, 'netbox.imported', status.url ?? 'netbox', {
            ...what,
            folderMode: body.folderMode,
            fetched: result.fetched,
            added: result.added,
            updated: result.updated,
            unchanged: result.unchanged,
            skipped: result.skipped.length,
            foldersAdded: result.foldersAdded.length,
          });
          write({ type: 'done', result });
        } catch (err) {
          const known = err instanceof AppError;
          if (!known) request.log.error({ err }, 'netbox import failed');
          const error = known
            ? { code: err.code, message: err.message }
            : { code: ErrorCode.INTERNAL, message: 'The import failed; nothing was imported' };
          await record(
            request,
            'netbox.imported',
            status.url ?? 'netbox',
            { ...what, error: error.code },
            'failure',
          ).catch(() => {});
          write({ type: 'error', error });
        } finally {
          stream.end();
        }
      };
      void run();
      return (
        reply
          .header('content-type', `${NETBOX_IMPORT_CONTENT_TYPE}; charset=utf-8`)
          .header('cache-control', 'no-store')
          // nginx would otherwise hold the progress lines until the end.
          .header('x-accel-buffering', 'no')
          .send(stream)
      );
    });
  });

  app.register(async (admin) => {
    admin.addHook('onRequest', app.requirePermission(Permission.SETTINGS_MANAGE));

    admin.get('/api/admin/netbox', async () => netbox.getSettings());

    admin.put('/api/admin/netbox', async (request) => {
      const body = parseBody(UpdateNetboxSettingsRequestSchema, request.body);
      const result = await netbox.updateSettings(body, userId(request));
      await record(request, 'netbox.settings.changed', 'netbox', {
        url: result.url,
        tlsVerify: result.tlsVerify,
      });
      return result;
    });
  });
};

export default netboxRoutes;
