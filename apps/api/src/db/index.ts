import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { type SQL, sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { PgliteSocket, preparingClient } from './pglite-socket.js';
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
  /**
   * PostgreSQL only: `statement_timeout` and `lock_timeout` of every pooled connection, so a slow
   * or locked database answers requests with 503 in bounded time instead of holding them (and
   * the pool). Migrations run on a connection of their own, without them. 0 = none.
   */
  statementTimeoutMs?: number;
  lockTimeoutMs?: number;
  /** Where the migrations are (default: beside this module); tests upgrade from older ones. */
  migrationsFolder?: string;
  /** Refuse to create a new embedded database (tools that work on the broker's). */
  mustExist?: boolean;
}

/**
 * PGlite's own start-up parameters plus a 16 MB buffer pool. PostgreSQL's default (128 MB) is
 * sized for a server with a database to cache; the broker's embedded database (accounts,
 * sessions, terminals, saved connections, audit) is a few MB for a small team, its pages are
 * also in the kernel's page cache, and the pool is resident memory of the broker process: with
 * 128 MB an idle, signed-in broker held ~395 MB RSS, with 16 MB ~264 MB (docs/decisions.md).
 */
const PGLITE_START_PARAMS = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'];

const INIT_TIMEOUT_MS = 120_000;

/** The advisory lock key that serialises migrations between nodes ("teth" in ASCII). */
const MIGRATION_LOCK_KEY = 0x74_65_74_68;

/**
 * Runs PGlite's initdb for a new data directory in a child process (./pglite-init.mjs): in this
 * process its second WebAssembly instance left a first-run broker at ~800 MB RSS instead of the
 * ~260 MB of every later start.
 */
function initPgliteDirectory(dataDir: string): Promise<void> {
  const script = fileURLToPath(new URL('./pglite-init.mjs', import.meta.url));
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [script, dataDir],
      { timeout: INIT_TIMEOUT_MS, maxBuffer: 1 << 20 },
      (err, _stdout, stderr) => {
        if (!err) return resolve();
        const detail = err.killed
          ? `creating it took longer than ${INIT_TIMEOUT_MS / 1000} s`
          : `creating it failed: ${stderr.trim().split('\n').slice(-5).join('\n') || err.message}`;
        reject(new DatabaseOpenError(`the embedded database in ${dataDir}`, new Error(detail)));
      },
    );
  });
}

// Migrations sit beside the compiled code in dist/drizzle (copied at build) and at the package
// root in development; whichever exists relative to this module is used.
function migrationsFolder(): string {
  const candidates = ['../drizzle', '../../drizzle'].map((p) => fileURLToPath(new URL(p, import.meta.url)));
  return candidates.find((p) => existsSync(`${p}/meta/_journal.json`)) ?? candidates[1]!;
}

