import { createUser, expect, newBrowserSession, screenshotSizes, signIn, test } from '../support/fixtures.ts';
import { openTerminal, typeInTerminal, useSshdAndBroker } from '../support/terminal.ts';

/**
 * The terminal host is upgraded under an open tab (issue #15): a new generation takes new
 * terminals, the tab's terminal stays on the old one, and its user is told until when.
 */
test.describe('terminal host upgrade', () => {
  const env = useSshdAndBroker();

  test('the open tab says the host was upgraded and carries on; a new tab uses the new host', async ({
    browser,
  }) => {
    const { sshd, broker } = env;
    test.setTimeout(90_000);
    const user = await createUser(broker);
    const { context, page } = await newBrowserSession(browser, broker.baseURL);
    try {
      await signIn(page, user.username, user.password);
      const pane = await openTerminal(page, sshd);
      const rows = pane.locator('.xterm-rows');
      await typeInTerminal(page, 'echo "before-"upgrade');
      await expect(rows).toContainText('before-upgrade');

      await broker.startHostGeneration();
      const notice = pane.locator('.terminal-notice');
      await expect(notice).toContainText('The terminal host was upgraded', { timeout: 10_000 });
      await expect(notice).toContainText('at the latest');
      // The terminal never left: no reconnect, and typing still reaches the same shell.
      await expect(pane).toHaveAttribute('data-status', 'ready');
      await typeInTerminal(page, 'echo "after-"upgrade');
      await expect(rows).toContainText('after-upgrade');

      await screenshotSizes(page, 'host-upgrade');

      await notice.getByRole('button', { name: 'Dismiss' }).click();
      await expect(notice).toHaveCount(0);
    } finally {
      await context.close();
    }
  });
});
