import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config.js';
import type { AuthService } from './auth-service.js';

/**
 * First run: with no users at all, create the admin from ADMIN_USERNAME/ADMIN_PASSWORD, or with a
 * generated password printed once to the console (never to the structured log, which may be
 * shipped elsewhere).
 */
export async function ensureFirstAdmin(
  auth: Pick<AuthService, 'users' | 'createUser'>,
  config: Pick<Config, 'admin'>,
  log: FastifyBaseLogger,
  print: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<void> {
  if ((await auth.users.count()) > 0) return;
  const generated = config.admin.password === undefined;
  const password = config.admin.password ?? randomBytes(18).toString('base64url');
  try {
    await auth.createUser({ username: config.admin.username, password, role: 'admin' });
  } catch (err) {
    // Another node won the race to create the first admin: nothing to do.
    if ((await auth.users.count()) > 0) return;
    throw err;
  }
  log.info({ username: config.admin.username, generatedPassword: generated }, 'created first admin account');
  if (generated) {
    print('');
    print('  ┌──────────────────────────────────────────────────────────────┐');
    print('  │ First admin account created. This password is shown ONCE:    │');
    print(`  │   username: ${config.admin.username.padEnd(49)}│`);
    print(`  │   password: ${password.padEnd(49)}│`);
    print('  │ Sign in and change it under Account.                         │');
    print('  └──────────────────────────────────────────────────────────────┘');
    print('');
  }
}
