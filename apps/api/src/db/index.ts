import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import * as schema from './schema/index.js';

export type Schema = typeof schema;
/** The common Drizzle surface of both drivers; repositories depend on this only. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
/** A transaction handle has the same query surface as the database. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type DbOrTx = Db | Tx;

export interface Database {
  db: Db;
  driver: 'postgres' | 'pglite';
  ping(): Promise<number>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  url?: string;
  /** PGlite data directory; `memory://` for a throwaway in-memory database. */
  dataDir: string;
  /** Pool size per node for PostgreSQL. */
  maxConnections?: number;
}

// Migrations sit beside the compiled code in dist/drizzle (copied at build) and at the package
// root in development; whichever exists relative to this module is used.
function migrationsFolder(): string {
  const candidates = ['../drizzle', '../../drizzle'].map((p) => fileURLToPath(new URL(p, import.meta.url)));
  return candidates.find((p) => existsSync(`${p}/meta/_journal.json`)) ?? candidates[1]!;
}

/** Opens the configured database and applies pending migrations before returning. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const folder = migrationsFolder();
  if (options.url) {
    const client = postgres(options.url, {
      max: options.maxConnections ?? 10,
      onnotice: () => {},
      connect_timeout: 10,
      // Fail fast rather than queue forever when the server is gone; requests get a 503.
      idle_timeout: 60,
    });
    const db = drizzlePostgres(client, { schema, casing: 'snake_case' });
    await migratePostgres(db, { migrationsFolder: folder });
    return {
      db: db as unknown as Db,
      driver: 'postgres',
      ping: () => timed(() => db.execute(sql`select 1`)),
      close: () => client.end({ timeout: 5 }),
    };
  }
  if (!options.dataDir.startsWith('memory://')) mkdirSync(options.dataDir, { recursive: true });
  const client = await PGlite.create(options.dataDir);
  const db = drizzlePglite(client, { schema, casing: 'snake_case' });
  await migratePglite(db, { migrationsFolder: folder });
  return {
    db: db as unknown as Db,
    driver: 'pglite',
    ping: () => timed(() => db.execute(sql`select 1`)),
    close: () => client.close(),
  };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}
