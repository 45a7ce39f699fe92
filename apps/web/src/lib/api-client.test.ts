import { describe, expect, it, vi } from 'vitest';
import { ApiError, createApiClient, filenameFromDisposition } from './api-client';
import { loginErrorMessage, sessionEndMessage } from './messages';

function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

function client(fetchImpl: typeof fetch, token: string | null = 'T', onUnauthorized = vi.fn()) {
  return {
    api: createApiClient({
      url: (p) => `http://h/base/api/${p}`,
      getToken: () => token,
      fetchImpl,
      onUnauthorized,
    }),
    onUnauthorized,
  };
}

describe('api client', () => {
  it('adds the bearer token, sends JSON and same-origin credentials', async () => {
    const fetchImpl = vi.fn<typeof fetch>(async () => jsonResponse(200, { ok: true }));
    const { api } = client(fetchImpl);
    await expect(api.post('auth/password', { a: 1 })).resolves.toEqual({ ok: true });
    const [url, init] = fetchImpl.mock.calls[0] ?? [];
    expect(url).toBe('http://h/base/api/auth/password');
    expect(init?.credentials).toBe('same-origin');
    expect(init?.method).toBe('POST');
    expect(init?.body).toBe('{"a":1}');
    const headers = (init?.headers ?? {}) as Record<string, string>;
    expect(headers.authorization).toBe('Bearer T');
  });

  it('omits the token on anonymous calls and does not treat their 401 as a session end', async () => {
    const fetchImpl = vi.fn<typeof fetch>(async () =>
      jsonResponse(401, { error: { code: 'INVALID_CREDENTIALS', message: 'Invalid credentials' } }),
    );
    const { api, onUnauthorized } = client(fetchImpl);
    const err = await api
      .post('auth/login', { username: 'a', password: 'b' }, { anonymous: true })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('INVALID_CREDENTIALS');
    const headers = (fetchImpl.mock.calls[0]?.[1]?.headers ?? {}) as Record<string, string>;
    expect(headers.authorization).toBeUndefined();
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it('parses error bodies with fields and retryAfter', async () => {
    const fetchImpl = vi.fn<typeof fetch>(async () =>
      jsonResponse(423, { error: { code: 'ACCOUNT_LOCKED', message: 'Locked', retryAfter: 600 } }),
    );
    const { api } = client(fetchImpl);
    const err = (await api.post('auth/login', {}, { anonymous: true }).catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(423);
    expect(err.retryAfter).toBe(600);
    expect(loginErrorMessage(err)).toBe('Account locked. Try again in 10 minutes.');
  });

  it('takes retryAfter from the Retry-After header when the body has none', async () => {
    const fetchImpl = vi.fn<typeof fetch>(async () =>
      jsonResponse(429, { error: { code: 'RATE_LIMITED', message: 'Slow down' } }, { 'retry-after': '30' }),
    );
    const err = (await client(fetchImpl)
      .api.get('x')
      .catch((e: unknown) => e)) as ApiError;
    expect(err.retryAfter).toBe(30);
    expect(loginErrorMessage(err)).toBe('Too many attempts. Wait a moment.');
  });

  it('reports a 401 on an authenticated call so the app can return to login', async () => {
    const fetchImpl = vi.fn<typeof fetch>(async () =>
      jsonResponse(401, { error: { code: 'SESSION_REPLACED', message: 'Signed in elsewhere' } }),
    );
    const { api, onUnauthorized } = client(fetchImpl);
    await expect(api.get('auth/me')).rejects.toBeInstanceOf(ApiError);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    const err = onUnauthorized.mock.calls[0]?.[0] as ApiError;
    expect(sessionEndMessage(err.code)).toBe('You signed in somewhere else.');
  });

  it('sends a call again with the new token when a refresh superseded the one it carried', async () => {
    let token = 'old';
    const seen: string[] = [];
    const fetchImpl = vi.fn<typeof fetch>(async (_url, init) => {
      const auth = ((init?.headers ?? {}) as Record<string, string>).authorization ?? '';
      seen.push(auth);
      if (auth === 'Bearer old') {
        token = 'new'; // the refresh landed while this call was in flight
        return jsonResponse(401, { error: { code: 'TOKEN_SUPERSEDED', message: 'replaced' } });
      }
      return jsonResponse(200, { ok: true });
    });
    const onUnauthorized = vi.fn();
    const api = createApiClient({ url: (p) => p, getToken: () => token, fetchImpl, onUnauthorized });
    await expect(api.post('profiles', { a: 1 })).resolves.toEqual({ ok: true });
    expect(seen).toEqual(['Bearer old', 'Bearer new']);
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it('ends the session when the superseded token is still the newest it has', async () => {
    const fetchImpl = vi.fn<typeof fetch>(async () =>
      jsonResponse(401, { error: { code: 'TOKEN_SUPERSEDED', message: 'replaced' } }),
    );
    const { api, onUnauthorized } = client(fetchImpl);
    await expect(api.get('auth/me')).rejects.toBeInstanceOf(ApiError);
    expect(fetchImpl).toHaveBeenCalledTimes(1);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
  });

  it('maps a network failure to NETWORK_ERROR', async () => {
    const fetchImpl = vi.fn<typeof fetch>(async () => {
      throw new TypeError('Failed to fetch');
    });
    const err = (await client(fetchImpl)
      .api.get('x')
      .catch((e: unknown) => e)) as ApiError;
    expect(err.code).toBe('NETWORK_ERROR');
    expect(loginErrorMessage(err)).toBe('Cannot reach the server.');
  });

  it('survives non-JSON error bodies (a proxy error page)', async () => {
    const fetchImpl = vi.fn<typeof fetch>(
      async () => new Response('<html>Bad gateway</html>', { status: 502 }),
    );
    const err = (await client(fetchImpl)
      .api.get('x')
      .catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(502);
    expect(err.code).toBe('INTERNAL');
  });

  it('returns undefined for 204', async () => {
    const fetchImpl = vi.fn<typeof fetch>(async () => new Response(null, { status: 204 }));
    await expect(client(fetchImpl).api.del('terminals/1')).resolves.toBeUndefined();
  });

  it('downloads a file with the bearer token and the suggested name', async () => {
    const fetchImpl = vi.fn<typeof fetch>(
      async () =>
        new Response('- folder_name: Core\n', {
          status: 200,
          headers: {
            'content-type': 'application/yaml',
            'content-disposition': 'attachment; filename="sessions.yaml"',
          },
        }),
    );
    const file = await client(fetchImpl).api.download('profiles/export');
    expect(file.filename).toBe('sessions.yaml');
    expect(await file.blob.text()).toBe('- folder_name: Core\n');
    const headers = (fetchImpl.mock.calls[0]?.[1]?.headers ?? {}) as Record<string, string>;
    expect(headers.authorization).toBe('Bearer T');
  });

  it('reports a failed download as an ApiError', async () => {
    const fetchImpl = vi.fn<typeof fetch>(async () =>
      jsonResponse(403, { error: { code: 'FORBIDDEN', message: 'Forbidden' } }),
    );
    await expect(client(fetchImpl).api.download('profiles/export')).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
  });
});

describe('filenameFromDisposition', () => {
  it.each([
    ['attachment; filename="sessions.yaml"', 'sessions.yaml'],
    ['attachment; filename=plain.yaml', 'plain.yaml'],
    ["attachment; filename*=UTF-8''s%C3%A9ssions.yaml", 'séssions.yaml'],
    ['attachment; filename="../../etc/passwd"', 'passwd'],
    ['attachment', null],
    [null, null],
  ])('%s → %s', (header, name) => {
    expect(filenameFromDisposition(header)).toBe(name);
  });
});

describe('messages', () => {
  it.each([
    ['SESSION_REPLACED', 'You signed in somewhere else.'],
    ['SESSION_IDLE_TIMEOUT', 'Your session expired. Sign in again.'],
    ['SESSION_EXPIRED', 'Your session expired. Sign in again.'],
    ['TOKEN_EXPIRED', 'Your session expired. Sign in again.'],
    ['SESSION_REVOKED', 'You were signed out.'],
    ['ACCOUNT_DISABLED', 'Your account was disabled.'],
  ])('explains %s on the login page', (code, text) => {
    expect(sessionEndMessage(code)).toBe(text);
  });

  it.each([
    [{ code: 'INVALID_CREDENTIALS' }, 'Wrong username or password.'],
    [{ code: 'ACCOUNT_LOCKED', retryAfter: 60 }, 'Account locked. Try again in 1 minute.'],
    [{ code: 'ACCOUNT_LOCKED', retryAfter: 299 }, 'Account locked. Try again in 5 minutes.'],
    [{ code: 'RATE_LIMITED' }, 'Too many attempts. Wait a moment.'],
    [{ code: 'NETWORK_ERROR' }, 'Cannot reach the server.'],
  ])('explains login failure %o', (err, text) => {
    expect(loginErrorMessage(err)).toBe(text);
  });
});
