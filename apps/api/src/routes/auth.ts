import {
  type AuthStatus,
  ChangePasswordRequestSchema,
  ErrorCode,
  LoginRequestSchema,
  type LoginResponse,
  RegisterRequestSchema,
} from '@tether/protocol';
import type { FastifyPluginAsync } from 'fastify';
import { toApiUser } from '../auth/auth-service.js';
import { FINGERPRINT_COOKIE } from '../auth/fingerprint.js';
import { AppError, UnauthorizedError } from '../errors.js';
import { parseBody } from '../lib/validate.js';
import { bearerToken, requestMeta, requireAuth } from '../plugins/auth.js';

const authRoutes: FastifyPluginAsync = async (app) => {
  const { auth, config } = app;
  const loginRateLimit = { max: config.login.rateLimit, timeWindow: config.login.rateWindowMs };

  app.post('/api/auth/login', { config: { rateLimit: loginRateLimit } }, async (request, reply) => {
    const body = parseBody(LoginRequestSchema, request.body);
    const issued = await auth.login(body.username, body.password, requestMeta(request));
    app.setFingerprintCookie(reply, request, issued.fingerprint);
    reply.header('cache-control', 'no-store');
    const response: LoginResponse = {
      token: issued.token,
      expiresAt: issued.expiresAt.toISOString(),
      user: issued.user,
    };
    return response;
  });

  app.post('/api/auth/register', { config: { rateLimit: loginRateLimit } }, async (request, reply) => {
    if (!config.allowRegistration) {
      throw new AppError(
        403,
        ErrorCode.REGISTRATION_DISABLED,
        'Self-registration is disabled on this server',
      );
    }
    const body = parseBody(RegisterRequestSchema, request.body);
    const user = await auth.createUser({ username: body.username, password: body.password, role: 'user' });
    await app.audit.record({
      type: 'user.registered',
      outcome: 'success',
      userId: user.id,
      username: user.username,
      ip: request.ip,
    });
    return reply.status(201).send({ user: toApiUser(user) });
  });

  app.post('/api/auth/logout', { preHandler: app.authenticate }, async (request, reply) => {
    await auth.logout(requireAuth(request), requestMeta(request));
    app.clearFingerprintCookie(reply);
    return reply.status(204).send();
  });

  app.post('/api/auth/refresh', { preHandler: app.authenticate }, async (request, reply) => {
    const cookie = request.cookies[FINGERPRINT_COOKIE];
    if (!cookie) throw new UnauthorizedError(ErrorCode.FINGERPRINT_MISMATCH, 'Missing fingerprint cookie');
    const issued = await auth.refresh(requireAuth(request), cookie);
    reply.header('cache-control', 'no-store');
    const response: LoginResponse = {
      token: issued.token,
      expiresAt: issued.expiresAt.toISOString(),
      user: issued.user,
    };
    return response;
  });

  // Never an error: lets a client ask "am I signed in?" without tripping its 401 handling.
  app.get('/api/auth/status', async (request): Promise<AuthStatus> => {
    try {
      const ctx = await auth.authenticate(bearerToken(request), request.cookies[FINGERPRINT_COOKIE]);
      const user = await auth.users.findById(ctx.userId);
      if (!user) return { authenticated: false };
      return {
        authenticated: true,
        user: toApiUser(user),
        session: {
          id: ctx.sessionId,
          idleExpiresAt: ctx.session.idleExpiresAt.toISOString(),
          absoluteExpiresAt: ctx.session.absoluteExpiresAt.toISOString(),
        },
      };
    } catch (err) {
      if (err instanceof AppError) return { authenticated: false };
      throw err;
    }
  });

  app.get('/api/auth/me', { preHandler: app.authenticate }, async (request) => {
    const user = await auth.users.findById(requireAuth(request).userId);
    if (!user) throw new UnauthorizedError();
    return { user: toApiUser(user) };
  });

  app.post(
    '/api/auth/password',
    { preHandler: app.authenticate, config: { rateLimit: loginRateLimit } },
    async (request, reply) => {
      const body = parseBody(ChangePasswordRequestSchema, request.body);
      await auth.changePassword(
        requireAuth(request),
        body.currentPassword,
        body.newPassword,
        requestMeta(request),
      );
      return reply.status(204).send();
    },
  );
};

export default authRoutes;
