import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { ErrorCode, type Permission, ROLE_PERMISSIONS, type User } from '@tether/protocol';
import type { AuditRepo } from '../audit/audit-repo.js';
import type { Config } from '../config.js';
import type { Database } from '../db/index.js';
import type { SessionRow, UserRow } from '../db/schema/index.js';
import { AppError, NotFoundError, UnauthorizedError } from '../errors.js';
import { fingerprintMatches, hashFingerprint, newFingerprint } from './fingerprint.js';
import { createLoginFailuresRepo, nameKey } from './login-failures-repo.js';
import { burnVerify, hashPassword, needsRehash, verifyPassword } from './passwords.js';
import { createSessionsRepo, type RevokeReason } from './sessions-repo.js';
import { createUsersRepo, type Role } from './users-repo.js';

export interface TokenClaims {
  sub: string;
  sid: string;
  role: Role;
  /** sha256 of the fingerprint cookie (OWASP token sidejacking defence). */
  fph: string;
  jti: string;
}

export interface JwtFunctions {
  sign(claims: TokenClaims): string;
  /** Throws on a bad signature, wrong algorithm or expiry. */
  verify(token: string): TokenClaims & { exp: number };
}

/** Who is calling: resolved from a verified token and a live session row on every request. */
export interface AuthContext {
  userId: string;
  username: string;
  role: Role;
  sessionId: string;
  permissions: ReadonlySet<string>;
  session: { idleExpiresAt: Date; absoluteExpiresAt: Date };
}

export interface RequestMeta {
  ip: string | null;
  userAgent: string | null;
}

export interface IssuedToken {
  token: string;
  expiresAt: Date;
  user: User;
  /** Raw fingerprint for the HttpOnly cookie; only its hash is stored or put in the token. */
  fingerprint: string;
  sessionId: string;
}

export interface SessionEndedEvent {
  sessionId: string;
  userId: string;
  reason: RevokeReason | 'deleted';
  /** The node it happened on, when another node's (plugins/cluster.ts); absent for this node's. */
  origin?: string;
}

export interface UserDisabledEvent {
  userId: string;
  /** As in SessionEndedEvent. */
  origin?: string;
}

export interface AuthEvents {
  on(event: 'session-ended', listener: (e: SessionEndedEvent) => void): this;
  on(event: 'user-disabled', listener: (e: UserDisabledEvent) => void): this;
  off(event: string, listener: (...args: never[]) => void): this;
  emit(event: 'session-ended', e: SessionEndedEvent): boolean;
  emit(event: 'user-disabled', e: UserDisabledEvent): boolean;
}

export function toApiUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    role: row.role,
    permissions: [...ROLE_PERMISSIONS[row.role]],
    createdAt: row.createdAt.toISOString(),
    passwordChangedAt: row.passwordChangedAt?.toISOString() ?? null,
  };
}

const REVOKE_CODES: Record<string, { code: ErrorCode; message: string }> = {
  replaced: { code: ErrorCode.SESSION_REPLACED, message: 'You signed in somewhere else' },
  expired: { code: ErrorCode.SESSION_EXPIRED, message: 'Your session expired' },
  idle: { code: ErrorCode.SESSION_IDLE_TIMEOUT, message: 'Your session expired after inactivity' },
  disabled: { code: ErrorCode.ACCOUNT_DISABLED, message: 'Your account was disabled' },
};

/** The 401 a client gets for a session that ended for `reason`. */
export function sessionEndedError(reason: string): UnauthorizedError {
  const known = REVOKE_CODES[reason];
  return known
    ? new UnauthorizedError(known.code, known.message)
    : new UnauthorizedError(ErrorCode.SESSION_REVOKED, 'Your session was ended');
}

/** Failed sign-ins of a name are forgotten after a day without another (known and unknown alike). */
const FAILURES_MEMORY_MS = 24 * 3_600_000;

const INVALID_CREDENTIALS = () =>
  new AppError(401, ErrorCode.INVALID_CREDENTIALS, 'Invalid username or password');

/**
 * Accounts, passwords and web sessions. Owns the one-live-session rule: a login revokes every
 * other live session of the user inside the transaction that creates the new one, serialised by
 * a row lock on the user, with the partial unique index as the last line of defence.
 */
