import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import {
  type NginxHarness,
  nginxSkipReason,
  type SshdHarness,
  sshdSkipReason,
  startNginx,
  startSshd,
} from '@tether/testkit';
import { documentCspViolations, watchCsp } from '../support/csp.ts';
import { createUser, prepareContext, signIn } from '../support/fixtures.ts';
import {
  assembleImageTree,
  freePort,
  IMAGE_NODE_FLAGS,
  type ImageTree,
  REPO_ROOT,
  type RunningBroker,
  startBroker,
} from '../support/server.ts';
import { activeTerminal, typeInTerminal, workspaceSaved } from '../support/terminal.ts';

const PREFIX = '/ssh-ws';
const skipReason = nginxSkipReason() ?? sshdSkipReason();
if (skipReason && process.env.CI) throw new Error(`the nginx e2e test cannot run in CI: ${skipReason}`);

/**
 * The compose deployment without Docker (no engine runs on the CI machines): docker/nginx/
 * tether.conf — the deployable file — run by Debian's nginx in front of a broker under /ssh-ws/,
 * and that broker is the image's own tree (docker/assemble.sh, as the Dockerfile's build stage
 * runs it) started the way the image starts it: `node dist/server.js` from that tree, as an
 * unprivileged user that can write only DATA_DIR. Driven by Chromium: sign-in and cookies, the
 * SPA under its CSP, the WebSocket upgrade to a real sshd, an idle socket that outlives several
 * heartbeats, and a reattach after a reload. Everything the page loads must come through the
 * proxy. The image's HEALTHCHECK command is run against it too.
 */
