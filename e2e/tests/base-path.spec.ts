import { expect, test } from '@playwright/test';
import { prepareContext } from '../support/fixtures.ts';
import { type RunningBroker, startBroker } from '../support/server.ts';

// The same build must work under a prefix: Vite `base: './'` plus a run-time base path.
test.describe('served under a BASE_PATH', () => {
  let broker: RunningBroker;
  test.beforeAll(async () => {
    broker = await startBroker({ basePath: '/ssh-ws' });
  });
  test.afterAll(async () => {
    await broker?.stop();
  });

  test('deep links, API calls and routing stay under the prefix', async ({ browser }) => {
    const context = await browser.newContext();
    await prepareContext(context);
    const page = await context.newPage();
    const origin = new URL(broker.baseURL).origin;
    const outside: string[] = [];
    page.on('request', (r) => {
      const url = new URL(r.url());
      if (url.origin === origin && !url.pathname.startsWith('/ssh-ws/')) outside.push(url.pathname);
    });

    await page.goto(`${broker.baseURL}admin/users`);
    await expect(page).toHaveURL(`${broker.baseURL}login`);
    await page.getByLabel('Username').fill(broker.adminUsername);
    await page.getByLabel('Password').fill(broker.adminPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page).toHaveURL(`${broker.baseURL}admin/users`);
    await expect(page.getByRole('row', { name: /admin/ })).toBeVisible();

    await page.getByRole('link', { name: 'Terminals', exact: true }).click();
    await expect(page).toHaveURL(`${broker.baseURL}terminals`);
    expect(outside).toEqual([]);
    await context.close();
  });
});
