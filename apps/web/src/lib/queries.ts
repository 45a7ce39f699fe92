import {
  keepPreviousData,
  QueryClient,
  type QueryKey,
  useMutation,
  useQuery,
  useQueryClient,
} from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { useAuth } from '../auth/auth-context';
import { isApiError } from './api-client';

/**
 * Server state goes through TanStack Query (docs: DEVELOPERS.md, "Adding a page"): every REST
 * read is a query keyed by its path, polling pages refetch while someone is there, and mutations
 * invalidate what they change. The token stays where it was (auth-context, memory only): queries
 * call the same API client.
 */
export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        // A broker's answer is final (a 403 stays a 403); only a lost connection is worth retrying.
        retry: (failures, err) => isApiError(err) && err.code === 'NETWORK_ERROR' && failures < 2,
        staleTime: 2_000,
        // Polling stops in a hidden tab (each request slides the web session's idle window).
        refetchIntervalInBackground: false,
      },
      mutations: { retry: false },
    },
  });
}

/**
 * The query key of `api/<path>`: its segments, then its query string as an object, so that
 * invalidating `admin/terminals` reaches `admin/terminals?status=live` too.
 */
export function apiKey(path: string): QueryKey {
  const [pathname = '', search] = path.split('?');
  const key: unknown[] = ['api', ...pathname.split('/').filter(Boolean)];
  if (search) key.push(Object.fromEntries(new URLSearchParams(search)));
  return key;
}

/** The one place that turns a failed call into what a page shows (field errors flattened). */
export function errorText(err: unknown): string {
  if (!isApiError(err)) return 'Something went wrong.';
  if (err.code === 'NETWORK_ERROR') return 'Cannot reach the server.';
  if (err.fields && Object.keys(err.fields).length > 0) {
    return Object.entries(err.fields)
      .map(([k, v]) => `${k} ${v}`)
      .join('; ');
  }
  return err.message;
}

const ACTIVITY_EVENTS = ['keydown', 'pointerdown', 'pointermove', 'wheel', 'touchstart'] as const;

/**
 * Whether someone used this page within `idleAfterMs`. Every request slides the web session's
 * idle window, so polling without a person in front of the screen would keep an abandoned
 * browser signed in forever: polling queries stop while this is false.
 */
export function useUserActive(idleAfterMs = 5 * 60_000, enabled = true): boolean {
  const [active, setActive] = useState(true);
  useEffect(() => {
    if (!enabled) return;
    let last = Date.now();
    let isActive = true;
    const onActivity = () => {
      last = Date.now();
      if (!isActive) {
        isActive = true;
        setActive(true);
      }
    };
    for (const e of ACTIVITY_EVENTS) window.addEventListener(e, onActivity, { capture: true, passive: true });
    const timer = setInterval(
      () => {
        if (isActive && Date.now() - last > idleAfterMs) {
          isActive = false;
          setActive(false);
        }
      },
      Math.min(idleAfterMs, 10_000),
    );
    return () => {
      clearInterval(timer);
      for (const e of ACTIVITY_EVENTS) window.removeEventListener(e, onActivity, { capture: true });
    };
  }, [idleAfterMs, enabled]);
  return active;
}

export interface ApiQueryOptions {
  /** Refetch this often while the page is visible and someone is active. */
  pollMs?: number;
  enabled?: boolean;
  /** Keep showing the last answer while the next path loads (paging). */
  keepPrevious?: boolean;
}

/**
 * GET `api/<path>` (null: not yet). With `pollMs`, refetched on that period while someone is
 * active, and at once when they come back; `paused` says polling stopped for lack of activity.
 */
export function useApiQuery<T>(
  path: string | null,
  { pollMs, enabled = true, keepPrevious = false }: ApiQueryOptions = {},
) {
  const { api } = useAuth();
  const active = useUserActive(undefined, pollMs !== undefined);
  const query = useQuery({
    queryKey: apiKey(path ?? ''),
    queryFn: ({ signal }) => api.get<T>(path!, { signal }),
    enabled: enabled && path !== null,
    refetchInterval: pollMs !== undefined && active ? pollMs : false,
    ...(keepPrevious ? { placeholderData: keepPreviousData } : {}),
  });
  const { refetch } = query;
  useEffect(() => {
    if (active && pollMs !== undefined && enabled && path !== null) void refetch();
  }, [active, pollMs, enabled, path, refetch]);
  return { ...query, paused: pollMs !== undefined && !active };
}

/**
 * A change on the broker: `run` calls the API, and once it succeeded every query under
 * `invalidates` (paths, as for useApiQuery) is refetched. `mutateAsync` rejects with the
 * ApiError; `errorText` says it.
 */
export function useApiMutation<V, R = unknown>(
  run: (api: ReturnType<typeof useAuth>['api'], variables: V) => Promise<R>,
  invalidates: readonly string[] = [],
) {
  const { api } = useAuth();
  const client = useQueryClient();
  return useMutation({
    mutationFn: (variables: V) => run(api, variables),
    onSuccess: async () => {
      await Promise.all(invalidates.map((path) => client.invalidateQueries({ queryKey: apiKey(path) })));
    },
  });
}

/**
 * A read made in the middle of an action (not shown by itself): through the query cache, so a
 * fresh answer is reused and the one fetched here is shared with the pages that show it.
 */
export function useApiFetch() {
  const { api } = useAuth();
  const client = useQueryClient();
  return <T>(path: string) =>
    client.fetchQuery({ queryKey: apiKey(path), queryFn: ({ signal }) => api.get<T>(path, { signal }) });
}
