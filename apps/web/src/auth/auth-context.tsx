import { useQueryClient } from '@tanstack/react-query';
import type { LoginResponse, User } from '@tether/protocol';
import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
} from 'react';
import { type ApiClient, type ApiError, createApiClient, isApiError } from '../lib/api-client';
import { apiUrl } from '../lib/base-path';
import { sessionEndMessage } from '../lib/messages';

/**
 * The web session lives in memory only: never localStorage, sessionStorage or a readable cookie
 * (DESIGN §4). A reload therefore returns to the login page; terminals keep running on the broker
 * and are reattached after signing in again.
 */
export interface AuthSession {
  token: string;
  expiresAt: number;
  issuedAt: number;
  user: User;
}

export interface AuthContextValue {
  session: AuthSession | null;
  user: User | null;
  /** Why the last session ended, shown on the login page. Cleared by the next sign-in. */
  endReason: string | null;
  api: ApiClient;
  getToken: () => string | null;
  login: (username: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
  /** The broker said this session is over (401 or a socket close code). */
  endSession: (code: string) => void;
  /** Keyboard, pointer or terminal input happened: the next refresh is due. */
  markActivity: () => void;
  hasPermission: (permission: string) => boolean;
}

const AuthContext = createContext<AuthContextValue | null>(null);

/** Refresh when this fraction of the token's lifetime has passed, if the user was active. */
const REFRESH_AT = 2 / 3;
const REFRESH_RETRY_MS = 10_000;

function toSession(res: LoginResponse): AuthSession {
  const now = Date.now();
  const parsed = Date.parse(res.expiresAt);
  // A clock skew between browser and broker must not make us refresh in a loop: schedule from
  // the lifetime the broker granted, measured on our own clock.
  const expiresAt = Number.isFinite(parsed) && parsed > now ? parsed : now + 15 * 60_000;
  return { token: res.token, expiresAt, issuedAt: now, user: res.user };
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<AuthSession | null>(null);
  const [endReason, setEndReason] = useState<string | null>(null);
  const sessionRef = useRef<AuthSession | null>(null);
  const lastActivity = useRef(0);
  const lastRefresh = useRef(0);
  const refreshDue = useRef(false);
  const refreshing = useRef(false);

  const queryClient = useQueryClient();
  const apply = useCallback(
    (next: AuthSession | null) => {
      // What one user's queries fetched is never shown to the next one (or after signing out).
      if (!next || next.user.id !== sessionRef.current?.user.id) queryClient.clear();
      sessionRef.current = next;
      setSession(next);
    },
    [queryClient],
  );

  const getToken = useCallback(() => sessionRef.current?.token ?? null, []);

  const endSession = useCallback(
    (code: string) => {
      if (!sessionRef.current) return;
      apply(null);
      setEndReason(sessionEndMessage(code));
    },
    [apply],
  );

  const api = useMemo(
    () =>
      createApiClient({
        url: (p) => apiUrl(p),
        getToken,
        onUnauthorized: (err: ApiError) => endSession(err.code),
      }),
    [getToken, endSession],
  );

  const refresh = useCallback(async () => {
    if (refreshing.current || !sessionRef.current) return;
    refreshing.current = true;
    refreshDue.current = false;
    lastRefresh.current = Date.now();
    try {
      const res = await api.post<LoginResponse>('auth/refresh');
      if (sessionRef.current) apply(toSession(res));
    } catch (err) {
      // 401 already ended the session through onUnauthorized; anything else is transient.
      if (!(isApiError(err) && err.status === 401)) refreshDue.current = true;
    } finally {
      refreshing.current = false;
    }
  }, [api, apply]);

  const markActivity = useCallback(() => {
    lastActivity.current = Date.now();
    if (refreshDue.current && sessionRef.current) void refresh();
  }, [refresh]);

  // Schedule the refresh at 2/3 of the token's lifetime. Without activity since the last refresh
  // we only mark it due; the next keystroke or click performs it. An idle user is not kept alive.
  useEffect(() => {
    if (!session) return;
    const at = session.issuedAt + (session.expiresAt - session.issuedAt) * REFRESH_AT;
    const timer = setTimeout(
      () => {
        if (lastActivity.current > lastRefresh.current) void refresh();
        else refreshDue.current = true;
      },
      Math.max(0, at - Date.now()),
    );
    const retry = setInterval(() => {
      if (
        refreshDue.current &&
        lastActivity.current > lastRefresh.current &&
        Date.now() - lastRefresh.current > REFRESH_RETRY_MS
      ) {
        void refresh();
      }
    }, REFRESH_RETRY_MS);
    return () => {
      clearTimeout(timer);
      clearInterval(retry);
    };
  }, [session, refresh]);

  useEffect(() => {
    if (!session) return;
    const onActivity = () => markActivity();
    const opts: AddEventListenerOptions = { passive: true, capture: true };
    const events = ['keydown', 'pointerdown', 'pointermove', 'wheel', 'touchstart'] as const;
    for (const e of events) window.addEventListener(e, onActivity, opts);
    return () => {
      for (const e of events) window.removeEventListener(e, onActivity, opts);
    };
  }, [session, markActivity]);

  // Coming back to the tab is a good moment to learn that the session ended meanwhile (signed in
  // elsewhere, revoked): the user sees the reason now, not after typing into a dead page.
  useEffect(() => {
    if (!session) return;
    let lastCheck = Date.now();
    const check = () => {
      if (document.visibilityState !== 'visible' || Date.now() - lastCheck < 30_000) return;
      lastCheck = Date.now();
      void api.get('auth/me').catch(() => undefined);
    };
    window.addEventListener('focus', check);
    document.addEventListener('visibilitychange', check);
    return () => {
      window.removeEventListener('focus', check);
      document.removeEventListener('visibilitychange', check);
    };
  }, [session, api]);

  const login = useCallback(
    async (username: string, password: string) => {
      const res = await api.post<LoginResponse>('auth/login', { username, password }, { anonymous: true });
      const next = toSession(res);
      lastRefresh.current = Date.now();
      lastActivity.current = Date.now();
      refreshDue.current = false;
      setEndReason(null);
      apply(next);
    },
    [api, apply],
  );

  const logout = useCallback(async () => {
    const token = getToken();
    if (token) {
      try {
        await api.post('auth/logout');
      } catch {
        // Signing out locally must work even when the broker is unreachable.
      }
    }
    apply(null);
    setEndReason('You signed out.');
  }, [api, apply, getToken]);

  const hasPermission = useCallback((p: string) => session?.user.permissions.includes(p) ?? false, [session]);

  const value = useMemo<AuthContextValue>(
    () => ({
      session,
      user: session?.user ?? null,
      endReason,
      api,
      getToken,
      login,
      logout,
      endSession,
      markActivity,
      hasPermission,
    }),
    [session, endReason, api, getToken, login, logout, endSession, markActivity, hasPermission],
  );

  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthContextValue {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error('useAuth outside AuthProvider');
  return ctx;
}
