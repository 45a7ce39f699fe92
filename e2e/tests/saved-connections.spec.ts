import { readFileSync } from 'node:fs';
import type { Locator, Page } from '@playwright/test';
import { type SshdHarness, sshdSkipReason, startSshd } from '@tether/testkit';
import { createUser, expect, signIn, test } from '../support/fixtures.ts';
import { readVelociTerm } from '../support/velociterm.ts';

const skipReason = sshdSkipReason();

function velociTermFile(sshd: SshdHarness): string {
  return `- folder_name: Lab
  sessions:
    - display_name: lab-sshd
      host: ${sshd.host}
      port: '${sshd.port}'
      DeviceType: linux
      Model: OpenSSH
- folder_name: Core
  sessions:
    - display_name: core-sw1
      host: 10.20.0.1
      port: '22'
      DeviceType: cisco_ios
      Model: C9300-48P
      credsid: '3'
    - display_name: core-sw2
      host: 10.20.0.2
      port: '22'
      DeviceType: cisco_ios
      Model: C9300-48P
    - display_name: edge-fw
      host: 10.20.0.254
      port: '2222'
      DeviceType: paloalto_panos
      Model: PA-3220
`;
}

function panel(page: Page): Locator {
  return page.getByRole('region', { name: 'Connections' });
}

function profileButton(page: Page, name: string): Locator {
  return panel(page).getByRole('button', { name, exact: true });
}

/** Row actions show on hover/focus: focus the row first, then use its button. */
async function profileAction(page: Page, name: string, action: 'Edit' | 'Move' | 'Delete'): Promise<void> {
  await profileButton(page, name).focus();
  await panel(page)
    .getByRole('button', { name: `${action} ${name}`, exact: true })
    .click();
}

/** The figure next to a preview label (`<dt>To add</dt><dd>4</dd>`). */
function previewCount(preview: Locator, label: string): Locator {
  return preview.getByRole('term').filter({ hasText: label }).locator('xpath=following-sibling::dd[1]');
}

function activeTerminal(page: Page): Locator {
  return page.locator('[role="tabpanel"]:not([hidden]) .terminal-pane');
}

async function importFile(page: Page, name: string, text: string): Promise<Locator> {
  await panel(page).getByRole('button', { name: 'Import connections' }).click();
  const dialog = page.getByRole('dialog', { name: 'Import connections' });
  await dialog.getByLabel('VelociTerm YAML file').setInputFiles({
    name,
    mimeType: 'application/yaml',
    buffer: Buffer.from(text),
  });
  return dialog;
}

