import type { Locator, Page } from '@playwright/test';
import { type SshdHarness, sshdSkipReason, startSshd } from '@tether/testkit';
import { expect, test } from './fixtures.ts';
import { type RunningBroker, startBroker } from './server.ts';

/**
 * For the describe block that calls it: a real sshd and a broker of its own (for tests that
 * restart or upgrade parts of it), started before its tests and stopped after. Skips the block,
 * with the reason, where sshd cannot run (not root); in CI a skip fails the run.
 */
export function useSshdAndBroker(env?: Record<string, string>): {
  readonly sshd: SshdHarness;
  readonly broker: RunningBroker;
} {
  const skipReason = sshdSkipReason();
  test.skip(skipReason !== null, skipReason ?? '');
  let sshd: SshdHarness | undefined;
  let broker: RunningBroker | undefined;
  test.beforeAll(async () => {
    sshd = await startSshd();
    broker = await startBroker(env ? { env } : {});
  });
  test.afterAll(async () => {
    await broker?.stop();
    await sshd?.stop();
  });
  return {
    get sshd() {
      if (!sshd) throw new Error('sshd is not started yet (use it inside a test)');
      return sshd;
    },
    get broker() {
      if (!broker) throw new Error('the broker is not started yet (use it inside a test)');
      return broker;
    },
  };
}

/**
 * For the describe block that calls it: a real sshd, started before its tests and stopped after
 * (the suite's shared broker serves them). Skips the block where sshd cannot run (not root).
 */
export function useSshd(): { readonly sshd: SshdHarness } {
  const skipReason = sshdSkipReason();
  test.skip(skipReason !== null, skipReason ?? '');
  let sshd: SshdHarness | undefined;
  test.beforeAll(async () => {
    sshd = await startSshd();
  });
  test.afterAll(async () => {
    await sshd?.stop();
  });
  return {
    get sshd() {
      if (!sshd) throw new Error('sshd is not started yet (use it inside a test)');
      return sshd;
    },
  };
}

/** What a tab and the terminal lists call a terminal on this sshd: user@host:port. */
export function sshdName(sshd: SshdHarness): string {
  return `${sshd.username}@${sshd.host}:${sshd.port}`;
}

/** Fills New connection for the sshd with its password and connects (no host-key step). */
export async function connectTo(page: Page, sshd: SshdHarness, password = sshd.password): Promise<void> {
  await page.getByRole('button', { name: 'New connection' }).first().click();
  const dialog = page.getByRole('dialog', { name: 'New connection' });
  await dialog.getByLabel('Host').fill(sshd.host);
  await dialog.getByLabel('Port').fill(String(sshd.port));
  await dialog.getByLabel('Username').fill(sshd.username);
  await dialog.getByRole('radio', { name: 'Password' }).check();
  await dialog.locator('input[type="password"]').fill(password);
  await dialog.getByRole('button', { name: 'Connect' }).click();
}

/** The visible terminal: DOM renderer rows (window.__TETHER_E2E__ is set by the fixtures). */
export function activeTerminal(page: Page): Locator {
  return page.locator('[role="tabpanel"]:not([hidden]) .terminal-pane');
}

declare global {
  interface Window {
    /** Set by the web app in e2e runs: each terminal host's full xterm buffer, scrollback included. */
    __TETHER_E2E_BUFFERS__?: WeakMap<Element, () => string[]>;
  }
}

/** Every line of a pane's xterm buffer, scrollback included (trailing blanks trimmed per line). */
export function terminalBuffer(pane: Locator): Promise<string[]> {
  return pane.locator('.terminal-host').evaluate((el) => window.__TETHER_E2E_BUFFERS__?.get(el)?.() ?? []);
}

/** New connection → password → accept the host key → ready. */
export async function openTerminal(page: Page, sshd: SshdHarness): Promise<Locator> {
  await connectTo(page, sshd);
  await page.getByRole('dialog', { name: 'Verify host key' }).getByRole('button', { name: 'Accept' }).click();
  const pane = activeTerminal(page);
  await expect(pane).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });
  return pane;
}

export async function typeInTerminal(page: Page, command: string): Promise<void> {
  await activeTerminal(page).locator('.xterm').click();
  await page.keyboard.type(command);
  await page.keyboard.press('Enter');
}

/**
 * Resolves when the page next stores its workspace layout (`PUT /api/workspace`): start waiting
 * before the change (opening a tab, renaming, moving), await it before a reload that must find it.
 */
export function workspaceSaved(page: Page): Promise<unknown> {
  return page.waitForResponse(
    (r) => r.request().method() === 'PUT' && new URL(r.url()).pathname.endsWith('/api/workspace') && r.ok(),
  );
}
