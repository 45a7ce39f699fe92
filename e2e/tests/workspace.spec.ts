import type { Page } from '@playwright/test';
import { createUser, expect, newBrowserSession, signIn, signInAsNewUser, test } from '../support/fixtures.ts';
import {
  activeTerminal,
  connectTo,
  openTerminal,
  sshdName,
  terminalBuffer,
  typeInTerminal,
  useSshd,
  useSshdAndBroker,
  workspaceSaved,
} from '../support/terminal.ts';

/**
 * The workspace follows the user (issue #17): the tabs are stored on the broker and come back
 * after signing in again, in order, named as they were, with the same active tab and each
 * terminal reattached, without a click.
 */

function tabs(page: Page) {
  return page.getByRole('tablist', { name: 'Open terminals' }).getByRole('tab');
}

test.describe('workspace', () => {
  const env = useSshd();

  test('after a reload and sign-in the same tabs come back in order, named, active and reattached, no click', async ({
    page,
    broker,
  }) => {
    const { sshd } = env;
    const user = await signInAsNewUser(page, broker);
    const name = sshdName(sshd);

    await openTerminal(page, sshd);
    await typeInTerminal(page, 'echo fi""rst');
    await expect(activeTerminal(page).locator('.xterm-rows')).toContainText('first');
    await connectTo(page, sshd);
    await expect(activeTerminal(page)).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });
    await typeInTerminal(page, 'echo sec""ond');
    await expect(activeTerminal(page).locator('.xterm-rows')).toContainText('second');
    // Two tabs on one host are told apart.
    await expect(tabs(page)).toHaveText([name, `${name} (2)`]);

    // Rename the first (F2 on the focused tab), move the second in front of it (Shift+←), make
    // the renamed one active.
    await tabs(page).nth(1).focus();
    await page.keyboard.press('ArrowLeft');
    await expect(tabs(page).nth(0)).toBeFocused();
    await page.keyboard.press('F2');
    const rename = page.getByRole('textbox', { name: 'Tab name' });
    await expect(rename).toBeFocused();
    await rename.fill('alpha');
    await rename.press('Enter');
    await expect(tabs(page)).toHaveText(['alpha', name]);
    await tabs(page).nth(1).focus();
    await page.keyboard.press('Shift+ArrowLeft');
    await expect(tabs(page)).toHaveText([name, 'alpha']);
    await expect(tabs(page).nth(0)).toBeFocused();
    const stored = workspaceSaved(page);
    await tabs(page).nth(1).click();
    await stored;

    await page.reload();
    await signIn(page, user.username, user.password);
    await expect(tabs(page)).toHaveText([name, 'alpha']);
    await expect(tabs(page).nth(1)).toHaveAttribute('aria-selected', 'true');
    const pane = activeTerminal(page);
    await expect(pane).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });
    await expect(pane.locator('.xterm-rows')).toContainText('first');
    await tabs(page).nth(0).click();
    await expect(activeTerminal(page)).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });
    await expect(activeTerminal(page).locator('.xterm-rows')).toContainText('second');
    await typeInTerminal(page, 'echo st""ill-here');
    await expect(activeTerminal(page).locator('.xterm-rows')).toContainText('still-here');
  });

  test('after a reload the scrollback comes back as long as the setting asks (5,000 lines by default)', async ({
    page,
    broker,
  }) => {
    const user = await signInAsNewUser(page, broker);
    const stored = workspaceSaved(page);
    const pane = await openTerminal(page, env.sshd);
    await stored;
    await typeInTerminal(page, 'seq 1 5000; echo seq-""done');
    await expect(pane.locator('.xterm-rows')).toContainText('seq-done', { timeout: 20_000 });
    const numbers = async () =>
      (await terminalBuffer(activeTerminal(page))).filter((l) => /^\d+$/.test(l)).map(Number);
    const all = Array.from({ length: 5000 }, (_, i) => i + 1);
    expect(await numbers()).toEqual(all);

    await page.reload();
    await signIn(page, user.username, user.password);
    await expect(activeTerminal(page)).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });
    await expect(activeTerminal(page).locator('.xterm-rows')).toContainText('seq-done');
    // From the broker's snapshot (a reloaded page has no offset to resume from): every line,
    // where the broker's mirror used to keep 1,000.
    expect(await numbers()).toEqual(all);
  });

  test('a tab whose terminal ended comes back ended in its place; ended terminals can be cleared; renaming to nothing restores the name', async ({
    page,
    broker,
  }) => {
    const { sshd } = env;
    const user = await signInAsNewUser(page, broker);
    const name = sshdName(sshd);
    await openTerminal(page, sshd);
    await connectTo(page, sshd);
    await expect(activeTerminal(page)).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });

    await tabs(page).nth(0).dblclick();
    await page.getByRole('textbox', { name: 'Tab name' }).fill('temp');
    await page.keyboard.press('Enter');
    await expect(tabs(page)).toHaveText(['temp', `${name}`]);
    await tabs(page).nth(0).dblclick();
    await page.getByRole('textbox', { name: 'Tab name' }).fill('');
    await page.keyboard.press('Enter');
    await expect(tabs(page)).toHaveText([name, `${name} (2)`]);

    // The second one ends (exit), then the page reloads.
    await tabs(page).nth(1).click();
    await typeInTerminal(page, 'exit 0');
    await expect(activeTerminal(page)).toHaveAttribute('data-status', 'exited');
    const stored = workspaceSaved(page);
    await tabs(page).nth(0).click();
    await stored;
    await page.reload();
    await signIn(page, user.username, user.password);
    await expect(tabs(page)).toHaveCount(2);
    await expect(tabs(page).nth(1)).toHaveAttribute('data-status', 'exited');
    await expect(tabs(page).nth(0)).toHaveAttribute('aria-selected', 'true');
    await expect(activeTerminal(page)).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });

    // Ended terminals can be cleared from the list; the running one stays.
    const list = page.getByRole('complementary', { name: 'My terminals' });
    await expect(list.locator('.term-item[data-state="ended"]')).toHaveCount(1);
    await list.getByRole('button', { name: 'Clear ended terminals' }).click();
    await expect(list.locator('.term-item[data-state="ended"]')).toHaveCount(0);
    await expect(list.locator('.term-item[data-state="open"]')).toHaveCount(1);
  });

  test('closing a tab whose terminal runs asks: close (it keeps running), end it, or cancel; an ended tab closes at once', async ({
    page,
    broker,
  }) => {
    const { sshd } = env;
    await signInAsNewUser(page, broker);
    const name = sshdName(sshd);
    await openTerminal(page, sshd);
    const list = page.getByRole('complementary', { name: 'My terminals' });
    const ask = page.getByRole('dialog', { name: `Close “${name}”?` });

    // Cancel (and Escape) keep the tab.
    await page.getByRole('button', { name: `Close ${name}` }).click();
    await expect(ask).toContainText('leaves its terminal running');
    await expect(ask.getByRole('button', { name: 'Close tab' })).toBeFocused();
    await ask.getByRole('button', { name: 'Cancel' }).click();
    await expect(tabs(page)).toHaveCount(1);
    await tabs(page).nth(0).focus();
    await page.keyboard.press('Delete');
    await expect(ask).toBeVisible();
    await page.keyboard.press('Escape');
    await expect(ask).toHaveCount(0);
    await expect(tabs(page)).toHaveCount(1);

    // Close tab (Enter: the focused choice) detaches; the terminal is listed, still running.
    await page.getByRole('button', { name: `Close ${name}` }).click();
    await page.keyboard.press('Enter');
    await expect(tabs(page)).toHaveCount(0);
    await expect(list.locator('.term-item[data-state="detached"]')).toHaveCount(1, { timeout: 5_000 });

    // Reopened, then ended from the question: the tab closes and the terminal is over.
    await list.getByRole('button', { name: /^Reattach / }).click();
    await expect(activeTerminal(page)).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });
    await page.getByRole('button', { name: `Close ${name}` }).click();
    await ask.getByRole('button', { name: 'End terminal' }).click();
    await expect(tabs(page)).toHaveCount(0);
    await expect(list.locator('.term-item[data-state="ended"]')).toHaveCount(1, { timeout: 15_000 });

    // A tab whose terminal ended closes without a question.
    await connectTo(page, sshd); // the host key is known by now: no question
    await expect(activeTerminal(page)).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });
    await typeInTerminal(page, 'exit 0');
    await expect(activeTerminal(page)).toHaveAttribute('data-status', 'exited');
    await page.getByRole('button', { name: `Close ${name}` }).click();
    await expect(tabs(page)).toHaveCount(0);
    await expect(ask).toHaveCount(0);
  });

  test('Alt+Shift+N opens New connection and sends nothing to the remote; closing it gives the terminal the keyboard back', async ({
    page,
    broker,
  }) => {
    const { sshd } = env;
    await signInAsNewUser(page, broker);
    const pane = await openTerminal(page, sshd);
    // cat -v shows every byte it gets: an ESC would appear as ^[.
    await typeInTerminal(page, 'cat -v');
    await page.keyboard.press('Alt+Shift+N');
    const dialog = page.getByRole('dialog', { name: 'New connection' });
    await expect(dialog).toBeVisible();
    await page.keyboard.press('Escape');
    await expect(dialog).toBeHidden();
    // No click: the keys go to the terminal again.
    await page.keyboard.type('back');
    await page.keyboard.press('Enter');
    const rows = pane.locator('.xterm-rows');
    await expect(rows).toContainText(/back[\s\S]*back/);
    await expect(rows).not.toContainText('^[');
    await page.keyboard.press('Control+C');
  });

  test('going offline shows at once (no heartbeat wait) and the terminal comes back when the network does', async ({
    page,
    broker,
  }) => {
    const { sshd } = env;
    await signInAsNewUser(page, broker);
    const pane = await openTerminal(page, sshd);
    await typeInTerminal(page, 'echo be""fore');
    await expect(pane.locator('.xterm-rows')).toContainText('before');
    await page.context().setOffline(true);
    await expect(pane).toHaveAttribute('data-status', 'reconnecting', { timeout: 2_000 });
    await page.context().setOffline(false);
    await expect(pane).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });
    await typeInTerminal(page, 'echo af""ter');
    await expect(pane.locator('.xterm-rows')).toContainText('after');
  });

  test('a failed connection offers Retry and Edit in place, keeping what was typed; no entry for it among running terminals', async ({
    page,
    broker,
  }) => {
    const { sshd } = env;
    await signInAsNewUser(page, broker);
    await connectTo(page, sshd, 'not-the-password');
    await page
      .getByRole('dialog', { name: 'Verify host key' })
      .getByRole('button', { name: 'Accept' })
      .click();
    const pane = activeTerminal(page);
    await expect(pane).toHaveAttribute('data-status', 'error', { timeout: 20_000 });
    const list = page.getByRole('complementary', { name: 'My terminals' });
    const ended = list.locator('.term-item[data-state="ended"]');
    await expect(ended).toHaveCount(1);
    await expect(list.locator('.term-item[data-state="detached"]')).toHaveCount(0);

    // Retry: the same input again, in the same tab.
    await pane.getByRole('button', { name: 'Retry' }).click();
    await expect(activeTerminal(page)).toHaveAttribute('data-status', 'error', { timeout: 20_000 });
    await expect(ended).toHaveCount(2);
    await expect(tabs(page)).toHaveCount(1);

    // Edit: the form again with what was typed, password included; fixed, it connects in place.
    await activeTerminal(page).getByRole('button', { name: 'Edit' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit connection' });
    await expect(edit.getByLabel('Host')).toHaveValue(sshd.host);
    await expect(edit.getByLabel('Port')).toHaveValue(String(sshd.port));
    await expect(edit.locator('input[type="password"]')).toHaveValue('not-the-password');
    await edit.locator('input[type="password"]').fill(sshd.password);
    await edit.getByRole('button', { name: 'Connect' }).click();
    await expect(activeTerminal(page)).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });
    await expect(tabs(page)).toHaveCount(1);
    await expect(list.locator('.term-item[data-state="detached"]')).toHaveCount(0);
  });

  test('split, resize and move focus between panes; broadcast typing reaches both; the split comes back after a reload', async ({
    page,
    broker,
  }) => {
    const { sshd } = env;
    const user = await signInAsNewUser(page, broker);
    const first = await openTerminal(page, sshd);
    await first.getByRole('button', { name: 'Split right' }).click();
    const dialog = page.getByRole('dialog', { name: 'New connection' });
    // The dialog remembers the target; only the secret is typed again.
    await expect(dialog.getByLabel('Host')).toHaveValue(sshd.host);
    await dialog.locator('input[type="password"]').fill(sshd.password);
    await dialog.getByRole('button', { name: 'Connect' }).click();

    const panel = page.locator('[role="tabpanel"]:not([hidden])');
    const panes = panel.locator('.terminal-pane');
    await expect(panes).toHaveCount(2);
    await expect(panes.nth(1)).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });
    await expect(tabs(page)).toHaveCount(1);

    // Resize with the keyboard: the left pane grows.
    const handle = panel.getByRole('separator', { name: 'Resize the split' });
    await handle.focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await expect(handle).toHaveAttribute('aria-valuenow', '60');
    const [w0, w1] = await Promise.all(
      [0, 1].map((i) => panes.nth(i).evaluate((el) => el.getBoundingClientRect().width)),
    );
    expect(w0).toBeGreaterThan((w1 as number) * 1.3);

    // Alt+Shift+← gives the left pane the keyboard; typing goes there only.
    await panes.nth(1).locator('.xterm').click();
    await page.keyboard.press('Alt+Shift+ArrowLeft');
    await page.keyboard.type('echo le""ft-only');
    await page.keyboard.press('Enter');
    await expect(panes.nth(0).locator('.xterm-rows')).toContainText('left-only');
    await expect(panes.nth(1).locator('.xterm-rows')).not.toContainText('left-only');

    // Broadcast on in both: keys typed in one reach the other, clearly marked while on.
    await panes.nth(0).getByRole('button', { name: 'Broadcast' }).click();
    await panes.nth(1).getByRole('button', { name: 'Broadcast' }).click();
    await expect(panes.nth(0).getByRole('button', { name: 'Broadcast' })).toHaveAttribute(
      'aria-pressed',
      'true',
    );
    await expect(panes.nth(1)).toHaveClass(/terminal-broadcasting/);
    const stored = workspaceSaved(page);
    await panes.nth(1).locator('.xterm').click();
    await page.keyboard.type('echo bo""th-panes');
    await page.keyboard.press('Enter');
    await expect(panes.nth(0).locator('.xterm-rows')).toContainText('both-panes');
    await expect(panes.nth(1).locator('.xterm-rows')).toContainText('both-panes');
    await stored;

    await page.reload();
    await signIn(page, user.username, user.password);
    await expect(tabs(page)).toHaveCount(1);
    await expect(panes).toHaveCount(2);
    await expect(panes.nth(0)).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });
    await expect(panes.nth(1)).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });
    await expect(panes.nth(0).locator('.xterm-rows')).toContainText('left-only');
    await expect(panes.nth(1)).toHaveClass(/terminal-broadcasting/);
    await expect(panel.getByRole('separator', { name: 'Resize the split' })).toHaveAttribute(
      'aria-valuenow',
      '60',
    );

    // Closing one pane (it asks: its terminal runs) leaves a tab of one pane; the terminal keeps
    // running.
    await panes
      .nth(1)
      .getByRole('button', { name: /^Close pane/ })
      .click();
    await page
      .getByRole('dialog', { name: /^Close / })
      .getByRole('button', { name: 'Close pane' })
      .click();
    await expect(panes).toHaveCount(1);
    // Listed as detached as soon as its socket has closed (the list's poll is 10 s).
    await expect(
      page.getByRole('complementary', { name: 'My terminals' }).locator('.term-item[data-state="detached"]'),
    ).toHaveCount(1, { timeout: 5_000 });
  });

  test('a tab takes the title the remote program sets (OSC 0), unless the user named it', async ({
    page,
    broker,
  }) => {
    const { sshd } = env;
    await signInAsNewUser(page, broker);
    await openTerminal(page, sshd);
    await typeInTerminal(page, "printf '\\033]0;%s\\007' build-box");
    await expect(tabs(page)).toHaveText(['build-box']);
    await tabs(page).nth(0).dblclick();
    await page.getByRole('textbox', { name: 'Tab name' }).fill('mine');
    await page.keyboard.press('Enter');
    await typeInTerminal(page, "printf '\\033]0;%s\\007' other");
    await expect(tabs(page)).toHaveText(['mine']);
  });
});

