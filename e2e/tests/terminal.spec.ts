import { createHash, randomBytes } from 'node:crypto';
import type { Page } from '@playwright/test';
import { type SshdHarness, sshdSkipReason, startSshd } from '@tether/testkit';
import { watchCsp } from '../support/csp.ts';
import { createUser, expect, newBrowserSession, signIn, test } from '../support/fixtures.ts';
import { connectTo, openTerminal, terminalBuffer, workspaceSaved } from '../support/terminal.ts';

declare global {
  interface Window {
    __TETHER_E2E_SOCKETS__?: Set<WebSocket>;
  }
}

const skipReason = sshdSkipReason();

/** The visible terminal: DOM renderer rows (window.__TETHER_E2E__ is set by the fixtures). */
function activeTerminal(page: Page) {
  return page.locator('[role="tabpanel"]:not([hidden]) .terminal-pane');
}

async function run(page: Page, command: string): Promise<void> {
  await activeTerminal(page).locator('.xterm').click();
  await page.keyboard.type(command);
  await page.keyboard.press('Enter');
}

test.describe('terminals', () => {
  test.skip(skipReason !== null, skipReason ?? '');

  let sshd: SshdHarness;
  test.beforeAll(async () => {
    sshd = await startSshd();
  });
  test.afterAll(async () => {
    await sshd?.stop();
  });

  test('connects with an encrypted private key loaded from a file, asking for its passphrase first', async ({
    page,
    broker,
  }) => {
    const user = await createUser(broker);
    await signIn(page, user.username, user.password);
    await page.getByRole('button', { name: 'New connection' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'New connection' });
    await dialog.getByLabel('Host').fill(sshd.host);
    await dialog.getByLabel('Port').fill(String(sshd.port));
    await dialog.getByLabel('Username').fill(sshd.username);
    await dialog.getByRole('radio', { name: 'Private key' }).check();
    // Empty key: the form says what is missing instead of connecting.
    await dialog.getByRole('button', { name: 'Connect' }).click();
    await expect(dialog.getByText('Paste a private key or load one from a file.')).toBeVisible();
    await dialog.getByLabel('Load key from file…').setInputFiles({
      name: 'id_ed25519',
      mimeType: 'text/plain',
      buffer: Buffer.from(sshd.keys.encrypted.privateKey),
    });
    await expect(dialog.getByRole('textbox', { name: 'Private key' })).toHaveValue(
      /BEGIN OPENSSH PRIVATE KEY/,
    );
    // The key is encrypted: the form asks for its passphrase instead of failing on the server.
    await dialog.getByRole('button', { name: 'Connect' }).click();
    await expect(dialog.getByText('This key is encrypted: enter its passphrase.')).toBeVisible();
    await expect(dialog.getByLabel('Passphrase')).toHaveAttribute('aria-invalid', 'true');
    await dialog.getByLabel('Passphrase').fill(sshd.keys.encrypted.passphrase);
    await expect(dialog.getByText('This key is encrypted: enter its passphrase.')).toHaveCount(0);
    await dialog.getByRole('button', { name: 'Connect' }).click();
    await page
      .getByRole('dialog', { name: 'Verify host key' })
      .getByRole('button', { name: 'Accept' })
      .click();
    const pane = activeTerminal(page);
    await expect(pane).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });
    await run(page, 'echo ke""yed');
    await expect(pane.locator('.xterm-rows')).toContainText('keyed');
  });

  test('connects, survives a reload, and the tab comes back reattached with earlier output, no click', async ({
    page,
    broker,
  }) => {
    const csp = await watchCsp(page);
    const user = await createUser(broker);
    await signIn(page, user.username, user.password);

    const stored = workspaceSaved(page);
    await connectTo(page, sshd);
    const hostKey = page.getByRole('dialog', { name: 'Verify host key' });
    await expect(hostKey).toBeVisible();
    await expect(hostKey).toContainText(sshd.hostKeyFingerprint);
    await hostKey.getByRole('button', { name: 'Accept' }).click();

    const pane = activeTerminal(page);
    await expect(pane).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });
    const terminalId = await pane.getAttribute('data-terminal-id');
    expect(terminalId).toMatch(/^[0-9a-f-]{36}$/);

    await run(page, 'echo he""llo');
    await expect(pane.locator('.xterm-rows')).toContainText('hello');
    await stored;

    await page.reload();
    await expect(page).toHaveURL(/\/login$/);
    await signIn(page, user.username, user.password);

    // The workspace follows the user: the tab reopens by itself and reattaches.
    await expect(page.locator(`.term-item[data-terminal-id="${terminalId}"]`)).toHaveAttribute(
      'data-state',
      'open',
    );
    const again = activeTerminal(page);
    await expect(again).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });
    await expect(again).toHaveAttribute('data-terminal-id', terminalId ?? '');
    await expect(again.locator('.xterm-rows')).toContainText('hello');
    await run(page, 'echo wor""ld');
    await expect(again.locator('.xterm-rows')).toContainText('world');

    await run(page, 'exit 3');
    await expect(again).toHaveAttribute('data-status', 'exited');
    await expect(again.locator('.xterm-rows')).toContainText('[Process exited with code 3]');
    // The SPA and xterm.js work under the broker's CSP: nothing was refused.
    expect(csp.violations(), 'CSP violations').toEqual([]);
  });

  test('a multi-MB paste reaches the remote program whole and in order, and typing works after it', async ({
    page,
    broker,
  }) => {
    test.setTimeout(180_000);
    const user = await createUser(broker);
    await signIn(page, user.username, user.password);
    const pane = await openTerminal(page, sshd);

    // 4 MiB of printable text without newlines; the remote tty in raw mode passes it untouched.
    const size = 4 * 1024 * 1024;
    const text = randomBytes((size * 3) / 4).toString('base64');
    const sha = createHash('sha256').update(text).digest('hex');
    await run(page, `stty raw -echo; echo raw-""mode; head -c ${size} | sha256sum; stty sane`);
    await expect(pane.locator('.xterm-rows')).toContainText('raw-mode');
    // What a user's Ctrl+V does: a paste event on xterm's input element.
    await page.evaluate((data) => {
      const input = document.querySelector('[role="tabpanel"]:not([hidden]) .xterm-helper-textarea');
      if (!input) throw new Error('no terminal input');
      const clipboardData = new DataTransfer();
      clipboardData.setData('text/plain', data);
      input.dispatchEvent(new ClipboardEvent('paste', { clipboardData, bubbles: true, cancelable: true }));
    }, text);
    await expect(pane.locator('.xterm-rows')).toContainText(sha, { timeout: 120_000 });
    await expect(pane).toHaveAttribute('data-status', 'ready');
    await run(page, 'echo af""ter');
    await expect(pane.locator('.xterm-rows')).toContainText('after');
  });

  test('reconnects after the socket drops, losing and repeating nothing', async ({ page, broker }) => {
    const user = await createUser(broker);
    await signIn(page, user.username, user.password);
    await connectTo(page, sshd);
    await page
      .getByRole('dialog', { name: 'Verify host key' })
      .getByRole('button', { name: 'Accept' })
      .click();
    const pane = activeTerminal(page);
    await expect(pane).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });

    await run(page, 'for i in $(seq 1 400); do echo "n-$i"; sleep 0.005; done; echo fin""ished');
    await expect(pane.locator('.xterm-rows')).toContainText('n-20');
    const dropped = await page.evaluate(() => {
      const sockets = [...(window.__TETHER_E2E_SOCKETS__ ?? [])];
      for (const ws of sockets) ws.close(4000, 'e2e: simulated drop');
      return sockets.length;
    });
    expect(dropped).toBe(1);
    await expect(pane).toHaveAttribute('data-status', 'reconnecting');
    await expect(pane.getByRole('status').filter({ hasText: 'Reconnecting…' })).toBeVisible();
    await expect(pane).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });
    await expect(pane.locator('.xterm-rows')).toContainText('finished', { timeout: 20_000 });

    const lines = await terminalBuffer(pane);
    const numbered = lines.filter((l) => /^n-\d+$/.test(l.trim())).map((l) => Number(l.trim().slice(2)));
    expect(numbered).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));

    await run(page, 'echo sti""ll-here');
    await expect(pane.locator('.xterm-rows')).toContainText('still-here');
  });

  test('signing in elsewhere closes the open terminal socket and shows why, at once', async ({
    page,
    browser,
    broker,
  }) => {
    const user = await createUser(broker);
    await signIn(page, user.username, user.password);
    await connectTo(page, sshd);
    await page
      .getByRole('dialog', { name: 'Verify host key' })
      .getByRole('button', { name: 'Accept' })
      .click();
    await expect(activeTerminal(page)).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });

    const elsewhere = await newBrowserSession(browser, broker.baseURL);
    try {
      await signIn(elsewhere.page, user.username, user.password);
      // No click needed: the broker closes the socket with SIGNED_IN_ELSEWHERE.
      await expect(page).toHaveURL(/\/login$/);
      await expect(page.getByRole('alert')).toHaveText('You signed in somewhere else.');
      // The terminal kept running and is offered to the new session (reopened there by itself
      // once the layout was stored, else listed to reattach).
      await expect(elsewhere.page.getByRole('button', { name: /^(Reattach|Open) / })).toBeVisible();
    } finally {
      await elsewhere.context.close();
    }
  });

  test('ending a terminal asks once in place: Keep is focused and keeps it; confirming ends it', async ({
    page,
    broker,
  }) => {
    const user = await createUser(broker);
    await signIn(page, user.username, user.password);
    await openTerminal(page, sshd);
    const list = page.getByRole('complementary', { name: 'My terminals' });
    const running = list.locator('.term-item[data-state="open"]');
    await expect(running).toHaveCount(1);

    // From the list: asking, then keeping, changes nothing.
    await running.getByRole('button', { name: /^End / }).click();
    await expect(running.getByRole('button', { name: 'Keep' })).toBeFocused();
    await running.getByRole('button', { name: 'Keep' }).click();
    await expect(running.getByRole('button', { name: /^End / })).toBeVisible();
    await expect(activeTerminal(page)).toHaveAttribute('data-status', 'ready');

    // From the tab's toolbar: confirmed, the terminal ends and moves to Ended.
    await page.getByRole('button', { name: 'End terminal', exact: true }).click();
    await page.getByRole('button', { name: 'End terminal now' }).click();
    await expect(activeTerminal(page)).toHaveAttribute('data-status', 'exited', { timeout: 10_000 });
    await expect(list.locator('.term-item[data-state="ended"]')).toHaveCount(1, { timeout: 15_000 });

    // And from the list, a second one (the host key is known by now).
    await connectTo(page, sshd);
    await expect(activeTerminal(page)).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });
    await expect(running).toHaveCount(1);
    await running.getByRole('button', { name: /^End / }).click();
    await running.getByRole('button', { name: 'Confirm end' }).click();
    await expect(list.locator('.term-item[data-state="ended"]')).toHaveCount(2, { timeout: 15_000 });
  });

  test('a known host whose key changed is refused with both fingerprints', async ({ page, broker }) => {
    const user = await createUser(broker);
    await signIn(page, user.username, user.password);
    await connectTo(page, sshd);
    await page
      .getByRole('dialog', { name: 'Verify host key' })
      .getByRole('button', { name: 'Accept' })
      .click();
    const pane = activeTerminal(page);
    await expect(pane).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });
    const oldFingerprint = sshd.hostKeyFingerprint;
    await run(page, 'exit');
    await expect(pane).toHaveAttribute('data-status', 'exited');

    const newFingerprint = await sshd.regenerateHostKey();
    await connectTo(page, sshd);
    const failed = activeTerminal(page);
    await expect(failed).toHaveAttribute('data-status', 'error', { timeout: 20_000 });
    const alert = failed.getByRole('alert');
    await expect(alert).toContainText('host key has changed');
    await expect(alert).toContainText(oldFingerprint);
    await expect(alert).toContainText(newFingerprint);
  });
});
