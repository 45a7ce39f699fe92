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

export interface ApiClient {
  request<T>(method: string, path: string, opts?: RequestOptions): Promise<T>;
  get<T>(path: string, opts?: RequestOptions): Promise<T>;
  post<T>(path: string, body?: unknown, opts?: RequestOptions): Promise<T>;
  patch<T>(path: string, body?: unknown, opts?: RequestOptions): Promise<T>;
  del<T>(path: string, opts?: RequestOptions): Promise<T>;
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  const doFetch = options.fetchImpl ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));

  async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
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
      // A wrong *current* password (change-password form) is a form error, not a dead session.
      if (res.status === 401 && !opts.anonymous && err.code !== 'INVALID_CREDENTIALS')
        options.onUnauthorized?.(err);
      throw err;
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  return {
    request,
    get: (path, opts) => request('GET', path, opts),
    post: (path, body, opts) => request('POST', path, { ...opts, body }),
    patch: (path, body, opts) => request('PATCH', path, { ...opts, body }),
    del: (path, opts) => request('DELETE', path, opts),
  };
}
