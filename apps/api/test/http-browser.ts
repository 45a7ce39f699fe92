import { Writable } from 'node:stream';
import { ADMIN } from './helpers.js';

/**
 * A cookie-keeping client over real HTTP (fetch), for tests that go through a real proxy
 * rather than `inject`. `cookies` has the shape TestTerminalClient reads for the upgrade.
 */
export class HttpBrowser {
  cookies = new Map<string, string>();
  /** Path attribute of each cookie as set by the server. */
  cookiePaths = new Map<string, string>();
  token: string | undefined;

  /** `base` ends with "/": the app root, e.g. http://127.0.0.1:8080/ssh-ws/ */
  constructor(readonly base: string) {}

  async request(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const res = await fetch(new URL(path.replace(/^\//, ''), this.base), {
      method,
      redirect: 'manual',
      headers: {
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...(this.cookies.size ? { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const path = attrs.map((a) => a.trim()).find((a) => /^path=/i.test(a));
      if (value === '' || /max-age=0/i.test(line)) this.cookies.delete(name);
      else {
        this.cookies.set(name, value);
        if (path) this.cookiePaths.set(name, path.slice(5));
      }
    }
    return res;
  }

  async login(username = ADMIN.username, password = ADMIN.password, headers: Record<string, string> = {}) {
    const res = await this.request('POST', 'api/auth/login', { username, password }, headers);
    if (res.status === 200) this.token = ((await res.clone().json()) as { token: string }).token;
    return res;
  }
}

/** A pino destination that keeps every JSON line, for asserting on log output. */
export function logCapture() {
  const lines: Array<Record<string, unknown>> = [];
  let partial = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      partial += chunk.toString();
      let nl = partial.indexOf('\n');
      while (nl >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
        nl = partial.indexOf('\n');
      }
      done();
    },
  });
  return { stream, lines, find: (msg: string) => lines.filter((l) => l.msg === msg) };
}

/** A minimal "built SPA" (index.html with an inline script, its CSP hash, one asset). */
export async function fakeWebDist(): Promise<string> {
  const { createHash, randomBytes } = await import('node:crypto');
  const { mkdirSync, writeFileSync } = await import('node:fs');
  const dir = `/tmp/tether-web-${randomBytes(6).toString('hex')}`;
  mkdirSync(`${dir}/assets`, { recursive: true });
  const inline = 'window.__base = document.baseURI;';
  writeFileSync(
    `${dir}/index.html`,
    `<!doctype html><html><head><script>${inline}</script></head><body><div id="root"></div><script type="module" src="./assets/app-abc123.js"></script></body></html>`,
  );
  writeFileSync(`${dir}/assets/app-abc123.js`, 'console.log("app");');
  const hash = createHash('sha256').update(inline, 'utf8').digest('base64');
  writeFileSync(`${dir}/csp-hashes.json`, JSON.stringify({ 'script-src': [`'sha256-${hash}'`] }));
  return dir;
}