export function createAuthService(deps: {
  database: Pick<Database, 'db'>;
  config: Pick<Config, 'session' | 'login' | 'jwt'>;
  jwt: JwtFunctions;
  audit: Pick<AuditRepo, 'record' | 'recordMany' | 'notify'>;
  now?: () => Date;
}) {
  const { database, config, jwt, audit } = deps;
  const now = deps.now ?? (() => new Date());
  const users = createUsersRepo(database.db);
  const sessions = createSessionsRepo(database.db);
  const failures = createLoginFailuresRepo(database.db);
  const events = new EventEmitter() as EventEmitter & AuthEvents;
  events.setMaxListeners(0);

  // Sliding the idle window costs a write at most once per interval, not on every request.
  const touchIntervalMs = Math.min(60_000, Math.max(1_000, Math.floor(config.session.idleTimeoutMs / 10)));

  function lockoutError(until: Date): AppError {
    const retryAfter = Math.max(1, Math.ceil((until.getTime() - now().getTime()) / 1000));
    return new AppError(
      423,
      ErrorCode.ACCOUNT_LOCKED,
      'Too many failed sign-in attempts; the account is locked for a while',
      {
        retryAfter,
      },
    );
  }

  function mint(user: UserRow, sessionId: string, fph: string) {
    const jti = randomUUID();
    const token = jwt.sign({ sub: user.id, sid: sessionId, role: user.role, fph, jti });
    return { token, jti, expiresAt: new Date(now().getTime() + config.jwt.expiresInMs) };
  }

  function emitEnded(userId: string, ids: string[], reason: RevokeReason) {
    for (const sessionId of ids) events.emit('session-ended', { sessionId, userId, reason });
  }

  async function login(username: string, password: string, meta: RequestMeta): Promise<IssuedToken> {
    // The same queries in the same order for every name, known or not: the answer (401, 423),
    // its timing and what any node remembers must not tell which accounts exist.
    const key = nameKey(username);
    const found = await users.findForLogin(username, key);
    const user = found.user;
    const lockedUntil = found.lockedUntil && found.lockedUntil > now() ? found.lockedUntil : null;
    const who = user
      ? { userId: user.id, username: user.username, ip: meta.ip }
      : { username: username.toLowerCase().slice(0, 64), ip: meta.ip };
    if (lockedUntil) {
      await audit.record({ type: 'auth.login', outcome: 'failure', ...who, detail: { reason: 'locked' } });
      throw lockoutError(lockedUntil);
    }

    let valid = false;
    // An unknown name pays for a full verification too (against a dummy hash).
    if (user) valid = await verifyPassword(user.passwordHash, password);
    else await burnVerify(password);
    if (!user || !valid) {
      const r = await failures.recordFailure(key, config.login.maxFailures, config.login.lockoutMs, now());
      await audit.record({
        type: 'auth.login',
        outcome: 'failure',
        ...who,
        // The audit log (admins only) may say which; metrics and answers never do.
        detail: { reason: user ? 'bad_password' : 'unknown_user', failures: r.failures },
      });
      if (r.lockedUntil) {
        // The lock is time-bounded and the counter restarts, so an attacker can delay a user
        // for at most LOGIN_LOCKOUT after their last burst, never lock them out for good.
        await audit.record({
          type: 'auth.lockout',
          outcome: 'success',
          ...who,
          detail: { until: r.lockedUntil.toISOString() },
        });
      }
      throw INVALID_CREDENTIALS();
    }

    if (user.disabledAt) {
      await audit.record({
        type: 'auth.login',
        outcome: 'failure',
        userId: user.id,
        username: user.username,
        ip: meta.ip,
        detail: { reason: 'disabled' },
      });
      throw new AppError(403, ErrorCode.ACCOUNT_DISABLED, 'This account is disabled');
    }

    const fingerprint = newFingerprint();
    const fph = hashFingerprint(fingerprint);
    const rehash = needsRehash(user.passwordHash) ? await hashPassword(password) : null;
    const at = now();
    // The session id is chosen here so the token can be minted before the insert and its jti
    // stored in the same statement: one round trip fewer per login.
    const sessionId = randomUUID();
    const minted = mint(user, sessionId, fph);

    const revoked = await sessions.replaceLive({
      userId: user.id,
      nameKey: key,
      passwordHash: rehash,
      audit: { username: user.username, ip: meta.ip },
      session: {
        id: sessionId,
        tokenId: minted.jti,
        fingerprintHash: fph,
        ip: meta.ip,
        userAgent: meta.userAgent?.slice(0, 512) ?? null,
        createdAt: at,
        lastActivityAt: at,
        expiresAt: new Date(at.getTime() + config.session.absoluteTimeoutMs),
      },
    });
    if (revoked === null) throw INVALID_CREDENTIALS(); // deleted while signing in
    const session = { id: sessionId };

    emitEnded(user.id, revoked, 'replaced');
    // The rows were written by replaceLive's statement; the listeners (metrics) hear of them here.
    audit.notify([
      { type: 'auth.login', outcome: 'success', ...who, sessionId: session.id },
      ...revoked.map((id) => ({
        type: 'session.revoked',
        outcome: 'success' as const,
        ...who,
        sessionId: id,
        detail: { reason: 'replaced' },
      })),
    ]);
    return {
      token: minted.token,
      expiresAt: minted.expiresAt,
      user: toApiUser(user),
      fingerprint,
      sessionId: session.id,
    };
  }

  /** Verifies a bearer token, its fingerprint cookie and its session row. */
  async function authenticate(
    token: string | undefined,
    fingerprintCookie: string | undefined,
  ): Promise<AuthContext> {
    if (!token) throw new UnauthorizedError();
    let claims: TokenClaims & { exp: number };
    try {
      claims = jwt.verify(token);
    } catch (err) {
      const expired = (err as { code?: string }).code === 'FAST_JWT_EXPIRED';
      throw expired
        ? new UnauthorizedError(ErrorCode.TOKEN_EXPIRED, 'Your access token expired')
        : new UnauthorizedError(ErrorCode.TOKEN_INVALID, 'Invalid access token');
    }
    if (!fingerprintMatches(claims.fph, fingerprintCookie)) {
      throw new UnauthorizedError(
        ErrorCode.FINGERPRINT_MISMATCH,
        'This token was not issued to this browser',
      );
    }
    return sessionContext(claims.sid, claims.sub, claims.jti);
  }

  /**
   * The context of a live web session of `userId`: what a verified token grants, and what a peer
   * node's ticket acts for (cluster/peer-link.ts). With `tokenId`, only that token of the session
   * is accepted (a refresh retires the one it replaced).
   */
  async function sessionContext(sessionId: string, userId: string, tokenId?: string): Promise<AuthContext> {
    const session = await sessions.findById(sessionId);
    if (!session || session.userId !== userId) throw sessionEndedError('deleted');
    if (session.revokedAt) throw sessionEndedError(session.revokeReason ?? 'logout');
    // Only the newest token of a session is valid: a refresh retires the one it replaced, so a
    // copied token stops working at the owner's next refresh.
    if (tokenId !== undefined && tokenId !== session.tokenId) {
      throw new UnauthorizedError(
        ErrorCode.TOKEN_SUPERSEDED,
        'This access token was replaced by a newer one',
      );
    }
    const at = now();
    if (session.expiresAt <= at) {
      await endSession(session, 'expired');
      throw sessionEndedError('expired');
    }
    const idleExpiresAt = new Date(session.lastActivityAt.getTime() + config.session.idleTimeoutMs);
    if (idleExpiresAt <= at) {
      await endSession(session, 'idle');
      throw sessionEndedError('idle');
    }
    const user = await users.findById(session.userId);
    if (!user) throw sessionEndedError('deleted');
    if (user.disabledAt) throw sessionEndedError('disabled');
    return {
      userId: user.id,
      username: user.username,
      role: user.role,
      sessionId: session.id,
      permissions: new Set(ROLE_PERMISSIONS[user.role]),
      session: { idleExpiresAt, absoluteExpiresAt: session.expiresAt },
    };
  }

  /** Records activity (a request, terminal input); slides the idle window, rate-limited. */
  async function touch(ctx: AuthContext): Promise<void> {
    const at = now();
    const last = ctx.session.idleExpiresAt.getTime() - config.session.idleTimeoutMs;
    if (at.getTime() - last < touchIntervalMs) return;
    // Moved forward before the write: the frames of a paste arriving while it is in flight must
    // not each start one of their own.
    const previous = ctx.session.idleExpiresAt;
    ctx.session.idleExpiresAt = new Date(at.getTime() + config.session.idleTimeoutMs);
    try {
      await sessions.touch(ctx.sessionId, at);
    } catch (err) {
      ctx.session.idleExpiresAt = previous;
      throw err;
    }
  }

  async function endSession(
    session: Pick<SessionRow, 'id' | 'userId'>,
    reason: RevokeReason,
  ): Promise<boolean> {
    const row = await sessions.revoke(session.id, reason);
    if (row) {
      emitEnded(session.userId, [session.id], reason);
      await audit.record({
        type: 'session.revoked',
        outcome: 'success',
        userId: session.userId,
        sessionId: session.id,
        detail: { reason },
      });
    }
    return Boolean(row);
  }

  async function refresh(
    ctx: AuthContext,
    fingerprintCookie: string,
  ): Promise<Omit<IssuedToken, 'fingerprint'>> {
    const user = await users.findById(ctx.userId);
    if (!user) throw sessionEndedError('deleted');
    const minted = mint(user, ctx.sessionId, hashFingerprint(fingerprintCookie));
    await sessions.rotateToken(ctx.sessionId, minted.jti, now());
    return {
      token: minted.token,
      expiresAt: minted.expiresAt,
      user: toApiUser(user),
      sessionId: ctx.sessionId,
    };
  }

  async function logout(ctx: AuthContext, meta: RequestMeta): Promise<void> {
    await sessions.revoke(ctx.sessionId, 'logout');
    emitEnded(ctx.userId, [ctx.sessionId], 'logout');
    await audit.record({
      type: 'auth.logout',
      outcome: 'success',
      userId: ctx.userId,
      username: ctx.username,
      sessionId: ctx.sessionId,
      ip: meta.ip,
    });
  }

  async function changePassword(
    ctx: AuthContext,
    current: string,
    next: string,
    meta: RequestMeta,
  ): Promise<void> {
    const user = await users.findById(ctx.userId);
    if (!user) throw sessionEndedError('deleted');
    if (!(await verifyPassword(user.passwordHash, current))) {
      await audit.record({
        type: 'auth.password_change',
        outcome: 'failure',
        userId: user.id,
        username: user.username,
        sessionId: ctx.sessionId,
        ip: meta.ip,
      });
      throw new AppError(400, ErrorCode.INVALID_CREDENTIALS, 'The current password is wrong', {
        fields: { currentPassword: 'is wrong' },
      });
    }
    await users.update(user.id, { passwordHash: await hashPassword(next), passwordChangedAt: now() });
    // Every other device loses its session: a password change is how people evict an intruder.
    const revoked = await sessions.revokeLiveForUser(user.id, 'password_changed', ctx.sessionId);
    emitEnded(user.id, revoked, 'password_changed');
    await audit.record({
      type: 'auth.password_change',
      outcome: 'success',
      userId: user.id,
      username: user.username,
      sessionId: ctx.sessionId,
      ip: meta.ip,
      detail: { sessionsEnded: revoked.length },
    });
  }

  async function createUser(input: { username: string; password: string; role: Role }): Promise<UserRow> {
    if (await users.findByUsername(input.username)) {
      throw new AppError(409, ErrorCode.USERNAME_TAKEN, 'That username is taken', {
        fields: { username: 'is taken' },
      });
    }
    try {
      return await users.create({
        username: input.username,
        passwordHash: await hashPassword(input.password),
        role: input.role,
      });
    } catch (err) {
      // Lost a race with a concurrent create of the same name: the unique index decided.
      if (
        (err as { code?: string }).code === '23505' ||
        String((err as Error).message).includes('users_username_lower_idx')
      ) {
        throw new AppError(409, ErrorCode.USERNAME_TAKEN, 'That username is taken', {
          fields: { username: 'is taken' },
        });
      }
      throw err;
    }
  }

  async function setDisabled(userId: string, disabled: boolean): Promise<UserRow> {
    const row = await users.update(userId, { disabledAt: disabled ? now() : null });
    if (!row) throw new NotFoundError('User');
    if (disabled) {
      const revoked = await sessions.revokeLiveForUser(userId, 'disabled');
      emitEnded(userId, revoked, 'disabled');
      events.emit('user-disabled', { userId });
    }
    return row;
  }

  async function resetPassword(userId: string, password: string): Promise<void> {
    const row = await users.update(userId, {
      passwordHash: await hashPassword(password),
      passwordChangedAt: now(),
    });
    if (!row) throw new NotFoundError('User');
    await failures.clear(nameKey(row.username));
    const revoked = await sessions.revokeLiveForUser(userId, 'password_changed');
    emitEnded(userId, revoked, 'password_changed');
  }

  async function revokeSession(sessionId: string): Promise<SessionRow> {
    const session = await sessions.findById(sessionId);
    if (!session || session.revokedAt) throw new NotFoundError('Session');
    await endSession(session, 'admin');
    return session;
  }

  /** Periodic housekeeping of session rows. */
  async function sweepSessions(): Promise<{ expired: number; deleted: number; failuresForgotten: number }> {
    const at = now().getTime();
    const r = await sessions.sweep(
      new Date(at - config.session.idleTimeoutMs),
      new Date(at - (config.session.retentionMs ?? 0)),
    );
    const failuresForgotten = await failures.sweep(now(), new Date(at - FAILURES_MEMORY_MS));
    return { ...r, failuresForgotten };
  }

  return {
    events,
    users,
    sessions,
    failures,
    login,
    authenticate,
    sessionContext,
    touch,
    refresh,
    logout,
    changePassword,
    createUser,
    setDisabled,
    resetPassword,
    revokeSession,
    sweepSessions,
    hasPermission: (ctx: AuthContext, p: Permission) => ctx.permissions.has(p),
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
