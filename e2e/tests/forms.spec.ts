import type { Locator, Page } from '@playwright/test';
import { type BrokerEnv, createUser, expect, signIn, test } from '../support/fixtures.ts';

/**
 * Forms validate with the protocol's own schemas and show every field's error at once, each
 * beside its field (issue #22); the broker's answer about a field lands beside that field too.
 */
/** A new user's Credentials page; returns its "New credential set" form. */
async function credentialsPage(page: Page, broker: BrokerEnv): Promise<Locator> {
  const user = await createUser(broker);
  await signIn(page, user.username, user.password);
  await page.getByRole('link', { name: 'Credentials' }).click();
  return page.getByRole('region', { name: 'New credential set' });
}

test.describe('forms', () => {
  test('the password form shows every field’s error at once, and the broker’s verdict beside its field', async ({
    page,
    broker,
  }) => {
    const user = await createUser(broker);
    await signIn(page, user.username, user.password);
    await page.getByRole('link', { name: 'Account' }).click();
    const current = page.getByLabel('Current password');
    const next = page.getByLabel('New password', { exact: true });
    const confirm = page.getByLabel('Confirm new password');

    await next.fill('short');
    await confirm.fill('different');
    await page.getByRole('button', { name: 'Change password' }).click();
    // All three at once: nothing typed, too short (the protocol's PasswordSchema), no match.
    await expect(current).toHaveAttribute('aria-invalid', 'true');
    await expect(page.getByText('Current password is required')).toBeVisible();
    await expect(next).toHaveAttribute('aria-invalid', 'true');
    await expect(page.getByText(/^New password must be at least \d+ characters\.$/)).toBeVisible();
    await expect(page.getByText('Confirm new password does not match the new password')).toBeVisible();

    // Valid input, but the broker says the current password is wrong: said beside that field.
    await current.fill(`${user.password}-wrong`);
    await next.fill(`${user.password}-new`);
    await confirm.fill(`${user.password}-new`);
    await page.getByRole('button', { name: 'Change password' }).click();
    await expect(page.getByText('Current password is wrong')).toBeVisible();
    await expect(next).not.toHaveAttribute('aria-invalid', 'true');
  });

  test('creating a user: an invalid name and a short password are both said at once; a valid one is created and listed', async ({
    page,
    broker,
  }) => {
    const admin = await createUser(broker, 'admin');
    await signIn(page, admin.username, admin.password);
    await page.getByRole('link', { name: 'Users' }).click();
    const form = page.getByRole('region', { name: 'Create user' });
    await form.getByLabel('Username').fill('-bad name');
    await form.getByLabel('Password').fill('short');
    await form.getByRole('button', { name: 'Create user' }).click();
    await expect(form.getByText(/^Username must be 1-64 letters/)).toBeVisible();
    await expect(form.getByText(/^Password must be at least \d+ characters\.$/)).toBeVisible();

    const name = `u${Date.now().toString(36)}`;
    await form.getByLabel('Username').fill(name);
    await form.getByLabel('Password').fill('a-long-enough-password');
    await form.getByRole('button', { name: 'Create user' }).click();
    await expect(page.getByRole('status').filter({ hasText: `User ${name} created.` })).toBeVisible();
    await expect(page.locator(`tr[data-username="${name}"]`)).toBeVisible();
    await expect(form.getByLabel('Username')).toHaveValue('');
  });

  test('editing a credential set: an empty name is refused beside the field; a new name is saved and listed', async ({
    page,
    broker,
  }) => {
    const form = await credentialsPage(page, broker);
    await form.getByLabel('Name', { exact: true }).fill('edit-me');
    await form.getByLabel('Password').fill('a-secret');
    await form.getByRole('button', { name: 'Create credential set' }).click();
    await page.getByRole('button', { name: 'Edit edit-me' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit edit-me' });
    await dialog.getByLabel('Name', { exact: true }).fill('   ');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect(dialog.getByText('Name is required')).toBeVisible();
    await dialog.getByLabel('Name', { exact: true }).fill('edited');
    await dialog.getByLabel('Username').fill('deploy');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect(dialog).toHaveCount(0);
    await expect(page.getByRole('rowheader', { name: 'edited' })).toBeVisible();
  });

  test('the new-connection dialog says what is wrong with each field at once (the protocol’s target rules)', async ({
    page,
    broker,
  }) => {
    const user = await createUser(broker);
    await signIn(page, user.username, user.password);
    await page.getByRole('button', { name: 'New connection' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'New connection' });
    await dialog.getByLabel('Host').fill('not a host!');
    await dialog.getByLabel('Port').fill('0');
    await dialog.getByLabel('Username').fill('');
    await dialog.getByRole('button', { name: 'Connect' }).click();
    await expect(dialog.getByText('Host must be a host name or IP address')).toBeVisible();
    await expect(dialog.getByText('Port must be from 1 to 65535.')).toBeVisible();
    await expect(dialog.getByText('Username is required')).toBeVisible();
    await expect(dialog).toBeVisible();
    // Non-digits never reach the port field.
    await dialog.getByLabel('Port').fill('');
    await dialog.getByLabel('Port').pressSequentially('2a2');
    await expect(dialog.getByLabel('Port')).toHaveValue('22');
  });

  test('a credential set: a missing name and secret are both said at once; replacing the secret asks for the key', async ({
    page,
    broker,
  }) => {
    const form = await credentialsPage(page, broker);
    await form.getByRole('button', { name: 'Create credential set' }).click();
    await expect(form.getByText('Name is required')).toBeVisible();
    await expect(form.getByText('Enter the password.')).toBeVisible();
    await form.getByLabel('Name', { exact: true }).fill('keys');
    await form.getByLabel('Password').fill('a-secret');
    await form.getByRole('button', { name: 'Create credential set' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Credential set keys created.' })).toBeVisible();

    await page.getByRole('button', { name: 'Replace secret of keys' }).click();
    const dialog = page.getByRole('dialog', { name: 'Replace secret of keys' });
    await dialog.getByLabel('Kind').selectOption('privateKey');
    await dialog.getByRole('button', { name: 'Replace secret' }).click();
    await expect(dialog.getByText('Paste a private key or load one from a file.')).toBeVisible();
  });

  test('the sign-in form says both missing fields at once; a refused sign-in empties the password', async ({
    page,
    broker,
  }) => {
    await page.goto('login');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByText('Username is required.')).toBeVisible();
    await expect(page.getByText('Password is required.')).toBeVisible();
    await expect(page.getByLabel('Username')).toHaveAttribute('aria-invalid', 'true');
    // An error reads as one: not in the label's colour.
    const colour = (text: string) =>
      page.getByText(text, { exact: true }).evaluate((el) => getComputedStyle(el).color);
    expect(await colour('Username is required.')).not.toBe(await colour('Username'));
    await page.getByLabel('Username').fill(broker.adminUsername);
    await expect(page.getByText('Username is required.')).toHaveCount(0);
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert')).toBeVisible();
    await expect(page.getByLabel('Password')).toHaveValue('');
    await expect(page.getByLabel('Password')).toBeFocused();
  });

  test('connecting a saved connection without a username asks for it and the missing key at once, each beside its field', async ({
    page,
    broker,
  }) => {
    const user = await createUser(broker);
    await signIn(page, user.username, user.password);
    await page.getByRole('button', { name: 'New saved connection' }).click();
    const create = page.getByRole('dialog', { name: 'New saved connection' });
    await create.getByLabel('Name', { exact: true }).fill('no-user');
    await create.getByLabel('Host').fill('127.0.0.1');
    await create.getByLabel('Authentication').selectOption('publickey');
    await create.getByRole('button', { name: 'Create' }).click();
    await expect(create).toBeHidden();

    await page.getByRole('button', { name: 'no-user', exact: true }).focus();
    await page.keyboard.press('Enter');
    const ask = page.getByRole('dialog', { name: 'Connect to no-user' });
    await ask.getByRole('button', { name: 'Connect' }).click();
    // Both at once: the username and the key the profile lacks.
    await expect(ask.getByText('Username is required.')).toBeVisible();
    await expect(ask.getByText('Paste a private key or load one from a file.')).toBeVisible();
    await ask.getByLabel('Username').fill('deploy');
    await expect(ask.getByText('Username is required.')).toHaveCount(0);
    await ask.getByRole('button', { name: 'Cancel' }).click();
    await expect(ask).toBeHidden();
  });
});
