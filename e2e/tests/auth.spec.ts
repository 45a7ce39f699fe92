import type { LoginResponse } from '@tether/protocol';
import { createUser, expect, newBrowserSession, signIn, test } from '../support/fixtures.ts';

test.describe('authentication', () => {
  test('signs in and shows the app shell', async ({ page, broker }) => {
    await page.goto('./');
    await expect(page).toHaveURL(/\/login$/);
    await page.getByLabel('Username').fill(broker.adminUsername);
    await page.getByLabel('Password').fill(broker.adminPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();

    await expect(page).toHaveURL(/\/terminals$/);
    await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
    await expect(page.getByTestId('current-user')).toHaveText(broker.adminUsername);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await expect(nav.getByRole('link', { name: 'Terminals', exact: true })).toBeVisible();
    await expect(nav.getByRole('link', { name: 'Users' })).toBeVisible();
    await expect(nav.getByRole('link', { name: 'Sessions' })).toBeVisible();
    await expect(nav.getByRole('link', { name: 'Account' })).toBeVisible();
    await expect(page.getByRole('button', { name: 'New connection' }).first()).toBeVisible();
  });

  test('wrong password shows an error', async ({ page, broker }) => {
    await page.goto('login');
    await page.getByLabel('Username').fill(broker.adminUsername);
    await page.getByLabel('Password').fill('definitely-not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert')).toHaveText('Wrong username or password.');
    await expect(page).toHaveURL(/\/login$/);
    await expect(page.getByLabel('Password')).toHaveValue('');
  });

  test('an unknown user gets the same error as a wrong password', async ({ page }) => {
    await page.goto('login');
    await page.getByLabel('Username').fill('nobody-here');
    await page.getByLabel('Password').fill('whatever-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert')).toHaveText('Wrong username or password.');
  });

  test('protected routes redirect to login when signed out, and back after signing in', async ({
    page,
    broker,
  }) => {
    for (const path of ['terminals', 'admin/users', 'admin/sessions', 'account']) {
      await page.goto(path);
      await expect(page).toHaveURL(/\/login$/);
      await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
    }
    await page.goto('admin/users');
    await page.getByLabel('Username').fill(broker.adminUsername);
    await page.getByLabel('Password').fill(broker.adminPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page).toHaveURL(/\/admin\/users$/);
    await expect(page.getByRole('heading', { name: 'Users' })).toBeVisible();
  });

  test('a non-admin sees no admin navigation and cannot open admin pages', async ({ page, broker }) => {
    const user = await createUser(broker);
    await signIn(page, user.username, user.password);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await expect(nav.getByRole('link', { name: 'Account' })).toBeVisible();
    await expect(nav.getByRole('link', { name: 'Users' })).toHaveCount(0);
    await expect(nav.getByRole('link', { name: 'Sessions' })).toHaveCount(0);
    // Loading the URL signs out (memory-only token); after signing in, the admin page bounces.
    await page.goto('admin/users');
    await page.getByLabel('Username').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page).toHaveURL(/\/terminals$/);
    await expect(page.getByRole('heading', { name: 'Users' })).toHaveCount(0);
  });

  test('a page reload returns to the login page; the token lives in memory only', async ({
    page,
    broker,
  }) => {
    await page.goto('login');
    await page.getByLabel('Username').fill(broker.adminUsername);
    await page.getByLabel('Password').fill(broker.adminPassword);
    const loginResponse = page.waitForResponse(
      (r) => r.url().endsWith('/api/auth/login') && r.request().method() === 'POST',
    );
    await page.getByRole('button', { name: 'Sign in' }).click();
    const { token } = (await (await loginResponse).json()) as LoginResponse;
    expect(token.length).toBeGreaterThan(20);
    await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();

    const stored = await page.evaluate(() => ({
      local: Object.entries(localStorage).map(([k, v]) => `${k}=${v}`),
      session: Object.entries(sessionStorage).map(([k, v]) => `${k}=${v}`),
      cookie: document.cookie,
    }));
    expect(stored.local.join('\n')).not.toContain(token);
    expect(stored.session.join('\n')).not.toContain(token);
    expect(stored.cookie).not.toContain(token);
    expect(stored.local.join('\n')).not.toMatch(/eyJ[\w-]+\.eyJ/);
    expect(stored.session.join('\n')).not.toMatch(/eyJ[\w-]+\.eyJ/);
    expect(stored.cookie).not.toMatch(/eyJ[\w-]+\.eyJ/);

    await page.reload();
    await expect(page).toHaveURL(/\/login$/);
    await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  });

  test('a second login elsewhere sends the first browser back to login', async ({
    page,
    browser,
    broker,
  }) => {
    const user = await createUser(broker);
    await signIn(page, user.username, user.password);

    const elsewhere = await newBrowserSession(browser, broker.baseURL);
    try {
      await signIn(elsewhere.page, user.username, user.password);
      // The first browser learns it on its next request.
      await page.getByRole('link', { name: 'Account' }).click();
      await expect(page).toHaveURL(/\/login$/);
      await expect(page.getByRole('alert')).toHaveText('You signed in somewhere else.');
      // The newer session is unaffected.
      await elsewhere.page.getByRole('link', { name: 'Account' }).click();
      await expect(elsewhere.page.getByRole('heading', { name: 'Account' })).toBeVisible();
    } finally {
      await elsewhere.context.close();
    }
  });

  test('sign out invalidates the token on the server', async ({ page, broker }) => {
    await page.goto('login');
    await page.getByLabel('Username').fill(broker.adminUsername);
    await page.getByLabel('Password').fill(broker.adminPassword);
    const loginResponse = page.waitForResponse(
      (r) => r.url().endsWith('/api/auth/login') && r.request().method() === 'POST',
    );
    await page.getByRole('button', { name: 'Sign in' }).click();
    const { token } = (await (await loginResponse).json()) as LoginResponse;
    await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();

    // Same cookie jar as the page, so only the session state decides.
    const before = await page.request.get('api/auth/me', { headers: { authorization: `Bearer ${token}` } });
    expect(before.status()).toBe(200);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect(page).toHaveURL(/\/login$/);
    await expect(page.getByRole('alert')).toHaveText('You signed out.');

    const after = await page.request.get('api/auth/me', { headers: { authorization: `Bearer ${token}` } });
    expect(after.status()).toBe(401);
  });

  test('changing the password keeps this session and ends the others', async ({ page, browser, broker }) => {
    const user = await createUser(broker);
    const other = await newBrowserSession(browser, broker.baseURL);
    try {
      await signIn(other.page, user.username, user.password);
      await signIn(page, user.username, user.password);
      await page.getByRole('link', { name: 'Account' }).click();
      const newPassword = `${user.password}-new`;
      await page.getByLabel('Current password').fill(user.password);
      await page.getByLabel('New password', { exact: true }).fill(newPassword);
      await page.getByLabel('Confirm new password').fill(newPassword);
      await page.getByRole('button', { name: 'Change password' }).click();
      await expect(page.getByRole('status').filter({ hasText: 'Password changed' })).toBeVisible();
      await page.getByRole('link', { name: 'Terminals', exact: true }).click();
      await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();

      // The other browser's session was ended by the change.
      await other.page.getByRole('link', { name: 'Account' }).click();
      await expect(other.page).toHaveURL(/\/login$/);
      await expect(other.page.getByRole('alert')).toBeVisible();

      await page.getByRole('button', { name: 'Sign out' }).click();
      await signIn(page, user.username, newPassword);
    } finally {
      await other.context.close();
    }
  });
});
