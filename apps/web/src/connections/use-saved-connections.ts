import type { Credential, CredentialList, Folder, FolderList, Profile, ProfileList } from '@tether/protocol';
import { useEffect, useState } from 'react';
import { errorText, useApiQuery } from '../lib/queries';

export interface SavedConnections {
  folders: Folder[];
  profiles: Profile[];
  credentials: Credential[];
  loaded: boolean;
  error: string | null;
}

/**
 * What a change to saved connections invalidates: folders (their counts), profiles (searches
 * too) and credential sets (how many connections use each).
 */
export const SAVED_CONNECTIONS = ['folders', 'profiles', 'credentials'] as const;

/**
 * Folders, all profiles and credential sets of the signed-in user: three queries, refetched each
 * time the workspace is shown again (credential sets may have changed on their page; React Query
 * refetches a stale query when it is enabled again) and after a change (its mutation invalidates
 * SAVED_CONNECTIONS).
 */
export function useSavedConnections(enabled: boolean): SavedConnections {
  const folders = useApiQuery<FolderList>('folders', { enabled });
  const profiles = useApiQuery<ProfileList>('profiles', { enabled });
  const credentials = useApiQuery<CredentialList>('credentials', { enabled });
  const all = [folders, profiles, credentials];
  // Shown again (enabled): stale queries (older than the client's staleTime) refetch by themselves.
  const failed = all.find((q) => q.error)?.error;
  return {
    folders: folders.data?.folders ?? [],
    profiles: profiles.data?.profiles ?? [],
    credentials: credentials.data?.credentials ?? [],
    loaded: all.every((q) => q.data !== undefined),
    error: failed ? errorText(failed) : null,
  };
}

/**
 * Server-side search (`GET /api/profiles?q=`), debounced; `null` while the box is empty. Its key
 * is under `profiles`, so every change to saved connections searches again.
 */
export function useProfileSearch(query: string): { results: Profile[] | null; error: string | null } {
  const q = query.trim();
  const [debounced, setDebounced] = useState(q);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(q), 180);
    return () => clearTimeout(timer);
  }, [q]);
  const search = useApiQuery<ProfileList>(debounced ? `profiles?q=${encodeURIComponent(debounced)}` : null);
  return {
    results: q && debounced ? (search.data?.profiles ?? null) : null,
    error: q && search.error ? errorText(search.error) : null,
  };
}
