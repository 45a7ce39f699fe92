import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, queryRows } from './index.js';

const MiB = 1024 * 1024;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

// Its own file: vitest gives each file a fresh process, so no other test's (closed, not yet
// collected) PGlite instance counts in this process's external memory.
describe('a new embedded-database directory', () => {
  it('is created by a child process, so this process never holds initdb memory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-pglite-init-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const database = await openDatabase({ dataDir: dir });
    cleanups.push(() => database.close());
    expect(existsSync(join(dir, 'PG_VERSION'))).toBe(true);
    expect(await queryRows(database.db, sql`select count(*)::int as n from users`)).toEqual([{ n: 0 }]);
    // The broker's own PGlite instance is ~140 MiB of WebAssembly memory. Running initdb in this
    // process adds its instance (and the temporary one it runs in): ~570 MiB in all, until a GC.
    const external = process.memoryUsage().external;
    expect(external / MiB).toBeLessThan(300);
  });
});
