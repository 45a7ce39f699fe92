import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { ErrorCode, NetboxErrorCode } from '@tether/protocol';
import type { TargetPolicy } from '@tether/terminal-engine';
import { isTerminalError } from '@tether/terminal-engine';
import { AppError } from '../errors.js';

/** Where NetBox is and how far its certificate is trusted: only ever set by an admin. */
export interface NetboxTarget {
  /** Base URL without a trailing slash, e.g. `https://netbox.example.net` or `…/netbox`. */
  url: string;
  tlsVerify: boolean;
  /** Extra CA certificates (PEM) trusted besides the system's. */
  ca?: string;
}

export interface RetryPolicy {
  /** Attempts in all, first one included. */
  tries: number;
  baseDelayMs: number;
  /** Cap for both the backoff and a `Retry-After` NetBox asks for. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { tries: 4, baseDelayMs: 300, maxDelayMs: 10_000 };
const REQUEST_TIMEOUT_MS = 20_000;
/** 1,000 full device objects are a few MB; anything far beyond is not a NetBox page. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
const TLS_CODES = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/i;

/** NetBox answered or failed in a way the user should see; `code` is a NetboxErrorCode. */
export class NetboxError extends AppError {
  constructor(
    code: NetboxErrorCode,
    message: string,
    statusCode = 502,
    public readonly upstreamStatus?: number,
  ) {
    super(statusCode, code, message);
    this.name = 'NetboxError';
  }
}

export interface NetboxPage<T = unknown> {
  count: number;
  next: string | null;
  results: T[];
}

type Params = Record<string, string | number | readonly (string | number)[] | undefined>;

/** NetBox's own error text (`{"detail": …}` or `{"field": ["…"]}`), short and single-line. */
function upstreamDetail(body: string): string {
  let text = body;
  try {
    const json = JSON.parse(body) as unknown;
    if (json && typeof json === 'object') {
      const detail = (json as { detail?: unknown }).detail;
      text =
        typeof detail === 'string'
          ? detail
          : Object.entries(json as Record<string, unknown>)
              .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(' ') : String(v)}`)
              .join('; ');
    }
  } catch {
    text = body.startsWith('<') ? '' : body;
  }
  return text.replace(/\s+/g, ' ').trim().slice(0, 300);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

/** Seconds or an HTTP date → milliseconds; undefined when absent or unreadable. */
function retryAfterMs(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** NetBox v2 tokens (`nbt_<id>.<secret>`, NetBox ≥ 4.5) are Bearer tokens; v1 keys use `Token`. */
export function authorizationHeader(token: string): string {
  return token.startsWith('nbt_') ? `Bearer ${token}` : `Token ${token}`;
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * A small NetBox REST client on node:http(s). It only ever requests paths under the configured
 * base URL; redirects are not followed, and a page's `next` link contributes only its query
 * string (see `getAll`), so neither NetBox nor anything in between can point the broker elsewhere.
 */
export function createNetboxClient(options: {
  target: NetboxTarget;
  token: string;
  agent: http.Agent;
  retry?: RetryPolicy;
  signal?: AbortSignal;
  onRetry?: (info: { path: string; status: number | string; attempt: number; delayMs: number }) => void;
}) {
  const { target, token, agent, signal } = options;
  const retry = options.retry ?? DEFAULT_RETRY;
  const base = new URL(`${target.url}/`);
  const basePath = base.pathname.replace(/\/+$/, '');

  function urlFor(path: string, params: Params | URLSearchParams = {}): URL {
    const url = new URL(base.origin);
    url.pathname = `${basePath}${path}`;
    if (params instanceof URLSearchParams) {
      url.search = params.toString();
    } else {
      for (const [k, v] of Object.entries(params)) {
        if (v === undefined || v === '') continue;
        for (const one of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(one));
      }
    }
    return url;
  }

  function once(url: URL): Promise<RawResponse> {
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
      const req = lib.request(
        url,
        {
          method: 'GET',
          agent,
          headers: {
            accept: 'application/json',
            authorization: authorizationHeader(token),
            'user-agent': 'tether-netbox-import',
          },
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_BODY_BYTES) {
              req.destroy(new NetboxError(NetboxErrorCode.NOT_NETBOX, 'NetBox sent an oversized response'));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', (err) => {
        if (signal?.aborted) return reject(signal.reason);
        if (err instanceof NetboxError) return reject(err);
        if (isTerminalError(err) && err.code === ErrorCode.TARGET_DENIED) {
          return reject(
            new AppError(
              409,
              ErrorCode.TARGET_DENIED,
              'The NetBox URL points to an address the broker may not reach (link-local, cloud metadata or SSH_DENIED_TARGETS)',
            ),
          );
        }
        const code = (err as NodeJS.ErrnoException).code ?? '';
        if (timeout.aborted || err.name === 'AbortError') {
          return reject(
            new NetboxError(
              NetboxErrorCode.UNREACHABLE,
              `NetBox did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`,
            ),
          );
        }
        if (TLS_CODES.test(code) || /certificate|ssl|tls/i.test(err.message)) {
          return reject(
            new NetboxError(
              NetboxErrorCode.TLS,
              `NetBox's TLS certificate was not accepted (${code || err.message}). If it is self-signed, ` +
                'an admin can trust its CA with NETBOX_CA_FILE or turn off verification (NETBOX_TLS_VERIFY=false)',
            ),
          );
        }
        reject(
          Object.assign(
            new NetboxError(
              NetboxErrorCode.UNREACHABLE,
              `NetBox at ${base.origin} is unreachable (${code || err.message})`,
            ),
            { retryable: code === 'ECONNRESET' || code === 'EPIPE' },
          ),
        );
      });
      req.end();
    });
  }

  /** One GET with bounded retries on 429, 5xx and dropped connections; JSON or a NetboxError. */
  async function get(path: string, params: Params | URLSearchParams = {}): Promise<unknown> {
    const url = urlFor(path, params);
    for (let attempt = 1; ; attempt++) {
      let res: RawResponse | undefined;
      let failure: unknown;
      try {
        res = await once(url);
      } catch (err) {
        if (!(err as { retryable?: boolean }).retryable || attempt >= retry.tries) throw err;
        failure = err;
      }
      if (res && (!RETRY_STATUS.has(res.status) || attempt >= retry.tries)) return interpret(res, url);
      const backoff = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
      const asked = res ? retryAfterMs(res.headers['retry-after']) : undefined;
      const delayMs = asked !== undefined ? Math.min(retry.maxDelayMs, asked) : backoff + Math.random() * 100;
      options.onRetry?.({
        path: url.pathname,
        status: res?.status ?? (failure as { message?: string }).message ?? 'error',
        attempt,
        delayMs: Math.round(delayMs),
      });
      await sleep(delayMs, signal);
    }
  }

  function interpret(res: RawResponse, url: URL): unknown {
    const { status } = res;
    if (status === 401 || status === 403) {
      const detail = upstreamDetail(res.body);
      throw new NetboxError(
        NetboxErrorCode.UNAUTHORIZED,
        `NetBox refused the token (${status}${detail ? `: ${detail}` : ''})`,
        502,
        status,
      );
    }
    if (status >= 300 && status < 400) {
      throw new NetboxError(
        NetboxErrorCode.NOT_NETBOX,
        `NetBox answered a redirect (${status}); the NetBox URL should be the final address`,
        502,
        status,
      );
    }
    if (status === 429) {
      throw new NetboxError(
        NetboxErrorCode.UPSTREAM,
        'NetBox is rate limiting requests; try again later',
        502,
        status,
      );
    }
    if (status >= 500) {
      throw new NetboxError(
        NetboxErrorCode.UPSTREAM,
        `NetBox failed (${status}); try again later`,
        502,
        status,
      );
    }
    if (status === 404) {
      throw new NetboxError(
        NetboxErrorCode.NOT_NETBOX,
        `${url.pathname} was not found: is the NetBox URL right?`,
        502,
        status,
      );
    }
    if (status >= 400) {
      const detail = upstreamDetail(res.body);
      // NetBox answers 400 to a filter naming a site, role, … that does not exist.
      throw new NetboxError(
        NetboxErrorCode.UPSTREAM,
        `NetBox rejected the request: ${detail || status}`,
        400,
        status,
      );
    }
    const type = String(res.headers['content-type'] ?? '');
    try {
      if (!type.includes('json')) throw new Error('not JSON');
      return JSON.parse(res.body) as unknown;
    } catch {
      throw new NetboxError(
        NetboxErrorCode.NOT_NETBOX,
        `${base.origin}${url.pathname} did not answer with NetBox JSON: is the NetBox URL right?`,
      );
    }
  }

  function asPage(json: unknown, path: string): NetboxPage {
    const page = json as Partial<NetboxPage>;
    if (
      !page ||
      typeof page.count !== 'number' ||
      !Array.isArray(page.results) ||
      (page.next !== null && page.next !== undefined && typeof page.next !== 'string')
    ) {
      throw new NetboxError(NetboxErrorCode.NOT_NETBOX, `${path} did not answer with a NetBox list`);
    }
    return { count: page.count, next: page.next ?? null, results: page.results };
  }

  return {
    get,

    async page(path: string, params: Params): Promise<NetboxPage> {
      return asPage(await get(path, params), path);
    },

    /**
     * Follows NetBox's pagination to the end (or `max` results). NetBox writes `next` as an
     * absolute URL built from its own idea of its host and scheme, which behind a proxy is often
     * wrong; only its query (limit/offset and the filters) is used, on the configured base URL.
     */
    async getAll(
      path: string,
      params: Params,
      opts: { max: number; onPage?: (fetched: number, total: number) => void },
    ): Promise<{ count: number; results: unknown[] }> {
      const results: unknown[] = [];
      let page = asPage(await get(path, params), path);
      if (page.count > opts.max) {
        throw new NetboxError(
          NetboxErrorCode.UPSTREAM,
          `${page.count} devices match; narrow the search to at most ${opts.max}`,
          400,
        );
      }
      for (let pages = 1; ; pages++) {
        results.push(...page.results);
        opts.onPage?.(results.length, page.count);
        if (!page.next || !page.results.length || results.length >= page.count) break;
        if (pages > opts.max) throw new NetboxError(NetboxErrorCode.NOT_NETBOX, 'NetBox paging did not end');
        let next: URL;
        try {
          next = new URL(page.next, base);
        } catch {
          throw new NetboxError(NetboxErrorCode.NOT_NETBOX, 'NetBox sent an unreadable next-page link');
        }
        page = asPage(await get(path, next.searchParams), path);
      }
      return { count: page.count, results };
    },
  };
}

