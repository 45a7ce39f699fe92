import { createUser, expect, newBrowserSession, signIn, test, uniqueName } from '../support/fixtures.ts';

test.describe('administration', () => {
  test('admin creates a user and that user can sign in', async ({ page, browser, broker }) => {
    await signIn(page, broker.adminUsername, broker.adminPassword);
    await page.getByRole('link', { name: 'Users' }).click();
    await expect(page.getByRole('heading', { name: 'Users' })).toBeVisible();
    await expect(page.getByRole('row', { name: new RegExp(`^${broker.adminUsername}\\b`) })).toBeVisible();

    const username = uniqueName('new');
    const password = `pw-${Date.now()}-secret`;
    const form = page.getByRole('region', { name: 'Create user' });
    await form.getByLabel('Username').fill(username);
    await form.getByLabel('Password').fill(password);
    await form.getByLabel('Role').selectOption('user');
    await form.getByRole('button', { name: 'Create user' }).click();
    await expect(page.getByRole('status')).toHaveText(`User ${username} created.`);
    const row = page.getByRole('row', { name: new RegExp(username) });
    await expect(row).toBeVisible();
    await expect(row.getByText('active')).toBeVisible();

    const other = await newBrowserSession(browser, broker.baseURL);
    try {
      await signIn(other.page, username, password);
      await expect(other.page.getByTestId('current-user')).toHaveText(username);
      await expect(other.page.getByRole('link', { name: 'Users' })).toHaveCount(0);
    } finally {
      await other.context.close();
    }
  });

  test('admin disables a user, who can then no longer sign in', async ({ page, browser, broker }) => {
    const user = await createUser(broker);
    await signIn(page, broker.adminUsername, broker.adminPassword);
    await page.getByRole('link', { name: 'Users' }).click();
    const row = page.getByRole('row', { name: new RegExp(user.username) });
    await row.getByRole('button', { name: 'Disable' }).click();
    await expect(row.getByText('disabled')).toBeVisible();

    const other = await newBrowserSession(browser, broker.baseURL);
    try {
      await other.page.goto('login');
      await other.page.getByLabel('Username').fill(user.username);
      await other.page.getByLabel('Password').fill(user.password);
      await other.page.getByRole('button', { name: 'Sign in' }).click();
      await expect(other.page.getByRole('alert')).toBeVisible();
      await expect(other.page).toHaveURL(/\/login$/);
    } finally {
      await other.context.close();
    }

    await row.getByRole('button', { name: 'Enable' }).click();
    await expect(row.getByText('active')).toBeVisible();
  });

  test('admin revokes a session and that browser returns to login', async ({ page, browser, broker }) => {
    const user = await createUser(broker);
    const victim = await newBrowserSession(browser, broker.baseURL);
    try {
      await signIn(victim.page, user.username, user.password);

      await signIn(page, broker.adminUsername, broker.adminPassword);
      await page.getByRole('link', { name: 'Sessions' }).click();
      await expect(page.getByRole('heading', { name: 'Sessions' })).toBeVisible();
      const row = page.getByRole('row', { name: new RegExp(user.username) });
      await expect(row).toBeVisible();
      await expect(page.getByRole('row', { name: /this session/ })).toBeVisible();
      await row.getByRole('button', { name: 'Revoke' }).click();
      await expect(page.getByRole('status')).toHaveText(`Session of ${user.username} revoked.`);
      await expect(row).toHaveCount(0);

      await victim.page.getByRole('link', { name: 'Account' }).click();
      await expect(victim.page).toHaveURL(/\/login$/);
      await expect(victim.page.getByRole('alert')).toHaveText('You were signed out.');
    } finally {
      await victim.context.close();
    }
  });
});
