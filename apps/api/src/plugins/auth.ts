import cookie from '@fastify/cookie';
import jwt from '@fastify/jwt';
import type { Permission } from '@tether/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { type AuditRepo, createAuditRepo } from '../audit/audit-repo.js';
import { startAuditRetention } from '../audit/retention.js';
import {
  type AuthContext,
  type AuthService,
  createAuthService,
  type RequestMeta,
  type TokenClaims,
} from '../auth/auth-service.js';
import { FINGERPRINT_COOKIE } from '../auth/fingerprint.js';
import { ForbiddenError, UnauthorizedError } from '../errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    auth: AuthService;
    audit: AuditRepo;
    /** preHandler: requires a valid token + fingerprint + live session; sets `request.auth`. */
    authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void>;
    /** preHandler factory: authenticate, then require a permission. */
    requirePermission(
      permission: Permission,
    ): (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
    /** Sets the HttpOnly fingerprint cookie that binds tokens to this browser. */
    setFingerprintCookie(reply: FastifyReply, request: FastifyRequest, value: string): void;
    clearFingerprintCookie(reply: FastifyReply): void;
  }
  interface FastifyRequest {
    auth: AuthContext | null;
  }
}

/** The `iss` and `aud` of every access token; verification accepts nothing else. */
export const JWT_ISSUER = 'tether';
export const JWT_AUDIENCE = 'tether-api';

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const [scheme, value] = header.split(' ');
  return scheme?.toLowerCase() === 'bearer' && value ? value : undefined;
}

export function requestMeta(request: FastifyRequest): RequestMeta {
  const ua = request.headers['user-agent'];
  return { ip: request.ip ?? null, userAgent: typeof ua === 'string' ? ua : null };
}

export default fp(
  async (app) => {
    const { config } = app;
    await app.register(cookie);
    await app.register(jwt, {
      secret: config.jwt.secret,
      // Algorithm, issuer and audience pinned, expiry required: a token signed with this key for
      // anything else (another tool sharing the secret, a hand-made token without `exp`) is refused.
      sign: {
        algorithm: 'HS256',
        expiresIn: Math.floor(config.jwt.expiresInMs / 1000),
        iss: JWT_ISSUER,
        aud: JWT_AUDIENCE,
      },
      verify: {
        algorithms: ['HS256'],
        allowedIss: JWT_ISSUER,
        allowedAud: JWT_AUDIENCE,
        requiredClaims: ['exp', 'iat', 'iss', 'aud', 'sub', 'sid', 'jti', 'fph'],
      },
    });

    const audit = createAuditRepo(app.database.db);
    const auth = createAuthService({
      database: app.database,
      config,
      audit,
      jwt: {
        sign: (claims) => app.jwt.sign(claims),
        verify: (token) => app.jwt.verify<TokenClaims & { exp: number }>(token),
      },
    });
    app.decorate('audit', audit);
    app.decorate('auth', auth);
    app.decorateRequest('auth', null);

    const cookiePath = `${config.basePath}/api`;
    app.decorate('setFingerprintCookie', (reply: FastifyReply, request: FastifyRequest, value: string) => {
      reply.setCookie(FINGERPRINT_COOKIE, value, {
        httpOnly: true,
        sameSite: 'strict',
        secure: request.protocol === 'https',
        path: cookiePath,
        maxAge: Math.floor(config.session.absoluteTimeoutMs / 1000),
      });
    });
    app.decorate('clearFingerprintCookie', (reply: FastifyReply) => {
      reply.clearCookie(FINGERPRINT_COOKIE, { path: cookiePath });
    });

    async function authenticate(request: FastifyRequest): Promise<void> {
      const ctx = await auth.authenticate(bearerToken(request), request.cookies[FINGERPRINT_COOKIE]);
      await auth.touch(ctx);
      request.auth = ctx;
    }
    app.decorate('authenticate', authenticate);
    app.decorate('requirePermission', (permission: Permission) => async (request: FastifyRequest) => {
      await authenticate(request);
      if (!request.auth?.permissions.has(permission)) throw new ForbiddenError();
    });

    // Sweep expired/idle session rows so the one-live-session index reflects reality and old
    // rows do not pile up. unref(): housekeeping never keeps the process alive.
    const sweep = setInterval(() => {
      auth
        .sweepSessions()
        .then((r) => {
          if (r.expired || r.deleted) app.log.info(r, 'session sweep');
        })
        .catch((err) => app.log.warn({ err }, 'session sweep failed'));
    }, 60_000);
    sweep.unref();
    app.addHook('onClose', async () => clearInterval(sweep));

    // Started once the app is ready (not while plugins load), stopped before the database closes.
    let retention: ReturnType<typeof startAuditRetention> | undefined;
    app.addHook('onReady', async () => {
      retention = startAuditRetention({
        audit,
        retentionDays: config.auditRetentionDays,
        log: app.log.child({ component: 'audit' }),
      });
    });
    app.addHook('preClose', async () => retention?.stop());
  },
  { name: 'auth', dependencies: ['config', 'db'] },
);

export function requireAuth(request: FastifyRequest): AuthContext {
  if (!request.auth) throw new UnauthorizedError();
  return request.auth;
}
