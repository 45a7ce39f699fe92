import {
  type APIRequestContext,
  type Browser,
  type BrowserContext,
  test as base,
  expect,
  type Page,
  request,
} from '@playwright/test';
import type { LoginResponse } from '@tether/protocol';

export interface BrokerEnv {
  baseURL: string;
  adminUsername: string;
  adminPassword: string;
}

export function brokerEnv(): BrokerEnv {
  const baseURL = process.env.TETHER_E2E_BASE_URL;
  const adminUsername = process.env.TETHER_E2E_ADMIN_USERNAME;
  const adminPassword = process.env.TETHER_E2E_ADMIN_PASSWORD;
  if (!baseURL || !adminUsername || !adminPassword)
    throw new Error('global setup did not run (TETHER_E2E_* missing)');
  return { baseURL, adminUsername, adminPassword };
}

/** Every page of the suite uses xterm's DOM renderer so terminal text is in `.xterm-rows`. */
export async function prepareContext(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    (window as unknown as { __TETHER_E2E__: boolean }).__TETHER_E2E__ = true;
  });
}

/** A second, independent browser (its own cookies): "somewhere else". */
export async function newBrowserSession(
  browser: Browser,
  baseURL: string,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ baseURL, viewport: { width: 1280, height: 800 } });
  await prepareContext(context);
  return { context, page: await context.newPage() };
}

export async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.goto('login');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
}

let userSeq = 0;
export function uniqueName(prefix: string): string {
  userSeq += 1;
  return `${prefix}${Date.now().toString(36)}${userSeq}`;
}

/**
 * REST as the admin, outside any browser (its own cookie jar). Signing in here ends the admin's
 * browser session (one live session per user), so call it before the UI signs in as admin.
 */
export async function adminApi(
  env: BrokerEnv,
): Promise<{ api: APIRequestContext; token: string; dispose: () => Promise<void> }> {
  const api = await request.newContext({ baseURL: env.baseURL });
  const res = await api.post('api/auth/login', {
    data: { username: env.adminUsername, password: env.adminPassword },
  });
  expect(res.status(), await res.text()).toBe(200);
  const body = (await res.json()) as LoginResponse;
  return { api, token: body.token, dispose: () => api.dispose() };
}

export async function createUser(
  env: BrokerEnv,
  role: 'user' | 'admin' = 'user',
): Promise<{ username: string; password: string }> {
  const username = uniqueName(role === 'admin' ? 'adm' : 'u');
  const password = `pw-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  const { api, token, dispose } = await adminApi(env);
  try {
    const res = await api.post('api/admin/users', {
      data: { username, password, role },
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status(), await res.text()).toBeLessThan(300);
    await api.post('api/auth/logout', { headers: { authorization: `Bearer ${token}` } });
  } finally {
    await dispose();
  }
  return { username, password };
}

/** A new user, signed in on `page`; returns the user. */
export async function signInAsNewUser(
  page: Page,
  broker: BrokerEnv,
): Promise<Awaited<ReturnType<typeof createUser>>> {
  const user = await createUser(broker);
  await signIn(page, user.username, user.password);
  return user;
}

export const test = base.extend<{ broker: BrokerEnv }>({
  // biome-ignore lint/correctness/noEmptyPattern: Playwright fixtures must destructure their dependencies
  broker: async ({}, use) => {
    await use(brokerEnv());
  },
  // biome-ignore lint/correctness/noEmptyPattern: Playwright fixtures must destructure their dependencies
  baseURL: async ({}, use) => {
    await use(brokerEnv().baseURL);
  },
  context: async ({ context }, use) => {
    await prepareContext(context);
    await use(context);
  },
});

/**
 * With TETHER_E2E_SCREENSHOTS=<dir>: the page at a desktop and a phone size, as `<name>-WxH.png`
 * (for looking at a new screen as a user would); the viewport is put back afterwards.
 */
export async function screenshotSizes(page: Page, name: string): Promise<void> {
  const dir = process.env.TETHER_E2E_SCREENSHOTS;
  if (!dir) return;
  const before = page.viewportSize();
  for (const [w, h] of [
    [1440, 900],
    [390, 844],
  ] as const) {
    await page.setViewportSize({ width: w, height: h });
    // Let the layout settle as a user would see it: transitions end, terminals refit (100 ms debounce).
    await page.waitForTimeout(400);
    await page.screenshot({ path: `${dir}/${name}-${w}x${h}.png` });
  }
  if (before) await page.setViewportSize(before);
}

export { expect };
