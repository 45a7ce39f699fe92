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
 * logout, a login elsewhere, expiry, an admin, on this node or any other — its sockets close:
 * at once for events raised on this node or sent by another (plugins/cluster.ts), and through a
 * periodic check of the session rows (SESSION_CHECK_INTERVAL) for everything else: idle and
 * absolute expiry, and a notification lost while the listening connection was down.
 */
export function createSessionSockets(deps: {
  auth: Pick<AuthService, 'events' | 'sessions'>;
  idleTimeoutMs: number;
  log: FastifyBaseLogger;
  sweepIntervalMs?: number;
}) {
  const bySession = new Map<string, Set<SessionBoundSocket>>();

  function endSession(sessionId: string, reason: SessionEndedEvent['reason']) {
    const sockets = bySession.get(sessionId);
    if (!sockets) return;
    bySession.delete(sessionId);
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

  let sweeping: Promise<void> | null = null;
  let again = false;
  /** Re-reads the session rows of every socket here and ends those whose session is over. */
  function check(): Promise<void> {
    if (sweeping) {
      // A check asked for during one (a catch-up after the bus reconnected) runs after it: the
      // one in flight may have read the rows before the change it must see.
      again = true;
      return sweeping;
    }
    if (bySession.size === 0) return Promise.resolve();
    sweeping = (async () => {
      try {
        do {
          again = false;
          const dead = await deps.auth.sessions.findDead(
            [...bySession.keys()],
            new Date(Date.now() - deps.idleTimeoutMs),
          );
          for (const d of dead) endSession(d.id, d.reason);
        } while (again && bySession.size > 0);
      } catch (err) {
        // Database unreachable: keep the sockets; the check runs again at the next interval.
        deps.log.warn({ err: (err as Error).message }, 'session liveness check failed');
      } finally {
        sweeping = null;
      }
    })();
    return sweeping;
  }
  const timer = setInterval(() => void check(), deps.sweepIntervalMs ?? 1_000);
  timer.unref();

  return {
    add(socket: SessionBoundSocket) {
      const set = bySession.get(socket.sessionId) ?? new Set<SessionBoundSocket>();
      bySession.set(socket.sessionId, set);
      if (set.has(socket)) return;
      set.add(socket);
    },
    remove(socket: SessionBoundSocket) {
      const set = bySession.get(socket.sessionId);
      if (!set?.delete(socket)) return;
      if (set.size === 0) bySession.delete(socket.sessionId);
    },
    /** Checks every socket's session now (after missed notifications: plugins/cluster.ts). */
    check,
    count(): number {
      let n = 0;
      for (const s of bySession.values()) n += s.size;
      return n;
    },
    /** Ends every socket (shutdown). */
    closeAll(code: number, reason: string) {
      for (const set of bySession.values()) for (const s of set) s.end(code, reason);
      bySession.clear();
    },
    dispose() {
      clearInterval(timer);
      deps.auth.events.off('session-ended', onEnded as never);
    },
  };
}

export type SessionSockets = ReturnType<typeof createSessionSockets>;
