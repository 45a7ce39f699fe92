import {
  UpdateUserSettingsRequestSchema,
  type UserSettingsResponse,
  type WorkspaceResponse,
  WorkspaceSchema,
} from '@tether/protocol';
import type { FastifyPluginAsync } from 'fastify';
import { ValidationError } from '../errors.js';
import { parseBody } from '../lib/validate.js';
import { createPreferencesRepo } from '../persistence/preferences-repo.js';
import { requireAuth } from '../plugins/auth.js';

/** A layout is small: 32 tabs of 8 panes fit in a few KiB. */
const WORKSPACE_BODY_LIMIT = 64 * 1024;
/** Deeper than any valid split tree (8 panes) with room to spare; checked before the schema recurses. */
const WORKSPACE_MAX_DEPTH = 64;

/** How deeply objects and arrays nest in a parsed JSON value (iterative: no recursion on input). */
function nestingDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    deepest = Math.max(deepest, depth);
    if (deepest > limit) return deepest;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** The signed-in user's terminal settings and workspace layout (issue #17). */
const preferenceRoutes: FastifyPluginAsync = async (app) => {
  const repo = createPreferencesRepo(app.database.db);

  app.register(async (scoped) => {
    scoped.addHook('preHandler', app.authenticate);

    scoped.get(
      '/api/settings',
      async (request): Promise<UserSettingsResponse> => repo.settings(requireAuth(request).userId),
    );

    scoped.patch('/api/settings', async (request): Promise<UserSettingsResponse> => {
      const change = parseBody(UpdateUserSettingsRequestSchema, request.body);
      return repo.updateSettings(requireAuth(request).userId, change);
    });

    scoped.get(
      '/api/workspace',
      async (request): Promise<WorkspaceResponse> => repo.workspace(requireAuth(request).userId),
    );

    scoped.put(
      '/api/workspace',
      { bodyLimit: WORKSPACE_BODY_LIMIT },
      async (request): Promise<WorkspaceResponse> => {
        if (nestingDepth(request.body, WORKSPACE_MAX_DEPTH) > WORKSPACE_MAX_DEPTH)
          throw new ValidationError({ _: `nests deeper than ${WORKSPACE_MAX_DEPTH} levels` });
        const workspace = parseBody(WorkspaceSchema, request.body);
        return repo.saveWorkspace(requireAuth(request).userId, workspace);
      },
    );
  });
};

export default preferenceRoutes;
