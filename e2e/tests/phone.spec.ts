import type { Page } from '@playwright/test';
import { expect, screenshotSizes, signInAsNewUser, test } from '../support/fixtures.ts';
import { activeTerminal, openTerminal, typeInTerminal, useSshd } from '../support/terminal.ts';

/**
 * Phones (issue #17) at 390×844: the terminal takes the full width, connections and terminals
 * are a sheet behind a bottom bar, every dialog fits with its primary button on screen, the page
 * never scrolls sideways, and a row of extra keys sends what a touch keyboard cannot.
 */

async function noSidewaysScroll(page: Page): Promise<void> {
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  expect(scroll, 'the page scrolls sideways').toBeLessThanOrEqual(client);
}

test.describe('phone layout', () => {
  test.use({ viewport: { width: 390, height: 844 } });
  const env = useSshd();

  test('full-width terminal, connections in a sheet, dialogs that fit, no sideways scroll', async ({
    page,
    broker,
  }) => {
    const { sshd } = env;
    await signInAsNewUser(page, broker);
    await noSidewaysScroll(page);

    // The sheet: closed, nothing of it is reachable; open, the connections panel is there.
    const bar = page.getByRole('navigation', { name: 'Workspace' });
    await expect(page.getByRole('region', { name: 'Connections' })).toBeHidden();
    await bar.getByRole('button', { name: 'Connections' }).click();
    await expect(page.getByRole('region', { name: 'Connections' })).toBeVisible();
    await screenshotSizes(page, 'phone-sheet');
    await bar.getByRole('button', { name: 'Close' }).click();
    await expect(page.getByRole('region', { name: 'Connections' })).toBeHidden();

    // The New connection dialog fits, its Connect button on screen.
    await bar.getByRole('button', { name: 'New connection' }).click();
    const dialog = page.getByRole('dialog', { name: 'New connection' });
    await expect(dialog.getByRole('button', { name: 'Connect' })).toBeInViewport();
    await noSidewaysScroll(page);
    await dialog.getByRole('button', { name: 'Cancel' }).click();

    const pane = await openTerminal(page, sshd);
    const width = await pane.evaluate((el) => el.getBoundingClientRect().width);
    expect(width).toBeGreaterThan(380);
    await noSidewaysScroll(page);
    await screenshotSizes(page, 'phone-terminal');

    // The cursor on the last row: xterm's input helper stays inside the terminal, nothing scrolls.
    await typeInTerminal(page, 'seq 300');
    await expect(pane.locator('.xterm-rows')).toContainText('300');
    const scrolled = await page.evaluate(() => {
      const all = [
        document.scrollingElement,
        ...Array.from(
          document.querySelectorAll(
            '.terminal-body, .terminal-pane, .tab-panel, .term-main, .workspace, .shell-body',
          ),
        ),
      ];
      return all.filter((el) => el && el.scrollTop > 0).map((el) => (el as Element).className || 'document');
    });
    expect(scrolled).toEqual([]);

    // Closing the running tab asks; the question fits, its buttons on screen.
    await page.getByRole('tab').first().focus();
    await page.keyboard.press('Delete');
    const ask = page.getByRole('dialog', { name: /^Close / });
    for (const name of ['Close tab', 'End terminal', 'Cancel'])
      await expect(ask.getByRole('button', { name })).toBeInViewport();
    await noSidewaysScroll(page);
    await screenshotSizes(page, 'close-tab');
    await ask.getByRole('button', { name: 'Cancel' }).click();
    await expect(page.getByRole('tab')).toHaveCount(1);

    // Settings fit too.
    await page.getByRole('link', { name: 'Settings' }).click();
    await expect(page.getByRole('button', { name: 'Save settings' })).toBeVisible();
    await noSidewaysScroll(page);
  });

  test('the extra-keys row sends Esc, Tab, arrows, | ~ / and sticky Ctrl and Alt', async ({
    page,
    broker,
  }) => {
    const { sshd } = env;
    await signInAsNewUser(page, broker);
    const pane = await openTerminal(page, sshd);
    const keys = pane.getByRole('toolbar', { name: 'Extra keys' });
    await expect(keys).toBeVisible();
    // cat -A prints what it receives: control bytes as ^X (a tab ^I), ESC as ^[, a line end $.
    await typeInTerminal(page, 'stty -echo; cat -A; stty echo');
    for (const name of ['Escape', 'Tab', 'Up', 'Left', 'Pipe', 'Tilde', 'Slash'])
      await keys.getByRole('button', { name }).click();
    await keys.getByRole('button', { name: 'Ctrl' }).click();
    await expect(keys.getByRole('button', { name: 'Ctrl' })).toHaveAttribute('aria-pressed', 'true');
    await page.keyboard.type('a');
    await expect(keys.getByRole('button', { name: 'Ctrl' })).toHaveAttribute('aria-pressed', 'false');
    await keys.getByRole('button', { name: 'Alt' }).click();
    await page.keyboard.type('x');
    await page.keyboard.press('Enter');
    await expect(pane.locator('.xterm-rows')).toContainText('^[^I^[[A^[[D|~/^A^[x$');
    await page.keyboard.press('Control+D');
    await expect(activeTerminal(page)).toHaveAttribute('data-status', 'ready');
  });
});
