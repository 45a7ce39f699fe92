import os from 'node:os';
import {
  type AdminSessionList,
  type AdminStatus,
  type AdminTerminalList,
  AdminTerminalQuerySchema,
  type AdminUser,
  type AdminUserList,
  type AuditPage,
  AuditQuerySchema,
  CreateUserRequestSchema,
  ErrorCode,
  Permission,
  ResetPasswordRequestSchema,
  UpdateUserRequestSchema,
} from '@tether/protocol';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { toApiUser } from '../auth/auth-service.js';
import { nameKey } from '../auth/login-failures-repo.js';
import type { UserRow } from '../db/schema/index.js';
import { AppError, NotFoundError } from '../errors.js';
import { parseBody } from '../lib/validate.js';
import { createTerminalsRepo } from '../persistence/terminals-repo.js';
import { requireAuth } from '../plugins/auth.js';
import { createHostSampler, diskUsage, memoryFigures, networkCounters } from '../system/host-stats.js';
import { VERSION } from '../version.js';

const IdParamsSchema = z.object({ id: z.uuid('must be a UUID') });

const adminRoutes: FastifyPluginAsync = async (app) => {
  const { auth, audit } = app;

  function adminAudit(
    request: FastifyRequest,
    type: string,
    target: string,
    detail?: Record<string, unknown>,
  ) {
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

  /** Admin views of users, with the failed sign-ins and lock of each one's name. */
  async function toAdminUsers(rows: UserRow[], online: Set<string>): Promise<AdminUser[]> {
    const keys = rows.map((r) => nameKey(r.username));
    const failures = new Map((await auth.failures.findMany(keys)).map((f) => [f.nameKey, f]));
    const at = new Date();
    return rows.map((row, i) => {
      const f = failures.get(keys[i]!);
      return {
        ...toApiUser(row),
        disabledAt: row.disabledAt?.toISOString() ?? null,
        lockedUntil: f?.lockedUntil && f.lockedUntil > at ? f.lockedUntil.toISOString() : null,
        failedLoginCount: f?.failures ?? 0,
        online: online.has(row.id),
      };
    });
  }

  async function toAdminUser(row: UserRow, online: Set<string>): Promise<AdminUser> {
    return (await toAdminUsers([row], online))[0]!;
  }

  async function onlineUserIds(): Promise<Set<string>> {
    return new Set((await auth.sessions.listLive()).map((s) => s.userId));
  }

  async function loadUser(request: FastifyRequest): Promise<UserRow> {
    const { id } = parseBody(IdParamsSchema, request.params);
    const row = await auth.users.findById(id);
    if (!row) throw new NotFoundError('User');
    return row;
  }

  // ── users ──
  app.register(async (users) => {
    users.addHook('preHandler', app.requirePermission(Permission.USERS_MANAGE));

    users.get('/api/admin/users', async (): Promise<AdminUserList> => {
      const online = await onlineUserIds();
      const rows = await auth.users.list();
      return { users: await toAdminUsers(rows, online) };
    });

    users.post('/api/admin/users', async (request, reply) => {
      const body = parseBody(CreateUserRequestSchema, request.body);
      const row = await auth.createUser(body);
      await adminAudit(request, 'admin.user_created', row.username, { role: row.role });
      return reply.status(201).send({ user: await toAdminUser(row, new Set()) });
    });

    users.patch('/api/admin/users/:id', async (request) => {
      const target = await loadUser(request);
      const body = parseBody(UpdateUserRequestSchema, request.body);
      const ctx = requireAuth(request);
      if (target.id === ctx.userId && (body.disabled === true || (body.role && body.role !== 'admin'))) {
        // An admin locking themselves out is almost always a mistake and can strand the system.
        throw new AppError(
          409,
          ErrorCode.CONFLICT,
          'You cannot disable yourself or remove your own admin role',
        );
      }
      let row = target;
      if (body.role && body.role !== target.role) {
        row = (await auth.users.update(target.id, { role: body.role })) ?? row;
        await adminAudit(request, 'admin.role_changed', target.username, {
          from: target.role,
          to: body.role,
        });
      }
      if (body.disabled !== undefined && body.disabled !== Boolean(target.disabledAt)) {
        row = await auth.setDisabled(target.id, body.disabled);
        await adminAudit(
          request,
          body.disabled ? 'admin.user_disabled' : 'admin.user_enabled',
          target.username,
        );
      }
      if (body.unlock) {
        await auth.failures.clear(nameKey(target.username));
        await adminAudit(request, 'admin.user_unlocked', target.username);
      }
      return { user: await toAdminUser(row, await onlineUserIds()) };
    });

    users.post('/api/admin/users/:id/password', async (request, reply) => {
      const target = await loadUser(request);
      const body = parseBody(ResetPasswordRequestSchema, request.body);
      await auth.resetPassword(target.id, body.password);
      await adminAudit(request, 'admin.password_reset', target.username);
      return reply.status(204).send();
    });
  });

  // ── sessions ──
  app.register(async (sessions) => {
    sessions.addHook('preHandler', app.requirePermission(Permission.SESSIONS_MANAGE));

    sessions.get('/api/admin/sessions', async (request): Promise<AdminSessionList> => {
      const ctx = requireAuth(request);
      const rows = await auth.sessions.listLive();
      return {
        sessions: rows.map((s) => ({
          id: s.id,
          userId: s.userId,
          username: s.username,
          ip: s.ip,
          userAgent: s.userAgent,
          createdAt: s.createdAt.toISOString(),
          lastActivityAt: s.lastActivityAt.toISOString(),
          expiresAt: s.expiresAt.toISOString(),
          current: s.id === ctx.sessionId,
        })),
      };
    });

    sessions.delete('/api/admin/sessions/:id', async (request, reply) => {
      const { id } = parseBody(IdParamsSchema, request.params);
      const session = await auth.revokeSession(id);
      await adminAudit(request, 'admin.session_revoked', session.userId, { sessionId: id });
      return reply.status(204).send();
    });
  });

  // ── terminals (every user's) ──
  app.register(async (scoped) => {
    scoped.addHook('preHandler', app.requirePermission(Permission.TERMINALS_MANAGE));
    const repo = createTerminalsRepo(app.database.db);

    scoped.get('/api/admin/terminals', async (request): Promise<AdminTerminalList> => {
      const q = parseBody(AdminTerminalQuerySchema, request.query);
      const rows = await repo.listAll({ liveOnly: q.status === 'live', userId: q.userId, limit: q.limit });
      return {
        terminals: rows.map((row) => ({
          ...app.terminals.summary(row),
          userId: row.userId,
          ownerUsername: row.ownerUsername,
          nodeId: row.nodeId,
          local: row.nodeId === app.config.nodeId,
        })),
      };
    });

    scoped.delete('/api/admin/terminals/:id', async (request, reply) => {
      const { id } = parseBody(IdParamsSchema, request.params);
      const row = await repo.findById(id);
      if (!row) throw new NotFoundError('Terminal');
      const live = app.terminals.get(row.id, row.userId);
      const ctx = requireAuth(request);
      if (!live || live.ended) {
        if (
          live ||
          (row.status !== 'running' && row.status !== 'connecting') ||
          row.nodeId === app.config.nodeId
        )
          return reply.status(204).send(); // already ended: ending is idempotent
        // Held by another node: that node ends it (peer link).
        await app.terminals.terminateOnOwner(row, ctx);
      } else {
        await app.terminals.terminate(live, ctx, 'Ended by an administrator.');
      }
      await adminAudit(request, 'admin.terminal_ended', `${row.sshUsername}@${row.host}:${row.port}`, {
        terminalId: row.id,
        ownerId: row.userId,
      });
      return reply.status(204).send();
    });
  });

  // ── system status ──
  app.register(async (scoped) => {
    scoped.addHook('preHandler', app.requirePermission(Permission.SYSTEM_MONITOR));
    const host = createHostSampler();
    scoped.addHook('onClose', async () => host.stop());
    const startedAt = new Date(Date.now() - process.uptime() * 1000);
    const { config } = app;

    async function database(): Promise<AdminStatus['database']> {
      try {
        const latencyMs = await Promise.race([
          app.database.ping(),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 2_000).unref()),
        ]);
        return { driver: app.database.driver, status: 'ok', latencyMs: Math.round(latencyMs * 100) / 100 };
      } catch {
        return { driver: app.database.driver, status: 'down' };
      }
    }

    async function userFigures(): Promise<AdminStatus['users']> {
      try {
        const [live, total] = await Promise.all([auth.sessions.listLive(), auth.users.count()]);
        return { online: new Set(live.map((s) => s.userId)).size, liveSessions: live.length, total };
      } catch {
        return null;
      }
    }

    scoped.get('/api/admin/status', async (): Promise<AdminStatus> => {
      const [db, users, disk, network] = await Promise.all([
        database(),
        userFigures(),
        diskUsage(config.dataDir),
        networkCounters(),
      ]);
      await app.terminals.manager.fresh();
      await app.membership.refresh().catch(() => {});
      const all = app.terminals.manager.list();
      const running = all.filter((t) => !t.ended);
      const cpus = os.cpus();
      const load = os.loadavg();
      return {
        version: VERSION,
        nodeId: config.nodeId,
        nodes: app.membership.nodes().map((n) => ({
          ...n,
          local: n.id === config.nodeId,
          startedAt: n.startedAt.toISOString(),
          heartbeatAt: n.heartbeatAt.toISOString(),
        })),
        hostname: os.hostname(),
        runtime: { node: process.version, platform: process.platform, arch: process.arch, pid: process.pid },
        startedAt: startedAt.toISOString(),
        uptimeSeconds: Math.round(process.uptime()),
        systemUptimeSeconds: Math.round(os.uptime()),
        database: db,
        connections: {
          websockets: app.websocketServer.clients.size,
          sshSessions: running.length,
          limits: {
            maxConnections: config.limits.maxConnections,
            maxTerminalsPerUser: config.limits.maxTerminalsPerUser,
            messageSizeLimit: config.limits.messageSizeLimit,
            terminalBufferBytes: config.limits.terminalBufferBytes,
            terminalDetachedTimeoutMs: config.limits.terminalDetachedTimeoutMs,
            heartbeatIntervalMs: config.limits.heartbeatIntervalMs,
            heartbeatTimeoutMs: config.limits.heartbeatTimeoutMs,
          },
        },
        terminals: {
          running: running.length,
          detached: running.filter((t) => t.viewerCount === 0).length,
          ended: all.length - running.length,
          viewers: running.reduce((n, t) => n + t.viewerCount, 0),
          ringBytes: all.reduce((n, t) => n + t.memoryUsage().ringBytes, 0),
        },
        users,
        memory: memoryFigures(),
        cpu: {
          cores: cpus.length,
          model: cpus[0]?.model.trim() ?? 'unknown',
          ...host.cpu(),
          loadAverage: [load[0] ?? 0, load[1] ?? 0, load[2] ?? 0],
        },
        disk,
        network,
      };
    });
  });

  // ── audit ──
  app.register(async (auditRoutes) => {
    auditRoutes.addHook('preHandler', app.requirePermission(Permission.AUDIT_READ));

    auditRoutes.get('/api/admin/audit', async (request): Promise<AuditPage> => {
      const q = parseBody(AuditQuerySchema, request.query);
      const beforeId = q.cursor !== undefined ? Number(q.cursor) : undefined;
      if (beforeId !== undefined && !Number.isSafeInteger(beforeId)) {
        throw new AppError(400, ErrorCode.VALIDATION_FAILED, 'Invalid cursor', {
          fields: { cursor: 'is invalid' },
        });
      }
      const rows = await audit.query({
        userId: q.userId,
        type: q.type,
        from: q.from ? new Date(q.from) : undefined,
        to: q.to ? new Date(q.to) : undefined,
        beforeId,
        limit: q.limit + 1,
      });
      const page = rows.slice(0, q.limit);
      return {
        events: page.map((e) => ({
          id: String(e.id),
          at: e.at.toISOString(),
          userId: e.userId,
          username: e.username,
          sessionId: e.sessionId,
          ip: e.ip,
          type: e.type,
          target: e.target,
          outcome: e.outcome,
          detail: e.detail ?? null,
        })),
        nextCursor: rows.length > q.limit ? String(page[page.length - 1]!.id) : null,
      };
    });
  });
};

export default adminRoutes;
