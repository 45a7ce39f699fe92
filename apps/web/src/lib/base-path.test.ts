import { describe, expect, it } from 'vitest';
import { apiUrl, resolveBaseUrl, routerBasename, terminalSocketUrl } from './base-path';

describe('base path', () => {
  it('uses the <base> computed by index.html', () => {
    const base = resolveBaseUrl({
      baseElementHref: '/ssh-ws/',
      documentBaseUri: 'https://h.example/ssh-ws/',
      entryUrl: 'https://h.example/ssh-ws/assets/index-abc.js',
      dev: false,
    });
    expect(base.toString()).toBe('https://h.example/ssh-ws/');
    expect(routerBasename(base)).toBe('/ssh-ws');
    expect(apiUrl('auth/login', base)).toBe('https://h.example/ssh-ws/api/auth/login');
    expect(terminalSocketUrl(base)).toBe('wss://h.example/ssh-ws/api/terminals/ws');
  });

  it('falls back to the entry chunk location', () => {
    const base = resolveBaseUrl({
      baseElementHref: null,
      documentBaseUri: 'http://h/x/terminals',
      entryUrl: 'http://h/x/assets/index-abc.js',
      dev: false,
    });
    expect(base.toString()).toBe('http://h/x/');
    expect(terminalSocketUrl(base)).toBe('ws://h/x/api/terminals/ws');
  });

  it('serves at the root', () => {
    const base = new URL('http://127.0.0.1:8080/');
    expect(routerBasename(base)).toBe('/');
    expect(apiUrl('/admin/users', base)).toBe('http://127.0.0.1:8080/api/admin/users');
  });
});
