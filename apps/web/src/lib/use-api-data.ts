import { useCallback, useEffect, useState } from 'react';
import { useAuth } from '../auth/auth-context';
import { isApiError } from './api-client';

export interface ApiData<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  reload: () => Promise<void>;
}

/** GET `api/<path>` on mount and on demand. 401s are handled globally (back to login). */
export function useApiData<T>(path: string): ApiData<T> {
  const { api } = useAuth();
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);

  const reload = useCallback(async () => {
    setLoading(true);
    try {
      setData(await api.get<T>(path));
      setError(null);
    } catch (err) {
      setError(
        isApiError(err)
          ? err.code === 'NETWORK_ERROR'
            ? 'Cannot reach the server.'
            : err.message
          : 'Something went wrong.',
      );
    } finally {
      setLoading(false);
    }
  }, [api, path]);

  useEffect(() => {
    void reload();
  }, [reload]);

  return { data, error, loading, reload };
}

/** A user-facing message for a failed mutation, with field errors flattened. */
export function describeError(err: unknown): string {
  if (!isApiError(err)) return 'Something went wrong.';
  if (err.code === 'NETWORK_ERROR') return 'Cannot reach the server.';
  if (err.fields && Object.keys(err.fields).length > 0) {
    return Object.entries(err.fields)
      .map(([k, v]) => `${k} ${v}`)
      .join('; ');
  }
  return err.message;
}
