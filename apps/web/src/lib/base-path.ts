import { TERMINAL_SOCKET_PATH } from '@tether/protocol';

/**
 * Where the app is mounted, e.g. `https://host/` or `https://host/ssh-ws/` (always ends in "/").
 *
 * A `<base href>` decides when present: the API injects one from BASE_PATH, and index.html's
 * inline script adds one computed from the URL for servers that do not (the first one wins, as
 * in the browser). With neither (no injection and a strict CSP that blocks the inline script),
 * the bundle's own URL decides: the entry chunk lives in `<root>/assets/`.
 */
export function resolveBaseUrl(input: {
  baseElementHref: string | null;
  documentBaseUri: string;
  entryUrl: string;
  dev: boolean;
}): URL {
  if (input.baseElementHref !== null) return new URL('./', input.documentBaseUri);
  if (input.dev) return new URL('/', input.entryUrl);
  return new URL('../', input.entryUrl);
}

let cached: URL | null = null;

export function initBaseUrl(entryUrl: string): URL {
  const el = document.querySelector('base[href]');
  cached = resolveBaseUrl({
    baseElementHref: el ? el.getAttribute('href') : null,
    documentBaseUri: document.baseURI,
    entryUrl,
    dev: import.meta.env.DEV,
  });
  return cached;
}

export function baseUrl(): URL {
  if (!cached) cached = new URL('./', document.baseURI);
  return cached;
}

/** The router's basename: the base path without its trailing slash ("" at the root). */
export function routerBasename(base: URL = baseUrl()): string {
  const path = base.pathname.replace(/\/+$/, '');
  return path === '' ? '/' : path;
}

/** `api/auth/login` → `https://host/prefix/api/auth/login`. */
export function apiUrl(path: string, base: URL = baseUrl()): string {
  return new URL(`api/${path.replace(/^\/+/, '')}`, base).toString();
}

/** The terminal socket URL, ws: or wss: matching the page. */
export function terminalSocketUrl(base: URL = baseUrl()): string {
  const url = new URL(TERMINAL_SOCKET_PATH.replace(/^\/+/, ''), base);
  url.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}
