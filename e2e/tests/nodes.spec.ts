import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type SshdHarness,
  sshdSkipReason,
  startPostgres,
  startSshd,
  type TestPostgres,
} from '@tether/testkit';
import { createUser, expect, newBrowserSession, screenshotSizes, signIn, test } from '../support/fixtures.ts';
import { freePort, type RunningBroker, startBroker } from '../support/server.ts';
import { activeTerminal, openTerminal, typeInTerminal, workspaceSaved } from '../support/terminal.ts';

/**
 * Two broker nodes on one PostgreSQL (issue #16), as a user sees them: a terminal opened on node
 * A is reattached in a browser that reached node B; when A stops answering, B's workspace and
 * admin pages say its terminal is unreachable (nothing to end or reattach), the open tab says
 * so and retries, and all of it recovers when A answers again.
 */
test.describe('two nodes', () => {
  const skipReason = sshdSkipReason();
  test.skip(skipReason !== null, skipReason ?? '');
  let sshd: SshdHarness;
  let postgres: TestPostgres;
  let a: RunningBroker;
  let b: RunningBroker;

  test.beforeAll(async () => {
    test.setTimeout(120_000);
    sshd = await startSshd();
    postgres = await startPostgres();
    const shared = {
      DATABASE_URL: postgres.createDatabase('e2e_nodes'),
      JWT_SECRET: randomBytes(32).toString('hex'),
      ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      PEER_SECRET: randomBytes(32).toString('base64'),
      NODE_HEARTBEAT_INTERVAL: '250ms',
      NODE_UNREACHABLE_AFTER: '2s',
      NODE_LOST_AFTER: '10m',
      HEARTBEAT_INTERVAL: '1s',
      HEARTBEAT_TIMEOUT: '4s',
    };
    const node = async (id: string) => {
      const port = String(await freePort());
      return startBroker({
        env: {
          ...shared,
          NODE_ID: id,
          PEER_URL: `https://127.0.0.1:${port}`,
          PEER_PORT: port,
          PEER_HOST: '127.0.0.1',
        },
      });
    };
    a = await node('node-a');
    b = await node('node-b');
  });

  test.afterAll(async () => {
    await b?.stop();
    await a?.stop();
    postgres?.stop();
    await sshd?.stop();
  });

  /** Every process of node A (its API and its terminal host): stopped without a FIN, or resumed. */
  const signalA = (signal: 'SIGSTOP' | 'SIGCONT') => {
    const host = Number.parseInt(readFileSync(join(a.dataDir, 'terminal-host.pid'), 'utf8'), 10);
    for (const pid of [a.pid, host]) process.kill(pid, signal);
  };

  test('a terminal of node A reattached through node B; unreachable while A is silent, back when it answers', async ({
    browser,
  }) => {
    test.setTimeout(120_000);
    const user = await createUser(a, 'admin');
    const onA = await newBrowserSession(browser, a.baseURL);
    const onB = await newBrowserSession(browser, b.baseURL);
    let stopped = false;
    try {
      await signIn(onA.page, user.username, user.password);
      const stored = workspaceSaved(onA.page);
      await openTerminal(onA.page, sshd);
      await typeInTerminal(onA.page, 'echo "on-"node-a');
      await expect(activeTerminal(onA.page).locator('.xterm-rows')).toContainText('on-node-a');
      await stored;
      await onA.context.close();

      // Node B: the workspace stored through A reopens the tab, reattached through the peer link,
      // and it takes input.
      const page = onB.page;
      await signIn(page, user.username, user.password);
      const item = page.locator('.term-item').first();
      await expect(item).toHaveAttribute('data-state', 'open');
      const pane = activeTerminal(page);
      await expect(pane).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });
      await expect(pane.locator('.xterm-rows')).toContainText('on-node-a');
      await typeInTerminal(page, 'echo "through-"node-b');
      await expect(pane.locator('.xterm-rows')).toContainText('through-node-b');

      // Node A stops answering (no FIN): the open tab hears why and retries; the list says
      // unreachable, with nothing to reattach or end.
      signalA('SIGSTOP');
      stopped = true;
      await expect(pane.locator('.terminal-notice')).toContainText(
        /not answering|cannot be reached|stopped answering/,
        {
          timeout: 20_000,
        },
      );
      await expect(item).toHaveAttribute('data-state', 'unreachable', { timeout: 20_000 });
      await expect(item).toContainText('unreachable: its broker node is not answering');
      await expect(item.getByRole('button', { name: /^End/ })).toBeDisabled();
      await expect(item.getByRole('button', { name: /^(Open|Reattach)/ })).toBeDisabled();
      await screenshotSizes(page, 'nodes-unreachable');

      // The admin's pages on B (the token lives in this tab's memory: navigate within it): the
      // terminal unreachable with End disabled, and the dashboard names the silent node.
      await page.getByRole('link', { name: 'All terminals' }).click();
      const row = page.getByRole('row').filter({ hasText: 'node-a' });
      await expect(row).toContainText('unreachable');
      await expect(row.getByRole('button', { name: /^End/ })).toBeDisabled();
      await page.getByRole('link', { name: 'Dashboard' }).click();
      await expect(page.getByRole('row').filter({ hasText: 'node-a' })).toContainText('unreachable');
      await page.getByRole('link', { name: 'Terminals', exact: true }).click();

      // A answers again: the tab reattaches by itself and carries on.
      signalA('SIGCONT');
      stopped = false;
      await expect(pane).toHaveAttribute('data-status', 'ready', { timeout: 30_000 });
      await expect(pane.locator('.terminal-notice')).toHaveCount(0, { timeout: 10_000 });
      await typeInTerminal(page, 'echo "back-"again');
      await expect(pane.locator('.xterm-rows')).toContainText('back-again');
      await expect(item).toHaveAttribute('data-state', 'open', { timeout: 10_000 });
    } finally {
      if (stopped) signalA('SIGCONT');
      await onB.context.close();
    }
  });
});
