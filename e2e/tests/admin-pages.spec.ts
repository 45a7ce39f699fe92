import { request } from '@playwright/test';
import { type SshdHarness, sshdSkipReason, startSshd } from '@tether/testkit';
import { createUser, expect, newBrowserSession, signIn, test, uniqueName } from '../support/fixtures.ts';
import { openTerminal, sshdName, typeInTerminal } from '../support/terminal.ts';

test.describe('admin pages', () => {
  test('the dashboard shows live figures and refreshes them', async ({ page, broker }) => {
    await signIn(page, broker.adminUsername, broker.adminPassword);
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await expect(page).toHaveURL(/\/admin$/);
    await expect(page.getByRole('heading', { name: 'Dashboard', level: 1 })).toBeVisible();

    const connections = page.getByRole('region', { name: 'Connections', exact: true });
    await expect(connections).toContainText(/\d+ \/ \d+/);
    await expect(connections.getByRole('meter', { name: 'Connections used' })).toBeVisible();
    const users = page.getByRole('region', { name: 'Users', exact: true });
    await expect(users.getByRole('definition').first()).toHaveText(/^[1-9]\d*$/);
    await expect(page.getByRole('region', { name: 'Terminals', exact: true })).toContainText('Detached');
    await expect(page.getByRole('region', { name: 'Uptime', exact: true })).toContainText(
      /\d+ (s|min|h|d)\b/,
    );
    await expect(page.getByRole('region', { name: 'Memory', exact: true })).toContainText(
      /\d+(\.\d+)? (KiB|MiB|GiB)/,
    );
    await expect(page.getByRole('region', { name: 'CPU', exact: true })).toContainText('Load (1, 5, 15 min)');
    await expect(page.getByRole('region', { name: 'Disk', exact: true })).toContainText('available');
    const server = page.getByRole('region', { name: 'Server', exact: true });
    await expect(server).toContainText(/\d+\.\d+\.\d+/);
    await expect(server).toContainText('Hostname');
    // The node serving the page lists itself, up (the only node with the embedded database).
    const nodes = page.getByRole('region', { name: 'Nodes', exact: true });
    await expect(nodes.getByRole('row', { name: /\(this node\)/ })).toContainText('up');

    // Auto-refresh every 5 s.
    const updated = page.getByRole('status').filter({ hasText: 'Updated' });
    const first = await updated.textContent();
    await expect(updated).not.toHaveText(first ?? '', { timeout: 12_000 });
  });

  test('a user without admin permissions sees no admin pages', async ({ page, broker }) => {
    const user = await createUser(broker);
    await signIn(page, user.username, user.password);
    for (const name of ['Dashboard', 'All terminals', 'Audit log', 'Users']) {
      await expect(page.getByRole('link', { name })).toHaveCount(0);
    }
    // Typing the address of an admin page lands back on the terminals.
    for (const path of ['admin', 'admin/audit', 'admin/terminals']) {
      await page.evaluate((to) => {
        history.pushState(null, '', to);
        dispatchEvent(new PopStateEvent('popstate'));
      }, path);
      await expect(page).toHaveURL(/\/terminals$/);
    }
    await page.getByRole('link', { name: 'Credentials' }).click();
    await expect(page.getByRole('heading', { name: 'Credentials' })).toBeVisible();
  });

  test.describe('with sshd', () => {
    const skipReason = sshdSkipReason();
    test.skip(skipReason !== null, skipReason ?? '');
    let sshd: SshdHarness;
    test.beforeAll(async () => {
      sshd = await startSshd();
    });
    test.afterAll(async () => {
      await sshd?.stop();
    });

    test("admin sees another user's terminal and ends it", async ({ page, browser, broker }) => {
      const user = await createUser(broker);
      const owner = await newBrowserSession(browser, broker.baseURL);
      try {
        await signIn(owner.page, user.username, user.password);
        const pane = await openTerminal(owner.page, sshd);
        await typeInTerminal(owner.page, 'echo ru""nning');
        await expect(pane.locator('.xterm-rows')).toContainText('running');
        const terminalId = await pane.getAttribute('data-terminal-id');

        await signIn(page, broker.adminUsername, broker.adminPassword);
        await page.getByRole('link', { name: 'All terminals' }).click();
        await expect(page.getByRole('heading', { name: 'All terminals' })).toBeVisible();
        const row = page.locator(`tr[data-terminal-id="${terminalId}"]`);
        await expect(row).toBeVisible();
        await expect(row.getByRole('rowheader')).toHaveText(user.username);
        await expect(row).toContainText(sshdName(sshd));
        await expect(row).toContainText('running');
        await expect(row.getByRole('cell').nth(3)).toHaveText('1'); // one viewer attached

        await row.getByRole('button', { name: /^End / }).click();
        const confirm = page.getByRole('dialog', { name: /^End / });
        await expect(confirm).toContainText(user.username);
        await confirm.getByRole('button', { name: 'End terminal' }).click();
        await expect(page.getByRole('status')).toContainText(`of ${user.username} ended`);
        await expect(row).toHaveCount(0);

        // The owner's browser learns at once that the terminal is over.
        await expect(pane).toHaveAttribute('data-status', /exited|error/);
        await page.getByLabel('Show').selectOption('all');
        await expect(row).toBeVisible();
        await expect(row.getByRole('button', { name: /^End / })).toHaveCount(0);
      } finally {
        await owner.context.close();
      }
    });
  });

  test('the audit log lists sign-ins, filters by type and user, and pages', async ({
    page,
    browser,
    broker,
  }) => {
    const user = await createUser(broker);
    const other = await newBrowserSession(browser, broker.baseURL);
    try {
      await signIn(other.page, user.username, user.password);
    } finally {
      await other.context.close();
    }
    // Enough failed sign-ins (unknown names) to need a second page of 50.
    const anon = await request.newContext({ baseURL: broker.baseURL });
    try {
      for (let i = 0; i < 55; i++) {
        const res = await anon.post('api/auth/login', {
          data: { username: uniqueName('ghost'), password: 'not-the-password' },
        });
        expect(res.status()).toBe(401);
      }
    } finally {
      await anon.dispose();
    }

    await signIn(page, broker.adminUsername, broker.adminPassword);
    await page.getByRole('link', { name: 'Audit log' }).click();
    await expect(page.getByRole('heading', { name: 'Audit log' })).toBeVisible();
    const table = page.getByRole('table', { name: 'Audit events' });
    const rows = table.locator('tbody tr');
    await expect(rows.first()).toBeVisible();
    // Newest first: the admin's own sign-in leads, the failed ones follow.
    const newestLogin = table.locator('tr[data-event-type="auth.login"]').first();
    await expect(newestLogin).toContainText(broker.adminUsername);
    await expect(newestLogin).toContainText('success');

    // Type filter.
    await page.getByLabel('Type').fill('auth.login');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect(rows).toHaveCount(50);
    expect(
      new Set(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-event-type')))),
    ).toEqual(new Set(['auth.login']));
    await expect(rows.filter({ hasText: 'failure' }).first()).toBeVisible();

    // Paging: the next page appends older events.
    await page.getByRole('button', { name: 'Load more' }).click();
    await expect.poll(() => rows.count()).toBeGreaterThan(50);
    const ids = await rows.evaluateAll((trs) => trs.map((tr) => tr.textContent));
    expect(new Set(ids).size).toBe(ids.length);

    // User filter: only that user's events, including the sign-in.
    await page.getByLabel('Type').fill('');
    await page.getByLabel('User').selectOption({ label: user.username });
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect(rows.first()).toContainText(user.username);
    const users = await rows.evaluateAll((trs) => trs.map((tr) => tr.children[1]?.textContent));
    expect(new Set(users)).toEqual(new Set([user.username]));
    await expect(rows.filter({ hasText: 'auth.login' })).toHaveCount(1);

    // A time window in the future has no events.
    await page.getByRole('button', { name: 'Reset' }).click();
    await page.getByLabel('From', { exact: true }).fill('2999-01-01T00:00');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect(table).toContainText('No events match these filters.');
  });
});
