import { expect, signIn, signInAsNewUser, test } from '../support/fixtures.ts';
import { activeTerminal, openTerminal, typeInTerminal, useSshd } from '../support/terminal.ts';

/**
 * Per-user terminal settings (issue #17): stored on the broker, so they follow the user to the
 * next sign-in; a change reaches the open terminal at once.
 */
test.describe('settings', () => {
  const env = useSshd();

  test('font size, theme and cursor are saved on the broker, apply to the open terminal, and come back after signing in', async ({
    page,
    broker,
  }) => {
    const { sshd } = env;
    const user = await signInAsNewUser(page, broker);
    const pane = await openTerminal(page, sshd);
    const rowHeight = () =>
      pane
        .locator('.xterm-rows > div')
        .first()
        .evaluate((el) => el.getBoundingClientRect().height);
    const before = await rowHeight();

    await page.getByRole('link', { name: 'Settings' }).click();
    await expect(page.getByRole('heading', { name: 'Settings' })).toBeVisible();
    const size = page.getByLabel('Font size');
    await expect(size).toHaveValue('13');
    await size.fill('40');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect(page.getByText('Font size must be from 8 to 32.')).toBeVisible();
    await size.fill('20');
    await page.getByRole('radio', { name: 'Light' }).check();
    await page.getByLabel('Cursor', { exact: true }).selectOption('bar');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect(page.getByRole('status')).toHaveText('Settings saved.');
    await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');

    // The open terminal took the new size (its rows are taller) without reconnecting.
    await page.getByRole('link', { name: 'Terminals' }).click();
    await expect(pane).toHaveAttribute('data-status', 'ready');
    await expect.poll(rowHeight).toBeGreaterThan(before * 1.3);
    // … and the light palette: dark text on a light background.
    const background = activeTerminal(page).locator('.xterm-scrollable-element');
    await expect(background).toHaveCSS('background-color', 'rgb(251, 251, 252)');
    await typeInTerminal(page, 'echo st""ill');
    await expect(activeTerminal(page).locator('.xterm-rows')).toContainText('still');

    // Another sign-in (a reload: the token is in memory) finds them on the broker.
    await page.reload();
    await signIn(page, user.username, user.password);
    await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');
    await page.getByRole('link', { name: 'Settings' }).click();
    await expect(page.getByLabel('Font size')).toHaveValue('20');
    await expect(page.getByLabel('Cursor', { exact: true })).toHaveValue('bar');

    // "Match the system" follows the system's scheme, live, in the open terminal too.
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.getByRole('radio', { name: 'Match the system' }).check();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect(page.getByRole('status')).toHaveText('Settings saved.');
    await page.getByRole('link', { name: 'Terminals' }).click();
    await expect(background).toHaveCSS('background-color', 'rgb(11, 14, 19)');
    await page.emulateMedia({ colorScheme: 'light' });
    await expect(background).toHaveCSS('background-color', 'rgb(251, 251, 252)');
    await page.getByRole('link', { name: 'Settings' }).click();

    // Reset: everything back to the defaults.
    await page.getByRole('button', { name: 'Reset to defaults' }).click();
    await expect(page.getByRole('status')).toHaveText('Settings back to their defaults.');
    await expect(page.getByLabel('Font size')).toHaveValue('13');
    await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
    await page.getByRole('link', { name: 'Terminals' }).click();
    await expect(background).toHaveCSS('background-color', 'rgb(11, 14, 19)');
  });

  test('copy on select puts the selection on the clipboard; a right click pastes it', async ({
    page,
    broker,
  }) => {
    const { sshd } = env;
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
    await signInAsNewUser(page, broker);
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByLabel('Copy selected text to the clipboard').check();
    await page.getByLabel('Paste with a right click').check();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect(page.getByRole('status')).toHaveText('Settings saved.');
    await page.getByRole('link', { name: 'Terminals' }).click();

    const pane = await openTerminal(page, sshd);
    await typeInTerminal(page, 'echo cl""ip-me');
    const rows = pane.locator('.xterm-rows');
    await expect(rows).toContainText('clip-me');
    // Double-click selects a word; copy-on-select puts it on the clipboard.
    // (xterm's screen layer takes the mouse: double-click where the word is drawn.)
    const word = await rows.getByText('clip-me', { exact: true }).boundingBox();
    if (!word) throw new Error('the word is not drawn');
    await page.mouse.dblclick(word.x + 10, word.y + word.height / 2);
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe('clip-me');

    // A right click pastes it at the prompt.
    await page.evaluate(() => navigator.clipboard.writeText('echo pa""sted'));
    await pane.locator('.xterm').click({ button: 'right' });
    await expect(rows).toContainText('echo pa""sted');
    await page.keyboard.press('Enter');
    await expect(rows).toContainText('pasted');
  });
});
