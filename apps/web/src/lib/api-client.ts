import { ErrorBodySchema } from '@tether/protocol';
import { NETWORK_ERROR } from './messages';

/** A failed API call, with the broker's stable error code (or NETWORK_ERROR). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fields: Record<string, string> | undefined;
  readonly retryAfter: number | undefined;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    fields?: Record<string, string>;
    retryAfter?: number;
  }) {
    super(init.message);
    this.name = 'ApiError';
    this.status = init.status;
    this.code = init.code;
    this.fields = init.fields;
    this.retryAfter = init.retryAfter;
  }
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError;
}

/** Turns a non-2xx response into an ApiError, tolerating bodies that are not our JSON shape. */
export async function toApiError(res: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // Proxies answer with HTML; keep the status.
  }
  const parsed = ErrorBodySchema.safeParse(body);
  if (parsed.success) {
    const e = parsed.data.error;
    const header = res.headers.get('retry-after');
    const retryAfter = e.retryAfter ?? (header && /^\d+$/.test(header) ? Number(header) : undefined);
    return new ApiError({
      status: res.status,
      code: e.code,
      message: e.message,
      ...(e.fields ? { fields: e.fields } : {}),
      ...(retryAfter !== undefined ? { retryAfter } : {}),
    });
  }
  const code =
    res.status === 401
      ? 'UNAUTHENTICATED'
      : res.status === 403
        ? 'FORBIDDEN'
        : res.status === 404
          ? 'NOT_FOUND'
          : res.status === 429
            ? 'RATE_LIMITED'
            : 'INTERNAL';
  return new ApiError({ status: res.status, code, message: res.statusText || `HTTP ${res.status}` });
}

export interface ApiClientOptions {
  /** Resolves `api/...` paths (see base-path.ts). */
  url: (path: string) => string;
  getToken: () => string | null;
  /** Called for every 401 on an authenticated call; the app returns to /login with the reason. */
  onUnauthorized?: (err: ApiError) => void;
  fetchImpl?: typeof fetch;
}

export interface RequestOptions {
  body?: unknown;
  /** Do not send the bearer token and do not treat 401 as "session over" (login). */
  anonymous?: boolean;
  signal?: AbortSignal;
}

/** A non-JSON body (a file download), with the server's suggested file name. */
export interface ApiFile {
  blob: Blob;
  filename: string | null;
}

export interface ApiClient {
  request<T>(method: string, path: string, opts?: RequestOptions): Promise<T>;
  /** GET a file (export): same auth and error handling, body returned as a Blob. */
  download(path: string, opts?: RequestOptions): Promise<ApiFile>;
  get<T>(path: string, opts?: RequestOptions): Promise<T>;
  post<T>(path: string, body?: unknown, opts?: RequestOptions): Promise<T>;
  patch<T>(path: string, body?: unknown, opts?: RequestOptions): Promise<T>;
  del<T>(path: string, opts?: RequestOptions): Promise<T>;
  /** POST whose answer is read as a stream (NetBox import progress); errors as for `request`. */
  postStream(path: string, body: unknown, opts?: RequestOptions): Promise<Response>;
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  const doFetch = options.fetchImpl ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));

  async function send(
    method: string,
    path: string,
    opts: RequestOptions,
    accept = 'application/json',
    retried = false,
  ): Promise<Response> {
    const headers: Record<string, string> = { accept };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const token = opts.anonymous ? null : options.getToken();
    if (token) headers.authorization = `Bearer ${token}`;

    let res: Response;
    try {
      res = await doFetch(options.url(path), {
        method,
        headers,
        // The fingerprint cookie (HttpOnly) must travel with every call; nothing else is stored.
        credentials: 'same-origin',
        cache: 'no-store',
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (cause) {
      if (cause instanceof DOMException && cause.name === 'AbortError') throw cause;
      throw new ApiError({ status: 0, code: NETWORK_ERROR, message: 'Cannot reach the server.' });
    }

    if (!res.ok) {
      const err = await toApiError(res);
      // A refresh finished while this call was in flight with the token it replaced. The broker
      // refused it before running anything, so it is sent again, once, with the new token.
      if (err.code === 'TOKEN_SUPERSEDED' && token && !retried) {
        const current = options.getToken();
        if (current && current !== token) return send(method, path, opts, accept, true);
      }
      // A wrong *current* password (change-password form) is a form error, not a dead session.
      if (res.status === 401 && !opts.anonymous && err.code !== 'INVALID_CREDENTIALS')
        options.onUnauthorized?.(err);
      throw err;
    }
    return res;
  }

  async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await send(method, path, opts);
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async function download(path: string, opts: RequestOptions = {}): Promise<ApiFile> {
    const res = await send('GET', path, opts, '*/*');
    return {
      blob: await res.blob(),
      filename: filenameFromDisposition(res.headers.get('content-disposition')),
    };
  }

  return {
    request,
    download,
    get: (path, opts) => request('GET', path, opts),
    post: (path, body, opts) => request('POST', path, { ...opts, body }),
    patch: (path, body, opts) => request('PATCH', path, { ...opts, body }),
    del: (path, opts) => request('DELETE', path, opts),
    postStream: (path, body, opts) => send('POST', path, { ...opts, body }, 'application/x-ndjson'),
  };
}

/** `attachment; filename="x.yaml"` (or RFC 5987 `filename*=UTF-8''x.yaml`) → `x.yaml`; null if absent. */
export function filenameFromDisposition(header: string | null): string | null {
  if (!header) return null;
  const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(header);
  if (star?.[1]) {
    try {
      return safeFilename(decodeURIComponent(star[1].trim()));
    } catch {
      // fall through to the plain form
    }
  }
  const plain = /filename\s*=\s*(?:"([^"]*)"|([^;]+))/.exec(header);
  const name = plain?.[1] ?? plain?.[2]?.trim();
  return name ? safeFilename(name) : null;
}

/** The browser sanitises too, but never let a server-chosen name carry a path. */
function safeFilename(name: string): string | null {
  const base = name.split(/[\\/]/).pop()?.trim() ?? '';
  return base && base !== '.' && base !== '..' ? base : null;
}
