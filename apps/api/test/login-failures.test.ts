import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { createLoginFailuresRepo, nameKey } from '../src/auth/login-failures-repo.js';
import { type Database, openDatabase, queryRows } from '../src/db/index.js';
import { DRIVERS, type Driver, freshPostgresDatabase } from './helpers.js';

const MIGRATIONS = fileURLToPath(new URL('../drizzle', import.meta.url));

/** The migrations as they were before `tag` (a database from an older release). */
function migrationsBefore(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tether-migrations-'));
  cpSync(MIGRATIONS, dir, { recursive: true });
  const journalPath = join(dir, 'meta/_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: Array<{ tag: string }> };
  const at = journal.entries.findIndex((e) => e.tag === tag);
  expect(at).toBeGreaterThan(0);
  journal.entries = journal.entries.slice(0, at);
  writeFileSync(journalPath, JSON.stringify(journal));
  return dir;
}

describe.each(DRIVERS)('login failures in the database (%s)', (driver: Driver) => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function target(): Promise<{ url?: string; dataDir: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'tether-lf-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    return driver === 'postgres' ? { url: await freshPostgresDatabase(), dataDir: dir } : { dataDir: dir };
  }
  async function open(
    where: { url?: string; dataDir: string },
    migrationsFolder?: string,
  ): Promise<Database> {
    return openDatabase({ ...where, ...(migrationsFolder ? { migrationsFolder } : {}) });
  }

  it('an upgrade carries the failures and locks of existing accounts over, under the same key', async () => {
    const where = await target();
    const old = migrationsBefore('0003_login_failures');
    cleanup.push(() => rmSync(old, { recursive: true, force: true }));
    const before = await open(where, old);
    await before.db.execute(sql`
      insert into users (username, password_hash, role, failed_login_count, locked_until)
      values ('Locked.One', 'x', 'user', 0, now() + interval '10 minutes'),
             ('Two-Failures', 'x', 'user', 2, null),
             ('clean', 'x', 'user', 0, null)`);
    await before.close();

    const after = await open(where);
    cleanup.push(() => after.close());
    const rows = await queryRows<{ name_key: string; failures: number; locked: boolean }>(
      after.db,
      sql`select name_key, failures, locked_until > now() as locked from login_failures order by failures`,
    );
    expect(rows).toEqual([
      { name_key: nameKey('locked.one'), failures: 0, locked: true },
      { name_key: nameKey('two-failures'), failures: 2, locked: null },
    ]);
  });

  it('forgets failures a day after the last one, but never a running lock', async () => {
    const where = await target();
    const database = await open(where);
    cleanup.push(() => database.close());
    const repo = createLoginFailuresRepo(database.db);
    const now = new Date();
    const dayAgo = new Date(now.getTime() - 25 * 3_600_000);
    await repo.recordFailure(nameKey('old'), 5, 60_000, dayAgo);
    await repo.recordFailure(nameKey('locked'), 1, 2 * 86_400_000, dayAgo); // locked for two days
    await repo.recordFailure(nameKey('recent'), 5, 60_000, now);
    expect(await repo.sweep(now, new Date(now.getTime() - 24 * 3_600_000))).toBe(1);
    const left = await repo.findMany([nameKey('old'), nameKey('locked'), nameKey('recent')]);
    expect(left.map((r) => r.nameKey).sort()).toEqual([nameKey('locked'), nameKey('recent')].sort());
    expect(await repo.lockedUntil(nameKey('locked'), now)).not.toBeNull();
  });
});
