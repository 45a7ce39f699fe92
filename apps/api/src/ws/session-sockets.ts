import { CloseCode } from '@tether/protocol';
import type { FastifyBaseLogger } from 'fastify';
import type { AuthService, SessionEndedEvent } from '../auth/auth-service.js';

export interface SessionBoundSocket {
  readonly sessionId: string;
  readonly userId: string;
  /** Tells the client why, then closes. Idempotent. */
  end(code: number, reason: string, notice?: { type: 'replaced'; reason: string }): void;
}

/** Which close code tells a client its web session ended for `reason`. */
export function closeCodeForSessionEnd(reason: SessionEndedEvent['reason']): { code: number; text: string } {
  switch (reason) {
    case 'replaced':
      return { code: CloseCode.SIGNED_IN_ELSEWHERE, text: 'signed in elsewhere' };
    case 'expired':
    case 'idle':
      return { code: CloseCode.SESSION_EXPIRED, text: 'session expired' };
    case 'disabled':
      return { code: CloseCode.ACCOUNT_DISABLED, text: 'account disabled' };
    default:
      return { code: CloseCode.SESSION_REVOKED, text: 'session ended' };
  }
}

/**
 * Every socket is bound to the web session that authenticated it. When that session ends —
 * logout, a login elsewhere, expiry, an admin, on this node or any other — its sockets close
 * within a second: immediately for events raised on this node, and through a once-a-second
 * check of the session rows for everything else (other nodes, idle/absolute expiry).
 */
export function createSessionSockets(deps: {
  auth: Pick<AuthService, 'events' | 'sessions'>;
  idleTimeoutMs: number;
  log: FastifyBaseLogger;
  sweepIntervalMs?: number;
}) {
  const bySession = new Map<string, Set<SessionBoundSocket>>();
  const perUser = new Map<string, number>();

  const uncount = (s: SessionBoundSocket) => {
    const n = (perUser.get(s.userId) ?? 1) - 1;
    if (n > 0) perUser.set(s.userId, n);
    else perUser.delete(s.userId);
  };

  function endSession(sessionId: string, reason: SessionEndedEvent['reason']) {
    const sockets = bySession.get(sessionId);
    if (!sockets) return;
    bySession.delete(sessionId);
    for (const s of sockets) uncount(s);
    const { code, text } = closeCodeForSessionEnd(reason);
    for (const s of sockets) {
      s.end(
        code,
        text,
        reason === 'replaced' ? { type: 'replaced', reason: 'You signed in somewhere else' } : undefined,
      );
    }
  }

  const onEnded = (e: SessionEndedEvent) => endSession(e.sessionId, e.reason);
  deps.auth.events.on('session-ended', onEnded);

  let sweeping = false;
  const timer = setInterval(async () => {
    if (sweeping || bySession.size === 0) return;
    sweeping = true;
    try {
      const dead = await deps.auth.sessions.findDead(
        [...bySession.keys()],
        new Date(Date.now() - deps.idleTimeoutMs),
      );
      for (const d of dead) endSession(d.id, d.reason);
    } catch (err) {
      // Database unreachable: keep the sockets; the check runs again next second.
      deps.log.warn({ err: (err as Error).message }, 'session liveness check failed');
    } finally {
      sweeping = false;
    }
  }, deps.sweepIntervalMs ?? 1_000);
  timer.unref();

  return {
    add(socket: SessionBoundSocket) {
      const set = bySession.get(socket.sessionId) ?? new Set<SessionBoundSocket>();
      bySession.set(socket.sessionId, set);
      if (set.has(socket)) return;
      set.add(socket);
      perUser.set(socket.userId, (perUser.get(socket.userId) ?? 0) + 1);
    },
    remove(socket: SessionBoundSocket) {
      const set = bySession.get(socket.sessionId);
      if (!set?.delete(socket)) return;
      uncount(socket);
      if (set.size === 0) bySession.delete(socket.sessionId);
    },
    /** Authenticated sockets of one user on this node. */
    countForUser(userId: string): number {
      return perUser.get(userId) ?? 0;
    },
    count(): number {
      let n = 0;
      for (const s of bySession.values()) n += s.size;
      return n;
    },
    /** Ends every socket (shutdown). */
    closeAll(code: number, reason: string) {
      for (const set of bySession.values()) for (const s of set) s.end(code, reason);
      bySession.clear();
      perUser.clear();
    },
    dispose() {
      clearInterval(timer);
      deps.auth.events.off('session-ended', onEnded as never);
    },
  };
}

export type SessionSockets = ReturnType<typeof createSessionSockets>;