export type NetboxClient = ReturnType<typeof createNetboxClient>;

/**
 * One keep-alive agent per target, so a 20-page import reuses one connection. Every connection's
 * name resolution goes through the target policy, and the connection is made to the address it
 * checked: a NetBox name cannot be pointed (or re-pointed, by DNS rebinding) at link-local,
 * metadata or denied addresses. IP literals are checked before any request (`checkNetboxUrl`).
 */
export function agentFor(target: NetboxTarget, policy: TargetPolicy): http.Agent {
  const lookup = (
    hostname: string,
    options: { all?: boolean },
    callback: (
      err: Error | null,
      address: string | Array<{ address: string; family: number }>,
      family?: number,
    ) => void,
  ) => {
    policy.resolve(hostname).then(
      (r) =>
        options.all
          ? callback(null, [{ address: r.address, family: r.family }])
          : callback(null, r.address, r.family),
      (err: Error) => callback(err, ''),
    );
  };
  return target.url.startsWith('https:')
    ? new https.Agent({
        keepAlive: true,
        maxSockets: 4,
        rejectUnauthorized: target.tlsVerify,
        // `ca` replaces Node's trust store: keep the public roots and add the admin's CA.
        ...(target.ca ? { ca: [...tls.rootCertificates, target.ca] } : {}),
        lookup: lookup as never,
      })
    : new http.Agent({ keepAlive: true, maxSockets: 4, lookup: lookup as never } as http.AgentOptions);
}

/** A NetBox URL the target policy refuses: 409 TARGET_DENIED, saying which rule family. */
export async function checkNetboxUrl(url: string, policy: TargetPolicy): Promise<void> {
  try {
    await policy.resolve(new URL(url).hostname);
  } catch (err) {
    if (isTerminalError(err) && err.code === ErrorCode.TARGET_DENIED) {
      throw new AppError(
        409,
        ErrorCode.TARGET_DENIED,
        'The NetBox URL points to an address the broker may not reach (link-local, cloud metadata or SSH_DENIED_TARGETS)',
      );
    }
    // Unresolvable now: the request itself will say NetBox is unreachable.
  }
}
