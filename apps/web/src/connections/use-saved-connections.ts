import { useQueryClient } from '@tanstack/react-query';
import type { Credential, CredentialList, Folder, FolderList, Profile, ProfileList } from '@tether/protocol';
import { useCallback, useEffect, useState } from 'react';
import { apiKey, errorText, useApiQuery } from '../lib/queries';

export interface SavedConnections {
  folders: Folder[];
  profiles: Profile[];
  credentials: Credential[];
  loaded: boolean;
  error: string | null;
  reload: () => Promise<void>;
}

/**
 * Folders, all profiles and credential sets of the signed-in user: three queries, refetched each
 * time the workspace is shown again (credential sets may have changed on their page; React Query
 * refetches a stale query when it is enabled again) and by `reload` after a change made here.
 */
export function useSavedConnections(enabled: boolean): SavedConnections {
  const folders = useApiQuery<FolderList>('folders', { enabled });
  const profiles = useApiQuery<ProfileList>('profiles', { enabled });
  const credentials = useApiQuery<CredentialList>('credentials', { enabled });
  const all = [folders, profiles, credentials];
  const client = useQueryClient();
  const reload = useCallback(async () => {
    await Promise.all(
      ['folders', 'profiles', 'credentials'].map((path) =>
        client.invalidateQueries({ queryKey: apiKey(path) }),
      ),
    );
  }, [client]);
  // Shown again (enabled): stale queries (older than the client's staleTime) refetch by themselves.
  const failed = all.find((q) => q.error)?.error;
  return {
    folders: folders.data?.folders ?? [],
    profiles: profiles.data?.profiles ?? [],
    credentials: credentials.data?.credentials ?? [],
    loaded: all.every((q) => q.data !== undefined),
    error: failed ? errorText(failed) : null,
    reload,
  };
}

/** Server-side search (`GET /api/profiles?q=`), debounced; `null` while the box is empty. */
export function useProfileSearch(
  query: string,
  version: number,
): { results: Profile[] | null; error: string | null } {
  const q = query.trim();
  const [debounced, setDebounced] = useState(q);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(q), 180);
    return () => clearTimeout(timer);
  }, [q]);
  const client = useQueryClient();
  // `version` re-runs the search after edits so results stay current.
  useEffect(() => {
    if (version > 0) void client.invalidateQueries({ queryKey: apiKey('profiles') });
  }, [version, client]);
  const search = useApiQuery<ProfileList>(debounced ? `profiles?q=${encodeURIComponent(debounced)}` : null);
  return {
    results: q && debounced ? (search.data?.profiles ?? null) : null,
    error: q && search.error ? errorText(search.error) : null,
  };
}
