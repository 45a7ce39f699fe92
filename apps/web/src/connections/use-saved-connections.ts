import type { Credential, CredentialList, Folder, FolderList, Profile, ProfileList } from '@tether/protocol';
import { useCallback, useEffect, useRef, useState } from 'react';
import { useAuth } from '../auth/auth-context';
import { describeError } from '../lib/use-api-data';

export interface SavedConnections {
  folders: Folder[];
  profiles: Profile[];
  credentials: Credential[];
  loaded: boolean;
  error: string | null;
  reload: () => Promise<void>;
}

/** Folders, all profiles and credential sets of the signed-in user, loaded together. */
export function useSavedConnections(enabled: boolean): SavedConnections {
  const { api } = useAuth();
  const [folders, setFolders] = useState<Folder[]>([]);
  const [profiles, setProfiles] = useState<Profile[]>([]);
  const [credentials, setCredentials] = useState<Credential[]>([]);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const seq = useRef(0);

  const reload = useCallback(async () => {
    const mine = ++seq.current;
    try {
      const [f, p, c] = await Promise.all([
        api.get<FolderList>('folders'),
        api.get<ProfileList>('profiles'),
        api.get<CredentialList>('credentials'),
      ]);
      // A slower, older reload must not overwrite a newer one.
      if (mine !== seq.current) return;
      setFolders(f.folders);
      setProfiles(p.profiles);
      setCredentials(c.credentials);
      setError(null);
      setLoaded(true);
    } catch (err) {
      if (mine === seq.current) setError(describeError(err));
    }
  }, [api]);

  // Each time the workspace is shown again: credential sets may have changed on their page.
  useEffect(() => {
    if (enabled) void reload();
  }, [enabled, reload]);

  return { folders, profiles, credentials, loaded, error, reload };
}

/** Server-side search (`GET /api/profiles?q=`), debounced; `null` while the box is empty. */
export function useProfileSearch(
  query: string,
  version: number,
): { results: Profile[] | null; error: string | null } {
  const { api } = useAuth();
  const [results, setResults] = useState<Profile[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const q = query.trim();

  useEffect(() => {
    if (!q) {
      setResults(null);
      setError(null);
      return;
    }
    const ctrl = new AbortController();
    const timer = setTimeout(() => {
      api
        .get<ProfileList>(`profiles?q=${encodeURIComponent(q)}`, { signal: ctrl.signal })
        .then((res) => {
          setResults(res.profiles);
          setError(null);
        })
        .catch((err: unknown) => {
          if (err instanceof DOMException && err.name === 'AbortError') return;
          setError(describeError(err));
        });
    }, 180);
    return () => {
      clearTimeout(timer);
      ctrl.abort();
    };
    // `version` re-runs the search after edits so results stay current.
  }, [api, q, version]);

  return { results, error };
}
