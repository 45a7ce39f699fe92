/**
 * Administration from the server's shell, for what cannot be done in the web app:
 *
 *   node dist/cli.js reset-password <username> [--password-stdin]
 *
 * Run it with the broker's environment (DATA_DIR or DATABASE_URL). With embedded PGlite the
 * broker must be stopped first (the database serves one process); with PostgreSQL it may run.
 */
import { randomBytes } from 'node:crypto';
import { PasswordSchema } from '@tether/protocol';
import { createAuditRepo } from './audit/audit-repo.js';
import { createLoginFailuresRepo, nameKey } from './auth/login-failures-repo.js';
import { hashPassword } from './auth/passwords.js';
import { createSessionsRepo } from './auth/sessions-repo.js';
import { createUsersRepo } from './auth/users-repo.js';
import { ConfigError, loadConfig } from './config.js';
import { DatabaseOpenError, openDatabase } from './db/index.js';

const USAGE = `Usage: node dist/cli.js reset-password <username> [--password-stdin]

  reset-password   Sets a new password for <username>, prints it once (or reads it from standard
                   input with --password-stdin), lifts a sign-in lock and ends the user's web
                   sessions. Run with the broker's DATA_DIR or DATABASE_URL.`;

class CliError extends Error {}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // One line: the trailing newline of `echo` or a here-string is not part of the password.
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

async function resetPassword(username: string, fromStdin: boolean): Promise<void> {
  // The tool reads the broker's configuration but must not create the broker's generated secrets
  // (a wrong working directory would otherwise get a fresh DATA_DIR): they are not needed here.
  const config = loadConfig({ ...process.env, JWT_SECRET: 'x'.repeat(32), NODE_ID: 'cli' });
  let password: string;
  if (fromStdin) {
    const parsed = PasswordSchema.safeParse(await readStdin());
    if (!parsed.success) {
      throw new CliError(`the new password ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    }
    password = parsed.data;
  } else {
    password = randomBytes(18).toString('base64url');
  }
  const database = await openDatabase({
    url: config.database.url,
    dataDir: config.database.dataDir,
    maxConnections: 1,
    mustExist: true,
  });
  try {
    const users = createUsersRepo(database.db);
    const user = await users.findByUsername(username);
    if (!user) {
      const admins = (await users.list()).filter((u) => u.role === 'admin').map((u) => u.username);
      throw new CliError(`there is no user "${username}" (admins: ${admins.join(', ') || 'none'})`);
    }
    await users.update(user.id, {
      passwordHash: await hashPassword(password),
      passwordChangedAt: new Date(),
    });
    await createLoginFailuresRepo(database.db).clear(nameKey(user.username));
    // Every node closes the sockets of revoked sessions within a second (its periodic check).
    const ended = await createSessionsRepo(database.db).revokeLiveForUser(user.id, 'password_changed');
    await createAuditRepo(database.db).record({
      type: 'admin.password_reset',
      outcome: 'success',
      userId: user.id,
      username: user.username,
      target: user.username,
      detail: { via: 'command line', sessionsEnded: ended.length },
    });
    const out = (line: string) => process.stdout.write(`${line}\n`);
    out(`Password of "${user.username}" reset; ${ended.length} web session(s) ended; sign-in lock lifted.`);
    if (!fromStdin) out(`New password (shown once): ${password}`);
    if (user.disabledAt) out('Note: this account is disabled; an admin can enable it under Admin → Users.');
  } finally {
    await database.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const flags = rest.filter((a) => a.startsWith('--'));
  const args = rest.filter((a) => !a.startsWith('--'));
  if (command === 'reset-password' && args.length === 1 && flags.every((f) => f === '--password-stdin')) {
    await resetPassword(args[0]!, flags.includes('--password-stdin'));
    return 0;
  }
  process.stderr.write(`${USAGE}\n`);
  return command === '--help' || command === 'help' ? 0 : 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    const known = err instanceof CliError || err instanceof DatabaseOpenError;
    process.stderr.write(`error: ${known ? err.message : (err?.stack ?? String(err))}\n`);
    process.exit(1);
  },
);
