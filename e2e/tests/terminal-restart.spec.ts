import { randomBytes } from 'node:crypto';
import { createUser, expect, newBrowserSession, signIn, test } from '../support/fixtures.ts';
import { openTerminal, typeInTerminal, useSshdAndBroker } from '../support/terminal.ts';

/**
 * The API restarts under an open terminal (issue #15): the terminal host keeps the SSH session,
 * the tab reconnects by itself with the same screen and no sign-in, and what was typed while the
 * API was down reaches the remote program once.
 */
test.describe('terminals outlive the API', () => {
  const env = useSshdAndBroker();

  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    test(`vim stays open across an API ${signal === 'SIGKILL' ? 'crash (kill -9)' : 'restart (SIGTERM)'}`, async ({
      browser,
    }) => {
      const { sshd, broker } = env;
      test.setTimeout(120_000);
      const user = await createUser(broker);
      const { context, page } = await newBrowserSession(browser, broker.baseURL);
      try {
        await signIn(page, user.username, user.password);
        const pane = await openTerminal(page, sshd);
        const rows = pane.locator('.xterm-rows');

        const file = `/tmp/tether-vim-${randomBytes(6).toString('hex')}.txt`;
        await typeInTerminal(page, `vim -u NONE -N ${file}`);
        await expect(rows).toContainText('~', { timeout: 10_000 });
        await page.keyboard.type('ibefore-restart ');
        await expect(rows).toContainText('before-restart');

        // The API goes away; keystrokes typed meanwhile wait in the tab.
        const restarted = broker.restartApi(signal);
        await expect(pane).toHaveAttribute('data-status', 'reconnecting', { timeout: 10_000 });
        await page.keyboard.type('during-outage');
        await restarted;

        // Back by itself: same screen (vim, the text, insert mode), no sign-in.
        await expect(pane).toHaveAttribute('data-status', 'ready', { timeout: 30_000 });
        await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
        await expect(rows).toContainText('before-restart during-outage', { timeout: 10_000 });
        await page.keyboard.press('Escape');
        await page.keyboard.type(':wq');
        await page.keyboard.press('Enter');
        // vim has left the alternate screen: the shell's screen (with the vim command) is back, and
        // what is typed now goes to the shell, not to a vim still exiting.
        await expect(rows).toContainText(`$ vim -u NONE -N ${file}`, { timeout: 10_000 });
        await page.keyboard.type(`cat ${file}; rm -f ${file}`);
        await page.keyboard.press('Enter');
        // Typed once: the file holds the line exactly as typed, nothing doubled or lost.
        await expect(
          rows.locator(':scope > div').filter({ hasText: /^\s*before-restart during-outage\s*$/ }),
        ).toHaveCount(1, { timeout: 10_000 });
      } finally {
        await context.close();
      }
    });
  }
});