test.describe('through nginx under /ssh-ws/', () => {
  test.skip(skipReason !== null, skipReason ?? '');

  let broker: RunningBroker;
  let nginx: NginxHarness;
  let sshd: SshdHarness;
  let image: ImageTree;

  // biome-ignore lint/correctness/noEmptyPattern: Playwright hooks must destructure their fixtures
  test.beforeAll(async ({}, testInfo) => {
    // `pnpm deploy` of the production dependencies takes a while on a cold machine.
    testInfo.setTimeout(300_000);
    sshd = await startSshd();
    image = await assembleImageTree();
    broker = await startBroker({
      image,
      basePath: PREFIX,
      env: {
        TRUST_PROXY: '1',
        // Pings (and the browser's pongs) cross the proxy during the idle wait below.
        HEARTBEAT_INTERVAL: '1s',
        HEARTBEAT_TIMEOUT: '3s',
      },
    });
    nginx = await startNginx({ upstreamPort: Number(new URL(broker.baseURL).port), basePath: PREFIX });
  });

  test.afterAll(async () => {
    await nginx?.stop();
    await broker?.stop();
    await sshd?.stop();
    await image?.remove();
  });

  test('the quick start and pnpm start use the node flags of the image', () => {
    expect(IMAGE_NODE_FLAGS).toContain('--no-memory-reducer'); // docs/decisions.md
    const flags = IMAGE_NODE_FLAGS.join(' ');
    const startScript = readFileSync(join(REPO_ROOT, 'scripts/start.sh'), 'utf8');
    expect(startScript).toContain(`exec node ${flags} apps/api/dist/server.js`);
    const api = JSON.parse(readFileSync(join(REPO_ROOT, 'apps/api/package.json'), 'utf8'));
    expect(api.scripts.start).toBe(`node ${flags} dist/server.js`);
  });

  test('the image tree runs unprivileged, and its HEALTHCHECK command reports health', async () => {
    const status = readFileSync(`/proc/${broker.pid}/status`, 'utf8');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
    if (process.getuid?.() === 0) expect(uid).toBe(65534);
    const healthcheck = (port: string) =>
      spawnSync(process.execPath, [join(image.dir, 'healthcheck.mjs')], {
        env: { PATH: process.env.PATH, PORT: port, BASE_PATH: PREFIX },
        timeout: 10_000,
      }).status;
    expect(healthcheck(new URL(broker.baseURL).port)).toBe(0);
    // Nothing listening there: unhealthy.
    expect(healthcheck(String(await freePort()))).toBe(1);
  });

  // biome-ignore lint/correctness/noEmptyPattern: Playwright hooks must destructure their fixtures
  test.afterEach(async ({}, testInfo) => {
    if (testInfo.status !== testInfo.expectedStatus) {
      await testInfo.attach('nginx.log', { body: await nginx.logs(), contentType: 'text/plain' });
      await testInfo.attach('broker.log', { body: broker.logs(), contentType: 'text/plain' });
      await testInfo.attach('sshd.log', { body: sshd.logs(), contentType: 'text/plain' });
    }
  });

  test('signs in, opens a terminal, keeps the socket and reattaches after a reload, without CSP violations', async ({
    browser,
  }) => {
    test.setTimeout(120_000);
    const user = await createUser({
      // REST through the proxy as well.
      baseURL: nginx.url,
      adminUsername: broker.adminUsername,
      adminPassword: broker.adminPassword,
    });

    const context = await browser.newContext({ baseURL: nginx.url, viewport: { width: 1280, height: 800 } });
    await prepareContext(context);
    const page = await context.newPage();
    const csp = await watchCsp(page);
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    const requested: string[] = [];
    context.on('request', (r) => requested.push(r.url()));
    const sockets: string[] = [];
    const closedSockets: string[] = [];
    page.on('websocket', (ws) => {
      sockets.push(ws.url());
      ws.on('close', () => closedSockets.push(ws.url()));
    });

    try {
      // The SPA with its base href and CSP, through nginx.
      const index = await page.goto(nginx.url);
      expect(index?.status()).toBe(200);
      const headers = index?.headers() ?? {};
      expect(headers['content-security-policy']).toMatch(/script-src 'self' 'sha256-/);
      expect(headers['content-security-policy']).toContain("connect-src 'self'");
      await expect(page).toHaveURL(`${nginx.url}login`);

      await signIn(page, user.username, user.password);
      const fp = (await context.cookies()).find((c) => c.name === 'tether_fp');
      expect(fp).toMatchObject({ domain: '127.0.0.1', path: `${PREFIX}/api`, httpOnly: true });

      // New connection → accept the host key → a shell, over the proxied WebSocket.
      await page.getByRole('button', { name: 'New connection' }).first().click();
      const dialog = page.getByRole('dialog', { name: 'New connection' });
      await dialog.getByLabel('Host').fill(sshd.host);
      await dialog.getByLabel('Port').fill(String(sshd.port));
      await dialog.getByLabel('Username').fill(sshd.username);
      await dialog.getByRole('radio', { name: 'Password' }).check();
      await dialog.locator('input[type="password"]').fill(sshd.password);
      const stored = workspaceSaved(page);
      await dialog.getByRole('button', { name: 'Connect' }).click();
      const hostKey = page.getByRole('dialog', { name: 'Verify host key' });
      await expect(hostKey).toContainText(sshd.hostKeyFingerprint);
      await hostKey.getByRole('button', { name: 'Accept' }).click();

      const pane = activeTerminal(page);
      await expect(pane).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });
      const terminalId = await pane.getAttribute('data-terminal-id');
      expect(terminalId).toMatch(/^[0-9a-f-]{36}$/);
      await typeInTerminal(page, 'echo he""llo');
      await expect(pane.locator('.xterm-rows')).toContainText('hello');
      expect(sockets).toEqual([`ws://127.0.0.1:${nginx.port}${PREFIX}/api/terminals/ws`]);

      // Long-lived: idle for several heartbeat intervals (and past any short proxy timeout), the
      // same socket stays open and still carries a command.
      await page.waitForTimeout(6_000);
      expect(closedSockets).toEqual([]);
      await expect(pane).toHaveAttribute('data-status', 'ready');
      await typeInTerminal(page, 'echo st""ill');
      await expect(pane.locator('.xterm-rows')).toContainText('still');
      expect(sockets).toHaveLength(1);
      expect(closedSockets).toEqual([]);

      // Reload: the access token lives in memory only, so sign in again; the tab comes back.
      await stored;
      await page.reload();
      await expect(page).toHaveURL(`${nginx.url}login`);
      await signIn(page, user.username, user.password);
      const item = page.locator(`.term-item[data-terminal-id="${terminalId}"]`);
      await expect(item).toHaveAttribute('data-state', 'open');
      const again = activeTerminal(page);
      await expect(again).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });
      await expect(again).toHaveAttribute('data-terminal-id', terminalId ?? '');
      await expect(again.locator('.xterm-rows')).toContainText('hello');
      await expect(again.locator('.xterm-rows')).toContainText('still');
      await typeInTerminal(page, 'echo wor""ld');
      await expect(again.locator('.xterm-rows')).toContainText('world');
      expect(sockets).toHaveLength(2);

      // nginx logged both upgrades (101) on the prefixed path (a line is written when its
      // connection ends: the first socket ended with the reload).
      await expect
        .poll(
          async () =>
            (await nginx.logs()).match(/"GET \/ssh-ws\/api\/terminals\/ws HTTP\/1\.1" 101 /g)?.length,
        )
        .toBe(1);

      await typeInTerminal(page, 'exit');
      await expect(again).toHaveAttribute('data-status', 'exited');

      // Every request and socket the page opened went to nginx, under the prefix.
      const all = [...requested, ...sockets];
      const stray = all.filter((u) => {
        const url = new URL(u);
        return url.host !== `127.0.0.1:${nginx.port}` || !url.pathname.startsWith(`${PREFIX}/`);
      });
      expect(stray).toEqual([]);
      expect(all.some((u) => u.includes('/assets/'))).toBe(true);
      expect(all.some((u) => u.includes(`${PREFIX}/api/auth/login`))).toBe(true);

      expect(csp.violations(), 'CSP violations').toEqual([]);
      expect(await documentCspViolations(page), 'CSP violations (last document)').toEqual([]);
      expect(pageErrors).toEqual([]);

      // The watcher itself works here, and the CSP the broker sent survived the proxy: an inline
      // script injected now is refused and reported.
      await page.evaluate(() => {
        const s = document.createElement('script');
        s.textContent = 'window.__tetherInlineRan = true';
        document.head.append(s);
      });
      await expect.poll(() => csp.violations().some((v) => /^script-src(-elem)? inline/.test(v))).toBe(true);
      expect(
        await page.evaluate(() => (window as unknown as { __tetherInlineRan?: boolean }).__tetherInlineRan),
      ).toBeUndefined();
    } finally {
      await context.close();
    }
  });
});
