import {
  CreateCredentialRequestSchema,
  CreateFolderRequestSchema,
  CreateProfileRequestSchema,
  type CredentialList,
  DeleteFolderQuerySchema,
  type FolderList,
  ImportModeSchema,
  ImportRequestSchema,
  type ImportResponse,
  MoveProfileRequestSchema,
  Permission,
  PROFILES_EXPORT_CONTENT_TYPE,
  PROFILES_IMPORT_MAX_BYTES,
  type ProfileList,
  ProfileSearchQuerySchema,
  RenameFolderRequestSchema,
  UpdateCredentialRequestSchema,
  UpdateProfileRequestSchema,
} from '@tether/protocol';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseBody } from '../lib/validate.js';
import { requireAuth } from '../plugins/auth.js';

const IdParamsSchema = z.object({ id: z.uuid('must be a UUID') });

/** Query of a raw-YAML import (`Content-Type: application/yaml`); JSON bodies carry these inline. */
const RawImportQuerySchema = z.object({
  mode: ImportModeSchema.default('merge'),
  dryRun: z
    .enum(['true', 'false', '1', '0'])
    .default('false')
    .transform((v) => v === 'true' || v === '1'),
});

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

/**
 * Saved connections (DESIGN §8). Everything is scoped to the caller: another user's folders,
 * profiles and credential sets answer 404, exactly like ids that never existed. Reads need a
 * session; writes need `profiles:write`.
 */