test.describe('workspace, with ended terminals freed after a second', () => {
  const env = useSshdAndBroker({ TERMINAL_ENDED_RETENTION: '1s' });

  test('a tab whose terminal ended shows its last screen after a reload, after the host freed it', async ({
    browser,
  }) => {
    const user = await createUser(env.broker);
    const { context, page } = await newBrowserSession(browser, env.broker.baseURL);
    try {
      await signIn(page, user.username, user.password);
      const stored = workspaceSaved(page);
      await openTerminal(page, env.sshd);
      await stored;
      await typeInTerminal(page, 'clear; echo last-""words; exit 0');
      await expect(activeTerminal(page)).toHaveAttribute('data-status', 'exited');
      await expect(activeTerminal(page).locator('.xterm-rows')).toContainText('last-words');
      // The host frees an ended terminal a second after its last viewer left (the broker's
      // setting here); its last screen is kept in the database.
      await page.waitForTimeout(2500);
      await page.reload();
      await signIn(page, user.username, user.password);
      await expect(tabs(page)).toHaveCount(1);
      const pane = activeTerminal(page);
      await expect(pane).toHaveAttribute('data-status', 'exited');
      await expect(pane.locator('.xterm-rows')).toContainText('last-words');
    } finally {
      await context.close();
    }
  });
});
