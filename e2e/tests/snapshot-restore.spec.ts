import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { createUser, expect, newBrowserSession, signIn, test } from '../support/fixtures.ts';
import {
  activeTerminal,
  openTerminal,
  typeInTerminal,
  useSshdAndBroker,
  workspaceSaved,
} from '../support/terminal.ts';

/**
 * Exact restore in the browser (issue #23): a program sets a scroll region and the DEC
 * line-drawing charset, the page is reloaded (a fresh client: the screen comes from a snapshot),
 * then the program scrolls the region and draws a line character. Chromium's xterm must show
 * them where a terminal that saw every byte would: the region scrolls (the top row stays), and
 * the line character is a line, not the letter x.
 */
test.describe('snapshot restore in the browser', () => {
  const env = useSshdAndBroker();

  test('a reloaded tab continues a scroll region and a charset the program set before', async ({
    browser,
  }) => {
    const { sshd, broker } = env;
    test.setTimeout(90_000);
    const user = await createUser(broker);
    const { context, page } = await newBrowserSession(browser, broker.baseURL);
    // The program's second half waits for this file: after the reattach, not on a timer.
    const go = `/tmp/tether-e2e-go-${randomUUID()}`;
    try {
      await signIn(page, user.username, user.password);
      const stored = workspaceSaved(page);
      const pane = await openTerminal(page, sshd);
      const terminalId = await pane.getAttribute('data-terminal-id');
      await typeInTerminal(
        page,
        `printf '\\033[2J\\033[H\\033(0lqqqk\\033(B top\\033[5;10r\\033[10;1H'; ` +
          `while [ ! -e ${go} ]; do sleep 0.1; done; ` +
          `printf 'a\\nb\\nc\\n\\033(0x\\033(B'; sleep 30`,
      );
      const rows = pane.locator('.xterm-rows > div');
      await expect(rows.nth(0)).toHaveText(/^┌───┐ top\s*$/);

      await stored;
      await page.reload();
      await signIn(page, user.username, user.password);
      // The tab reopens by itself after signing in (the workspace follows the user).
      await expect(page.locator(`.term-item[data-terminal-id="${terminalId}"]`)).toHaveAttribute(
        'data-state',
        'open',
      );
      const again = activeTerminal(page);
      await expect(again).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });
      const restored = again.locator('.xterm-rows > div');
      await expect(restored.nth(0)).toHaveText(/^┌───┐ top\s*$/);

      writeFileSync(go, '');
      // (The remote tty turns each \n into \r\n.) a, b and c scrolled up inside rows 5–10; the
      // top row did not move; x is a line.
      await expect(restored.nth(9)).toHaveText(/^│\s*$/, { timeout: 10_000 });
      await expect(restored.nth(6)).toHaveText(/^a\s*$/);
      await expect(restored.nth(7)).toHaveText(/^b\s*$/);
      await expect(restored.nth(8)).toHaveText(/^c\s*$/);
      await expect(restored.nth(0)).toHaveText(/^┌───┐ top\s*$/);
      for (const blank of [1, 2, 3, 4, 5, 10]) await expect(restored.nth(blank)).toHaveText(/^\s*$/);
    } finally {
      rmSync(go, { force: true });
      await context.close();
    }
  });
});
