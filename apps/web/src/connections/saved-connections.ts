import type { AuthMethod, Credential, Folder, Profile } from '@tether/protocol';

/** `10.0.0.1` or `10.0.0.1:2222` (port shown only when not 22); IPv6 in brackets with a port. */
export function hostLabel(p: Pick<Profile, 'host' | 'port'>): string {
  if (p.port === 22) return p.host;
  return p.host.includes(':') && !p.host.startsWith('[') ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`;
}

export const AUTH_METHOD_LABELS: Record<AuthMethod, string> = {
  none: 'Ask when connecting',
  password: 'Password',
  publickey: 'Private key',
  'keyboard-interactive': 'Keyboard-interactive',
};

/** What the connect dialog must ask for before a profile can be opened. */
export interface MissingForConnect {
  /** Neither the profile nor its credential set has a username (the broker refuses). */
  username: boolean;
  /** The secret to ask for: none stored and the method needs one the broker cannot prompt for. */
  secret: 'password' | 'publickey' | null;
}

/**
 * The broker resolves a profile's credentials (profile secret, then credential set); without a
 * secret it falls back to keyboard-interactive, which relays the server's password prompt. So
 * only an explicit password/key method without any stored secret needs asking up front.
 */
export function missingForConnect(p: Profile, credentials: readonly Credential[]): MissingForConnect {
  const credential = p.credentialId ? credentials.find((c) => c.id === p.credentialId) : undefined;
  const hasSecret = p.hasStoredSecret || credential !== undefined;
  return {
    username: !p.username && !credential?.username,
    secret:
      hasSecret || p.authMethod === 'none' || p.authMethod === 'keyboard-interactive' ? null : p.authMethod,
  };
}

export function needsConnectDialog(m: MissingForConnect): boolean {
  return m.username || m.secret !== null;
}

/** Profiles grouped by folder id (`null` = no folder), each group sorted by name. */
export function groupByFolder(profiles: readonly Profile[]): Map<string | null, Profile[]> {
  const groups = new Map<string | null, Profile[]>();
  for (const p of profiles) {
    const list = groups.get(p.folderId);
    if (list) list.push(p);
    else groups.set(p.folderId, [p]);
  }
  for (const list of groups.values()) list.sort((a, b) => compareNames(a.name, b.name));
  return groups;
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
export function compareNames(a: string, b: string): number {
  return collator.compare(a, b);
}

export function sortFolders(folders: readonly Folder[]): Folder[] {
  return [...folders].sort((a, b) => compareNames(a.name, b.name));
}

/** "core, lab , dc1" → ["core", "lab", "dc1"] (the API collapses duplicates). */
export function parseTags(text: string): string[] {
  return text
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
}

export function credentialLabel(c: Credential): string {
  const kind = c.kind === 'password' ? 'password' : 'private key';
  return `${c.name} (${kind}${c.username ? `, ${c.username}` : ''})`;
}