const profileRoutes: FastifyPluginAsync = async (app) => {
  const { audit, profiles } = app;

  function record(request: FastifyRequest, type: string, target: string, detail?: Record<string, unknown>) {
    const ctx = requireAuth(request);
    return audit.record({
      type,
      outcome: 'success',
      userId: ctx.userId,
      username: ctx.username,
      sessionId: ctx.sessionId,
      ip: request.ip,
      target,
      detail: detail ?? null,
    });
  }

  const userId = (request: FastifyRequest) => requireAuth(request).userId;
  const idOf = (request: FastifyRequest) => parseBody(IdParamsSchema, request.params).id;

  // ── reads ──
  app.register(async (reads) => {
    reads.addHook('preHandler', app.authenticate);

    reads.get(
      '/api/folders',
      async (request): Promise<FolderList> => ({
        folders: await profiles.listFolders(userId(request)),
      }),
    );

    reads.get('/api/profiles', async (request): Promise<ProfileList> => {
      const query = parseBody(ProfileSearchQuerySchema, request.query);
      return { profiles: await profiles.searchProfiles(userId(request), query) };
    });

    reads.get('/api/profiles/export', async (request, reply) => {
      const yaml = await profiles.exportVelociTerm(userId(request));
      return reply
        .header('content-type', `${PROFILES_EXPORT_CONTENT_TYPE}; charset=utf-8`)
        .header('content-disposition', 'attachment; filename="sessions.yaml"')
        .header('cache-control', 'no-store')
        .send(yaml);
    });

    reads.get('/api/profiles/:id', async (request) => ({
      profile: await profiles.getProfile(userId(request), idOf(request)),
    }));

    reads.get(
      '/api/credentials',
      async (request): Promise<CredentialList> => ({
        credentials: await profiles.listCredentials(userId(request)),
      }),
    );
  });

  // ── writes ──
  app.register(async (writes) => {
    // onRequest, not preHandler: nobody unauthenticated gets a 10 MiB import body parsed.
    writes.addHook('onRequest', app.requirePermission(Permission.PROFILES_WRITE));

    // `curl --data-binary @sessions.yaml -H 'content-type: application/yaml'` works as well as JSON.
    writes.addContentTypeParser(
      YAML_TYPES,
      { parseAs: 'string', bodyLimit: PROFILES_IMPORT_MAX_BYTES },
      (_request, body, done) => done(null, body),
    );

    // ── folders ──
    writes.post('/api/folders', async (request, reply) => {
      const body = parseBody(CreateFolderRequestSchema, request.body);
      return reply.status(201).send({ folder: await profiles.createFolder(userId(request), body.name) });
    });

    writes.patch('/api/folders/:id', async (request) => {
      const id = idOf(request);
      const body = parseBody(RenameFolderRequestSchema, request.body);
      return { folder: await profiles.renameFolder(userId(request), id, body.name) };
    });

    writes.delete('/api/folders/:id', async (request, reply) => {
      const id = idOf(request);
      const query = parseBody(DeleteFolderQuerySchema, request.query);
      await profiles.deleteFolder(userId(request), id, query.moveTo);
      return reply.status(204).send();
    });

    // ── profiles ──
    writes.post('/api/profiles', async (request, reply) => {
      const body = parseBody(CreateProfileRequestSchema, request.body);
      return reply.status(201).send({ profile: await profiles.createProfile(userId(request), body) });
    });

    writes.patch('/api/profiles/:id', async (request) => {
      const id = idOf(request);
      const body = parseBody(UpdateProfileRequestSchema, request.body);
      return { profile: await profiles.updateProfile(userId(request), id, body) };
    });

    writes.post('/api/profiles/:id/move', async (request) => {
      const id = idOf(request);
      const body = parseBody(MoveProfileRequestSchema, request.body);
      return { profile: await profiles.moveProfile(userId(request), id, body.folderId) };
    });

    writes.delete('/api/profiles/:id', async (request, reply) => {
      await profiles.deleteProfile(userId(request), idOf(request));
      return reply.status(204).send();
    });

    writes.post(
      '/api/profiles/import',
      // JSON escaping can double a 5 MiB file (quotes, newlines); the schema enforces 5 MiB of YAML.
      { bodyLimit: 2 * PROFILES_IMPORT_MAX_BYTES + 64 * 1024 },
      async (request): Promise<ImportResponse> => {
        const input =
          typeof request.body === 'string'
            ? parseBody(ImportRequestSchema, {
                yaml: request.body,
                ...parseBody(RawImportQuerySchema, request.query),
              })
            : parseBody(ImportRequestSchema, request.body);
        const started = performance.now();
        const result = await profiles.importVelociTerm(userId(request), input);
        const { preview } = result;
        const counts = {
          mode: result.mode,
          added: preview.added.length,
          updated: preview.updated.length,
          unchanged: preview.unchanged.length,
          removed: preview.removed.length,
          foldersAdded: preview.folders.added.length,
          foldersRemoved: preview.folders.removed.length,
        };
        request.log.info(
          { ...counts, dryRun: result.dryRun, ms: Math.round(performance.now() - started) },
          'profiles import',
        );
        if (!result.dryRun) await record(request, 'profiles.imported', 'velociterm', counts);
        return result;
      },
    );

    // ── credential sets ──
    writes.post('/api/credentials', async (request, reply) => {
      const body = parseBody(CreateCredentialRequestSchema, request.body);
      const credential = await profiles.createCredential(userId(request), body);
      await record(request, 'credential.created', credential.name, {
        id: credential.id,
        kind: credential.kind,
      });
      return reply.status(201).send({ credential });
    });

    writes.patch('/api/credentials/:id', async (request) => {
      const id = idOf(request);
      const body = parseBody(UpdateCredentialRequestSchema, request.body);
      const { credential, changed } = await profiles.updateCredential(userId(request), id, body);
      // Which parts changed, never their values.
      if (changed.length) await record(request, 'credential.changed', credential.name, { id, changed });
      return { credential };
    });

    writes.delete('/api/credentials/:id', async (request, reply) => {
      const id = idOf(request);
      const deleted = await profiles.deleteCredential(userId(request), id);
      await record(request, 'credential.deleted', deleted.name, { id });
      return reply.status(204).send();
    });
  });
};

export default profileRoutes;