/**
 * Opens the configured database and applies pending migrations before returning. Both databases
 * are reached through postgres.js (and so the same Drizzle dialect, migrator and error shapes):
 * PostgreSQL over TCP, embedded PGlite over an in-process socket (./pglite-socket.ts).
 */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.url) {
    const what = describeUrl(options.url);
    // Migrations may legitimately take long (a large table rewritten): their own connection,
    // without the pool's timeouts.
    const migrator = postgres(options.url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
    try {
      // Several nodes starting at once on one database (a deployment's first start, a rolling
      // upgrade) would run the same migrations side by side and collide: one at a time, under a
      // session lock of the migration connection; the others then find nothing left to do.
      await migrator`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
      await migrate(drizzle(migrator, { schema, casing: 'snake_case' }), {
        migrationsFolder: options.migrationsFolder ?? migrationsFolder(),
      });
    } catch (err) {
      throw new DatabaseOpenError(what, err);
    } finally {
      await migrator.end({ timeout: 5 }).catch(() => {});
    }
    const client = postgres(options.url, {
      max: options.maxConnections ?? 10,
      onnotice: () => {},
      connect_timeout: 10,
      // Fail fast rather than queue forever when the server is gone; requests get a 503.
      idle_timeout: 60,
      connection: {
        statement_timeout: options.statementTimeoutMs ?? 0,
        lock_timeout: options.lockTimeoutMs ?? 0,
      },
    });
    return ready(client, 'postgres', what, () => client.end({ timeout: 5 }), { migrate: null });
  }
  let unlock = () => {};
  if (!options.dataDir.startsWith('memory://')) {
    if (options.mustExist && !existsSync(join(options.dataDir, 'PG_VERSION'))) {
      throw new DatabaseOpenError(
        `the embedded database in ${options.dataDir}`,
        new Error("there is none (is DATA_DIR the broker's?)"),
      );
    }
    mkdirSync(options.dataDir, { recursive: true });
    unlock = lockDirectory(options.dataDir);
  }
  let pglite: PGlite;
  try {
    if (!options.dataDir.startsWith('memory://') && !existsSync(join(options.dataDir, 'PG_VERSION'))) {
      await initPgliteDirectory(options.dataDir);
    }
    pglite = await PGlite.create(options.dataDir, { startParams: PGLITE_START_PARAMS }).catch((err) => {
      throw new DatabaseOpenError(`the embedded database in ${options.dataDir}`, err);
    });
  } catch (err) {
    unlock();
    throw err;
  }
  // `socket` is postgres.js's documented custom-socket option ("Custom socket" in its README),
  // absent from its type definitions.
  const overSocket: postgres.Options<Record<string, never>> & { socket: () => PgliteSocket } = {
    // One backend: one connection, kept for the life of the process.
    max: 1,
    max_lifetime: 0,
    idle_timeout: 0,
    socket: () => new PgliteSocket(pglite),
    // Named explicitly so that PG* variables meant for a server cannot change the startup message.
    username: 'postgres',
    database: 'postgres',
    onnotice: () => {},
  };
  const client = postgres(overSocket);
  return ready(
    preparingClient(client),
    'pglite',
    `the embedded database in ${options.dataDir}`,
    async () => {
      try {
        await client.end({ timeout: 5 });
      } finally {
        await pglite.close().finally(unlock);
      }
    },
    { migrate: options.migrationsFolder ?? migrationsFolder() },
  );
}

/**
 * PGlite serves one process: a second one opening the same directory (a second broker on the
 * same DATA_DIR, the command-line tool while the broker runs) would corrupt it. The directory is
 * claimed with a pid file beside it; a file whose process is gone (a crash, or our own pid after a
 * container restart) is taken over. Returns the release function.
 */
function lockDirectory(dataDir: string): () => void {
  const file = `${dataDir.replace(/\/+$/, '')}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number.parseInt(readFileSync(file, 'utf8'), 10);
      if (holder > 0 && holder !== process.pid && processAlive(holder)) {
        throw new DatabaseOpenError(
          `the embedded database in ${dataDir}`,
          new Error(
            `it is in use by process ${holder} (the embedded database serves one process; stop that one first)`,
          ),
        );
      }
      rmSync(file, { force: true });
    }
  }
  throw new DatabaseOpenError(`the embedded database in ${dataDir}`, new Error(`cannot claim ${file}`));
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Start-up failed: the message names the database (never its password) and the cause. */
export class DatabaseOpenError extends Error {
  constructor(what: string, cause: unknown) {
    // Drizzle wraps the driver's error ("Failed query: …"); the innermost one says what happened.
    let root = cause;
    while (root instanceof Error && root.cause instanceof Error) root = root.cause;
    const reason = root instanceof Error ? root.message : String(root);
    super(`cannot open ${what}: ${reason}`, { cause });
    this.name = 'DatabaseOpenError';
  }
}

/** `PostgreSQL at host:port/name` — a DATABASE_URL without its credentials, for messages. */
function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `PostgreSQL at ${u.host}${u.pathname} (DATABASE_URL)`;
  } catch {
    return 'PostgreSQL (DATABASE_URL)';
  }
}

async function ready(
  client: postgres.Sql,
  driver: Database['driver'],
  what: string,
  close: () => Promise<void>,
  options: { migrate: string | null },
): Promise<Database> {
  const db = drizzle(client, { schema, casing: 'snake_case' });
  try {
    if (options.migrate) await migrate(db, { migrationsFolder: options.migrate });
    // PostgreSQL: the first query also proves the pool can connect (with its parameters).
    else await db.execute(sql`select 1`);
  } catch (err) {
    await close().catch(() => {});
    throw new DatabaseOpenError(what, err);
  }
  return {
    db: db as unknown as Db,
    driver,
    ping: () => timed(() => db.execute(sql`select 1`)),
    close,
  };
}

/** The rows of a raw statement. Both databases answer through postgres.js: a list of row objects. */
export async function queryRows<T>(db: DbOrTx, statement: SQL): Promise<T[]> {
  return [...((await db.execute(statement)) as unknown as Iterable<T>)];
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}
