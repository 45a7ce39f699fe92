import type { Credential, Profile } from '@tether/protocol';
import { describe, expect, it } from 'vitest';
import { groupByFolder, hostLabel, missingForConnect, parseTags } from './saved-connections';

const NOW = '2025-01-01T00:00:00.000Z';

function profile(over: Partial<Profile> = {}): Profile {
  return {
    id: '00000000-0000-4000-8000-000000000001',
    folderId: null,
    name: 'sw1',
    host: '10.0.0.1',
    port: 22,
    username: 'ops',
    authMethod: 'none',
    credentialId: null,
    hasStoredSecret: false,
    deviceType: null,
    model: null,
    tags: [],
    notes: null,
    extra: {},
    createdAt: NOW,
    updatedAt: NOW,
    ...over,
  };
}

const cred: Credential = {
  id: '00000000-0000-4000-8000-0000000000c1',
  name: 'lab',
  kind: 'password',
  username: 'labuser',
  hasPassphrase: false,
  usedBy: 1,
  createdAt: NOW,
  updatedAt: NOW,
};

describe('saved connections helpers', () => {
  it('shows the port only when it is not 22, bracketing IPv6', () => {
    expect(hostLabel({ host: 'a.example', port: 22 })).toBe('a.example');
    expect(hostLabel({ host: '127.0.0.1', port: 2222 })).toBe('127.0.0.1:2222');
    expect(hostLabel({ host: '::1', port: 2222 })).toBe('[::1]:2222');
  });

  it('asks for a password only when the method needs one and none is stored', () => {
    expect(missingForConnect(profile({ authMethod: 'password' }), [])).toEqual({
      username: false,
      secret: 'password',
    });
    expect(
      missingForConnect(profile({ authMethod: 'password', hasStoredSecret: true }), []).secret,
    ).toBeNull();
    expect(
      missingForConnect(profile({ authMethod: 'publickey', credentialId: cred.id }), [cred]).secret,
    ).toBeNull();
    // The broker relays the server's own prompts for these.
    expect(missingForConnect(profile({ authMethod: 'none' }), []).secret).toBeNull();
    expect(missingForConnect(profile({ authMethod: 'keyboard-interactive' }), []).secret).toBeNull();
  });

  it('needs a username unless the profile or its credential set has one', () => {
    expect(missingForConnect(profile({ username: null }), []).username).toBe(true);
    expect(missingForConnect(profile({ username: null, credentialId: cred.id }), [cred]).username).toBe(
      false,
    );
  });

  it('groups by folder and sorts names naturally', () => {
    const groups = groupByFolder([
      profile({ name: 'sw10' }),
      profile({ name: 'sw2' }),
      profile({ name: 'r1', folderId: 'f' }),
    ]);
    expect(groups.get(null)?.map((p) => p.name)).toEqual(['sw2', 'sw10']);
    expect(groups.get('f')?.map((p) => p.name)).toEqual(['r1']);
  });

  it('splits comma-separated tags', () => {
    expect(parseTags(' core, lab ,, dc1 ')).toEqual(['core', 'lab', 'dc1']);
  });
});
