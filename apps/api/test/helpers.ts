import { randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import postgres from 'postgres';
import { afterEach, inject } from 'vitest';
import { type BuildOptions, buildApp } from '../src/app.js';
import { type Config, loadConfig } from '../src/config.js';

export type Driver = 'pglite' | 'postgres';

/** Both database drivers the broker supports; every API suite runs against each. */
export const DRIVERS: Driver[] = ['pglite', 'postgres'];

export const ADMIN = { username: 'admin', password: 'admin-Password-123' };

/** A fresh, empty PostgreSQL database on the run's throwaway cluster. */
export async function freshPostgresDatabase(): Promise<string> {
  const admin = inject('postgresUrl');
  if (!admin) throw new Error(`PostgreSQL unavailable: ${inject('postgresSkipReason')}`);
  const name = `t_${randomBytes(6).toString('hex')}`;
  const sql = postgres(admin, { max: 1, onnotice: () => {} });
  await sql.unsafe(`CREATE DATABASE ${name}`);
  await sql.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

export interface TestApp {
  app: FastifyInstance;
  config: Config;
  close(): Promise<void>;
}

/** Builds the real broker on a fresh database of the given driver. */
export async function buildTestApp(
  driver: Driver,
  env: Record<string, string> = {},
  options: BuildOptions = {},
): Promise<TestApp> {
  const dataDir = `/tmp/tether-test-${randomBytes(6).toString('hex')}`;
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    JWT_SECRET: randomBytes(32).toString('hex'),
    ADMIN_USERNAME: ADMIN.username,
    ADMIN_PASSWORD: ADMIN.password,
    LOG_LEVEL: 'silent',
    // The throwaway sshd listens on loopback, which the default policy denies.
    SSH_ALLOWED_TARGETS: '127.0.0.0/8',
    // Terminals in this process: each test's broker ends its own (terminal-host.test.ts covers
    // the separate host process).
    TERMINAL_HOST: 'embedded',
    ...(driver === 'postgres' ? { DATABASE_URL: await freshPostgresDatabase() } : {}),
    ...env,
  });
  if (driver === 'pglite') config.database.dataDir = 'memory://';
  const app = await buildApp(config, { logger: false, ...options });
  await app.ready();
  return {
    app,
    config,
    close: async () => {
      await app.close();
      const { rmSync } = await import('node:fs');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Cookie jar for one simulated browser: keeps the fingerprint cookie between requests. */
export class Browser {
  cookies = new Map<string, string>();
  token: string | undefined;

  constructor(
    private readonly app: FastifyInstance,
    private readonly base = '',
  ) {}

  async request(
    method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
    url: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<LightMyRequestResponse> {
    const res = await this.app.inject({
      method,
      url: `${this.base}${url}`,
      payload: body === undefined ? undefined : (body as object),
      headers: {
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...(this.cookies.size ? { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {}),
        'user-agent': 'tether-test',
        ...headers,
      },
    });
    for (const c of res.cookies as Array<{ name: string; value: string; maxAge?: number }>) {
      if (c.value === '' || c.maxAge === 0) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
    return res;
  }

  async login(username = ADMIN.username, password = ADMIN.password): Promise<LightMyRequestResponse> {
    const res = await this.request('POST', '/api/auth/login', { username, password });
    if (res.statusCode === 200) this.token = res.json().token;
    return res;
  }
}

/** A new user (role `user`, password `<name>-password`) created by `admin`, signed in in a browser of their own. */
/**
 * A test app (`buildTestApp`, sign-ins not rate-limited) with its first admin signed in: the
 * set-up most route tests start from.
 */
export async function withAdmin(
  driver: Driver,
  env: Record<string, string> = {},
): Promise<{ t: TestApp; admin: Browser }> {
  const t = await buildTestApp(driver, { LOGIN_RATE_LIMIT: '1000', ...env });
  const admin = new Browser(t.app);
  const login = await admin.login();
  if (login.statusCode !== 200) throw new Error(`signing in the admin: ${login.statusCode} ${login.body}`);
  return { t, admin };
}

/**
 * For a describe block: `start()` builds the test's app with its first admin signed in
 * (`withAdmin`), `bare()` one with nobody signed in; either is closed after the test. `current`
 * is the running test's app.
 */
export function useTestApp(driver: Driver) {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });
  return {
    async start(env: Record<string, string> = {}): Promise<{ t: TestApp; admin: Browser }> {
      const started = await withAdmin(driver, env);
      t = started.t;
      return started;
    },
    async bare(env: Record<string, string> = {}): Promise<TestApp> {
      t = await buildTestApp(driver, env);
      return t;
    },
    get current(): TestApp {
      if (!t) throw new Error('no test app: call start() or bare() first');
      return t;
    },
  };
}

export async function addUser(
  app: FastifyInstance,
  admin: Browser,
  username: string,
): Promise<{ browser: Browser; id: string }> {
  const created = await admin.request('POST', '/api/admin/users', {
    username,
    password: `${username}-password`,
    role: 'user',
  });
  if (created.statusCode !== 201)
    throw new Error(`creating ${username}: ${created.statusCode} ${created.body}`);
  const browser = new Browser(app);
  const login = await browser.login(username, `${username}-password`);
  if (login.statusCode !== 200) throw new Error(`signing in ${username}: ${login.statusCode}`);
  return { browser, id: created.json().user.id as string };
}