test.describe('saved connections', () => {
  test.skip(skipReason !== null, skipReason ?? '');

  let sshd: SshdHarness;
  test.beforeAll(async () => {
    sshd = await startSshd();
  });
  test.afterAll(async () => {
    await sshd?.stop();
  });

  test('imports VelociTerm YAML, connects with a credential set and exports the same sessions', async ({
    page,
    broker,
  }) => {
    const user = await createUser(broker);
    await signIn(page, user.username, user.password);
    await expect(panel(page).getByText('No saved connections yet.')).toBeVisible();

    // Import: the dry-run preview comes first, nothing is written before "Apply import".
    const imported = velociTermFile(sshd);
    const dialog = await importFile(page, 'sessions.yaml', imported);
    await expect(dialog.getByRole('radio', { name: 'Merge' })).toBeChecked();
    const preview = dialog.getByRole('region', { name: 'Preview' });
    await expect(preview).toBeVisible();
    await expect(previewCount(preview, 'To add')).toHaveText('4');
    await expect(previewCount(preview, 'New folders')).toHaveText('2');
    const toAdd = preview.getByRole('list', { name: 'To add' });
    for (const name of ['Lab / lab-sshd', 'Core / core-sw1', 'Core / core-sw2', 'Core / edge-fw']) {
      await expect(toAdd.getByRole('listitem').filter({ hasText: name })).toHaveCount(1);
    }
    await expect(panel(page).getByRole('button', { name: /^Core/ })).toHaveCount(0);
    await dialog.getByRole('button', { name: 'Apply import' }).click();
    await expect(dialog).toBeHidden();
    await expect(panel(page).getByRole('status')).toContainText('4 added');

    // Folder tree with counts; sessions show host and device type.
    await expect(panel(page).getByRole('button', { name: 'Core, 3 connections' })).toBeVisible();
    await expect(panel(page).getByRole('button', { name: 'Lab, 1 connection' })).toBeVisible();
    await expect(profileButton(page, 'edge-fw')).toHaveAccessibleDescription(
      '10.20.0.254:2222 · paloalto_panos',
    );

    // Search by host narrows the tree to the match.
    const search = panel(page).getByLabel('Search connections');
    await search.fill('10.20.0.254');
    await expect(profileButton(page, 'edge-fw')).toBeVisible();
    await expect(profileButton(page, 'core-sw1')).toHaveCount(0);
    await expect(profileButton(page, 'lab-sshd')).toHaveCount(0);
    await search.fill('127.0.0');
    await expect(profileButton(page, 'lab-sshd')).toBeVisible();
    await expect(profileButton(page, 'edge-fw')).toHaveCount(0);
    await search.press('Escape');
    await expect(profileButton(page, 'core-sw2')).toBeVisible();

    // A credential set with the test account's password.
    await page.getByRole('link', { name: 'Credentials' }).click();
    await expect(page.getByRole('heading', { name: 'Credentials' })).toBeVisible();
    const form = page.getByRole('region', { name: 'New credential set' });
    await form.getByLabel('Name', { exact: true }).fill('lab-login');
    await form.getByLabel('Username').fill(sshd.username);
    await form.getByLabel('Kind').selectOption('Password');
    await form.getByLabel('Password').fill(sshd.password);
    await form.getByRole('button', { name: 'Create credential set' }).click();
    await expect(page.getByRole('status')).toHaveText('Credential set lab-login created.');
    const credRow = page.getByRole('row', { name: /lab-login/ });
    await expect(credRow).toContainText(sshd.username);
    await expect(credRow).toContainText('unused');
    // The secret is never shown again.
    await expect(page.getByText(sshd.password)).toHaveCount(0);

    // Attach it to the imported profile.
    await page.getByRole('link', { name: 'Terminals', exact: true }).click();
    await profileAction(page, 'lab-sshd', 'Edit');
    const edit = page.getByRole('dialog', { name: 'Edit lab-sshd' });
    await expect(edit.getByLabel('Host')).toHaveValue(sshd.host);
    await expect(edit.getByLabel('Port')).toHaveValue(String(sshd.port));
    await expect(edit.getByLabel('Device type')).toHaveValue('linux');
    await expect(edit.getByLabel('Folder')).toHaveValue(/.+/);
    await edit.getByLabel('Credential').selectOption({ label: `lab-login (password, ${sshd.username})` });
    await expect(edit.getByLabel('Authentication')).toHaveValue('password');
    await edit.getByRole('button', { name: 'Save' }).click();
    await expect(edit).toBeHidden();
    await expect(panel(page).getByRole('status')).toHaveText('Saved lab-sshd.');

    // Double-click connects: same tab machinery as New connection, with profileId.
    await profileButton(page, 'lab-sshd').dblclick();
    const hostKey = page.getByRole('dialog', { name: 'Verify host key' });
    await expect(hostKey).toContainText(sshd.hostKeyFingerprint);
    await hostKey.getByRole('button', { name: 'Accept' }).click();
    const pane = activeTerminal(page);
    await expect(pane).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });
    await expect(page.getByRole('tab', { name: 'lab-sshd' })).toHaveAttribute('aria-selected', 'true');
    await pane.locator('.xterm').click();
    await page.keyboard.type('echo he""llo');
    await page.keyboard.press('Enter');
    await expect(pane.locator('.xterm-rows')).toContainText('hello');

    // Export: the same folders and sessions as the imported file.
    const downloading = page.waitForEvent('download');
    await panel(page).getByRole('button', { name: 'Export connections' }).click();
    const download = await downloading;
    expect(download.suggestedFilename()).toMatch(/\.yaml$/);
    const exportPath = await download.path();
    const exported = readFileSync(exportPath, 'utf8');
    expect(readVelociTerm(exported)).toEqual(readVelociTerm(imported));
    expect(exported).toContain('credsid');
    expect(exported).toContain('credential: lab-login');
    expect(exported).not.toContain(sshd.password);

    // Re-importing the export changes nothing.
    const again = await importFile(page, 'exported.yaml', exported);
    const again2 = again.getByRole('region', { name: 'Preview' });
    await expect(previewCount(again2, 'Unchanged')).toHaveText('4');
    await expect(again2).toContainText('Nothing to change');
    await expect(again.getByRole('button', { name: 'Apply import' })).toBeDisabled();
    await again.getByRole('button', { name: 'Cancel' }).click();

    // A credential set in use cannot be deleted; the dialog names who uses it.
    await page.getByRole('link', { name: 'Credentials' }).click();
    await page.getByRole('button', { name: 'Delete lab-login' }).click();
    const del = page.getByRole('dialog', { name: 'Delete lab-login' });
    await del.getByRole('button', { name: 'Delete' }).click();
    await expect(del.getByRole('alert')).toContainText('lab-sshd');
    await expect(del.getByRole('list', { name: 'Connections using lab-login' })).toContainText('lab-sshd');
    await del.getByRole('button', { name: 'Close' }).click();
    await expect(page.getByRole('row', { name: /lab-login/ })).toContainText('1 connection');
  });

  test('creates, moves and deletes connections and folders, asking what to do with a non-empty folder', async ({
    page,
    broker,
  }) => {
    const user = await createUser(broker);
    await signIn(page, user.username, user.password);
    const p = panel(page);

    await p.getByRole('button', { name: 'New folder' }).click();
    let folderDialog = page.getByRole('dialog', { name: 'New folder' });
    await folderDialog.getByLabel('Folder name').fill('Staging');
    await folderDialog.getByRole('button', { name: 'Create folder' }).click();
    await expect(p.getByRole('button', { name: 'Staging, 0 connections' })).toBeVisible();
    await p.getByRole('button', { name: 'New folder' }).click();
    folderDialog = page.getByRole('dialog', { name: 'New folder' });
    await folderDialog.getByLabel('Folder name').fill('Archive');
    await folderDialog.getByRole('button', { name: 'Create folder' }).click();
    await expect(p.getByRole('button', { name: 'Archive, 0 connections' })).toBeVisible();

    // Create a profile with every field.
    await p.getByRole('button', { name: 'New saved connection' }).click();
    const create = page.getByRole('dialog', { name: 'New saved connection' });
    await create.getByRole('button', { name: 'Create' }).click();
    await expect(create.getByText('Name is required.')).toBeVisible();
    await create.getByLabel('Name', { exact: true }).fill('web-1');
    await create.getByLabel('Host').fill('web-1.example.net');
    await create.getByLabel('Port').fill('2200');
    await create.getByLabel('Username').fill('deploy');
    await create.getByLabel('Authentication').selectOption('keyboard-interactive');
    await expect(create.getByLabel('Credential')).toHaveValue('');
    await create.getByLabel('Device type').fill('linux');
    await create.getByLabel('Model').fill('VM');
    await create.getByLabel('Tags').fill('web, prod');
    await create.getByLabel('Notes').fill('Front end');
    await create.getByLabel('Folder').selectOption({ label: 'Staging' });
    await create.getByRole('button', { name: 'Create' }).click();
    await expect(create).toBeHidden();
    await expect(p.getByRole('button', { name: 'Staging, 1 connection' })).toBeVisible();
    await expect(profileButton(page, 'web-1')).toHaveAccessibleDescription(
      /web-1\.example\.net:2200 · linux/,
    );

    // Search matches tags too.
    await p.getByLabel('Search connections').fill('prod');
    await expect(profileButton(page, 'web-1')).toBeVisible();
    await p.getByLabel('Search connections').fill('');

    // Move with the dialog.
    await profileAction(page, 'web-1', 'Move');
    const move = page.getByRole('dialog', { name: 'Move web-1' });
    await move.getByLabel('Folder').selectOption({ label: 'Archive' });
    await move.getByRole('button', { name: 'Move' }).click();
    await expect(p.getByRole('button', { name: 'Archive, 1 connection' })).toBeVisible();
    await expect(p.getByRole('button', { name: 'Staging, 0 connections' })).toBeVisible();

    // Drag and drop onto a folder moves too.
    await profileButton(page, 'web-1').dragTo(p.getByRole('button', { name: 'Staging, 0 connections' }));
    await expect(p.getByRole('button', { name: 'Staging, 1 connection' })).toBeVisible();
    await profileButton(page, 'web-1').dragTo(p.getByRole('button', { name: 'Archive, 0 connections' }));
    await expect(p.getByRole('button', { name: 'Archive, 1 connection' })).toBeVisible();

    // Rename a folder.
    await p.getByRole('button', { name: 'Archive, 1 connection' }).focus();
    await p.getByRole('button', { name: 'Rename folder Archive' }).click();
    const rename = page.getByRole('dialog', { name: 'Rename folder Archive' });
    await rename.getByLabel('Folder name').fill('Old');
    await rename.getByRole('button', { name: 'Rename' }).click();
    await expect(p.getByRole('button', { name: 'Old, 1 connection' })).toBeVisible();

    // Deleting a non-empty folder asks where its connections go.
    await p.getByRole('button', { name: 'Old, 1 connection' }).focus();
    await p.getByRole('button', { name: 'Delete folder Old' }).click();
    const delFolder = page.getByRole('dialog', { name: 'Delete folder Old' });
    await expect(delFolder).toContainText('holds 1 saved connection');
    await delFolder.getByLabel('Move connections to').selectOption({ label: 'Staging' });
    await delFolder.getByRole('button', { name: 'Move and delete folder' }).click();
    await expect(delFolder).toBeHidden();
    await expect(p.getByRole('button', { name: /^Old/ })).toHaveCount(0);
    await expect(p.getByRole('button', { name: 'Staging, 1 connection' })).toBeVisible();

    // Keyboard: arrows walk the tree, F2 edits, Delete deletes.
    await p.getByRole('button', { name: 'Staging, 1 connection' }).focus();
    await page.keyboard.press('ArrowDown');
    await expect(profileButton(page, 'web-1')).toBeFocused();
    await page.keyboard.press('F2');
    const edit = page.getByRole('dialog', { name: 'Edit web-1' });
    await expect(edit.getByLabel('Tags')).toHaveValue('web, prod');
    await expect(edit.getByLabel('Notes')).toHaveValue('Front end');
    await edit.getByRole('button', { name: 'Cancel' }).click();
    await profileButton(page, 'web-1').focus();
    await page.keyboard.press('Delete');
    const del = page.getByRole('dialog', { name: 'Delete web-1' });
    await del.getByRole('button', { name: 'Delete' }).click();
    await expect(profileButton(page, 'web-1')).toHaveCount(0);
    await expect(p.getByRole('button', { name: 'Staging, 0 connections' })).toBeVisible();

    // An empty folder is deleted without questions.
    await p.getByRole('button', { name: 'Staging, 0 connections' }).focus();
    await p.getByRole('button', { name: 'Delete folder Staging' }).click();
    const delEmpty = page.getByRole('dialog', { name: 'Delete folder Staging' });
    await expect(delEmpty).toContainText('The folder is empty.');
    await delEmpty.getByRole('button', { name: 'Delete folder' }).click();
    await expect(p.getByText('No saved connections yet.')).toBeVisible();
  });

  test('asks for the password of a profile that has none stored, and connects with it', async ({
    page,
    broker,
  }) => {
    const user = await createUser(broker);
    await signIn(page, user.username, user.password);
    const p = panel(page);
    await p.getByRole('button', { name: 'New saved connection' }).click();
    const create = page.getByRole('dialog', { name: 'New saved connection' });
    await create.getByLabel('Name', { exact: true }).fill('ask-me');
    await create.getByLabel('Host').fill(sshd.host);
    await create.getByLabel('Port').fill(String(sshd.port));
    await create.getByLabel('Authentication').selectOption('password');
    await create.getByRole('button', { name: 'Create' }).click();
    await expect(create).toBeHidden();

    await profileButton(page, 'ask-me').focus();
    await page.keyboard.press('Enter');
    const ask = page.getByRole('dialog', { name: 'Connect to ask-me' });
    await ask.getByLabel('Username').fill(sshd.username);
    await ask.getByLabel('Password').fill(sshd.password);
    await ask.getByRole('button', { name: 'Connect' }).click();
    await page
      .getByRole('dialog', { name: 'Verify host key' })
      .getByRole('button', { name: 'Accept' })
      .click();
    const pane = activeTerminal(page);
    await expect(pane).toHaveAttribute('data-status', 'ready', { timeout: 20_000 });
    await pane.locator('.xterm').click();
    await page.keyboard.type('echo as""ked');
    await page.keyboard.press('Enter');
    await expect(pane.locator('.xterm-rows')).toContainText('asked');

    // The username was saved on the profile; the password was not.
    await profileAction(page, 'ask-me', 'Edit');
    const edit = page.getByRole('dialog', { name: 'Edit ask-me' });
    await expect(edit.getByLabel('Username')).toHaveValue(sshd.username);
    await expect(edit.getByText('Forget the password')).toHaveCount(0);
  });
});
