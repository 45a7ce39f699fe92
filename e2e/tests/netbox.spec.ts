import type { Locator, Page } from '@playwright/test';
import {
  NETBOX_TOKEN,
  NETBOX_VERSION,
  type NetboxStandIn,
  type SshdHarness,
  sshdSkipReason,
  startNetboxStandIn,
  startSshd,
} from '@tether/testkit';
import { adminApi, createUser, expect, signIn, test } from '../support/fixtures.ts';

const skipReason = sshdSkipReason();

function panel(page: Page): Locator {
  return page.getByRole('region', { name: 'Connections' });
}

function activeTerminal(page: Page): Locator {
  return page.locator('[role="tabpanel"]:not([hidden]) .terminal-pane');
}

test.describe('NetBox import', () => {
  test.skip(skipReason !== null, skipReason ?? '');

  let sshd: SshdHarness;
  let netbox: NetboxStandIn;
  test.beforeAll(async ({ broker }) => {
    sshd = await startSshd();
    netbox = await startNetboxStandIn();
    // Device 1 (site-01) points at the local sshd; NetBox has no port field, so the custom
    // field `ssh_port` carries the harness's random port.
    const lab = netbox.devices[0]!;
    lab.name = 'lab-sshd';
    lab.display = 'lab-sshd';
    lab.primary_ip4 = { id: 9001, family: 4, address: `${sshd.host}/32` };
    lab.primary_ip = lab.primary_ip4;
    lab.custom_fields = { ssh_port: sshd.port };

    // The admin points the broker at this NetBox (the settings row, not NETBOX_URL).
    const { api, token, dispose } = await adminApi(broker);
    try {
      const res = await api.put('api/admin/netbox', {
        data: { url: netbox.url },
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status(), await res.text()).toBe(200);
      await api.post('api/auth/logout', { headers: { authorization: `Bearer ${token}` } });
    } finally {
      await dispose();
    }
  });
  test.afterAll(async () => {
    await sshd?.stop();
    await netbox?.close();
  });

  test('configure the token, search, import a site, and connect to an imported device', async ({
    page,
    broker,
  }) => {
    const user = await createUser(broker);
    await signIn(page, user.username, user.password);

    await panel(page).getByRole('button', { name: 'NetBox', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Import from NetBox' });
    await expect(dialog).toContainText(netbox.url);

    // A wrong token: NetBox's refusal is shown as it is.
    await dialog.getByLabel('NetBox API token').fill('ffffffffffffffffffffffffffffffffffffffff');
    await dialog.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(dialog.getByTestId('netbox-test')).toHaveText(
      'NetBox refused the token (403: Invalid token)',
    );

    await dialog.getByLabel('NetBox API token').fill(NETBOX_TOKEN);
    await dialog.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(dialog.getByTestId('netbox-test')).toHaveText(
      `Connected to NetBox ${NETBOX_VERSION} as neteng (2,500 devices).`,
    );
    await expect(dialog.getByLabel('NetBox API token')).toHaveValue('');

    // Search one site; the page shows the first 50 of its 84 devices.
    await dialog.getByLabel('Site', { exact: true }).fill('site-01');
    await dialog.getByRole('button', { name: 'Search devices' }).click();
    const devices = dialog.getByRole('region', { name: 'NetBox devices' });
    await expect(devices.getByRole('status')).toHaveText('1–50 of 84');
    await devices.getByRole('button', { name: 'Next' }).click();
    await expect(devices.getByRole('status')).toHaveText('51–84 of 84');
    // Sorted by name: lab-sshd comes after the dev-01-… devices.
    await expect(devices.getByRole('row', { name: /lab-sshd/ })).toContainText(
      `${sshd.host} port ${sshd.port}`,
    );

    // Import the whole site into one folder per site.
    await dialog.getByRole('button', { name: 'Import all matching (84)' }).click();
    const result = dialog.getByTestId('netbox-result');
    await expect(result).toContainText('84 added, 0 updated, 0 unchanged, 0 skipped; new folders: Site 01');

    // Importing again changes nothing and adds no duplicates.
    await dialog.getByRole('button', { name: 'Import all matching (84)' }).click();
    await expect(result).toContainText('0 added, 0 updated, 84 unchanged, 0 skipped');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await expect(dialog).toBeHidden();
    await expect(panel(page).getByRole('status')).toContainText(
      'NetBox import: 0 added, 0 updated, 84 unchanged',
    );

    // The imported profile has no username or auth yet: set them, then connect.
    const lab = panel(page).getByRole('button', { name: 'lab-sshd', exact: true });
    await expect(lab).toBeVisible();
    await lab.focus();
    await panel(page).getByRole('button', { name: 'Edit lab-sshd', exact: true }).click();
    const edit = page.getByRole('dialog', { name: 'Edit lab-sshd' });
    await expect(edit.getByLabel('Host')).toHaveValue(sshd.host);
    await expect(edit.getByLabel('Port')).toHaveValue(String(sshd.port));
    await edit.getByLabel('Username').fill(sshd.username);
    await edit.getByLabel('Authentication').selectOption('password');
    await edit.getByRole('button', { name: 'Save' }).click();
    await expect(edit).toBeHidden();

    await lab.dblclick();
    const connect = page.getByRole('dialog', { name: 'Connect to lab-sshd' });
    await connect.getByLabel('Password').fill(sshd.password);
    await connect.getByRole('button', { name: 'Connect' }).click();
    const hostKey = page.getByRole('dialog', { name: 'Verify host key' });
    await expect(hostKey).toContainText(sshd.hostKeyFingerprint);
    await hostKey.getByRole('button', { name: 'Accept' }).click();
    const pane = activeTerminal(page);
    await expect(pane).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });
    await pane.locator('.xterm').click();
    await page.keyboard.type('echo net""box');
    await page.keyboard.press('Enter');
    await expect(pane.locator('.xterm-rows')).toContainText('netbox');
  });
});
