import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { type Database, openDatabase, queryRows } from './index.js';
import { PgliteSocket, preparingClient } from './pglite-socket.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function open(): Promise<Database> {
  const dir = mkdtempSync(join(tmpdir(), 'tether-pglite-'));
  const database = await openDatabase({ dataDir: dir });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => database.close());
  return database;
}

/** postgres.js over a PgliteSocket, as openDatabase connects it. */
function connect(pglite: PGlite): postgres.Sql {
  const options: postgres.Options<Record<string, never>> & { socket: () => PgliteSocket } = {
    max: 1,
    socket: () => new PgliteSocket(pglite),
    username: 'postgres',
    database: 'postgres',
    onnotice: () => {},
  };
  return postgres(options);
}

/** A connection to a bare in-memory PGlite. */
async function bare(): Promise<{ pglite: PGlite; client: postgres.Sql }> {
  const pglite = await PGlite.create('memory://');
  cleanups.push(() => pglite.close());
  return { pglite, client: connect(pglite) };
}

async function preparedStatements(database: Database): Promise<string[]> {
  const rows = await queryRows<{ statement: string }>(
    database.db,
    sql`select statement from pg_prepared_statements`,
  );
  return rows.map((r) => r.statement);
}

describe('PGlite through postgres.js', () => {
  it('runs Drizzle queries as prepared statements, parsed once', async () => {
    const database = await open();
    const probe = sql`select count(*)::int as n from users where lower(username) = lower(${'nobody'})`;
    expect(await queryRows(database.db, probe)).toEqual([{ n: 0 }]);
    expect(await queryRows(database.db, probe)).toEqual([{ n: 0 }]);
    const statements = await preparedStatements(database);
    expect(statements.filter((s) => s.includes('from users where lower(username)'))).toHaveLength(1);
  });

  it('stops preparing new statements past the limit', async () => {
    const { pglite, client } = await bare();
    const limited = preparingClient(client, 2);
    // Parameters, as Drizzle's queries have them (postgres.js sends parameterless ones as simple
    // queries, which are never prepared).
    for (const n of [1, 2, 3, 4]) await limited.unsafe(`select $1::int + ${n} as n`, [0]);
    await limited.unsafe('select $1::int + 1 as n', [0]); // already prepared: not counted twice
    const { rows } = await pglite.query<{ statement: string }>(
      `select statement from pg_prepared_statements where statement like 'select $1::int%' order by statement`,
    );
    expect(rows.map((r) => r.statement)).toEqual(['select $1::int + 1 as n', 'select $1::int + 2 as n']);
    await client.end();
  });

  it('keeps other queries out of a transaction: they wait for it, and survive its rollback', async () => {
    const database = await open();
    const { db } = database;
    await db.execute(sql`create table probe (v text)`);
    let inside!: () => void;
    const entered = new Promise<void>((resolve) => {
      inside = resolve;
    });
    const transaction = db
      .transaction(async (tx) => {
        await tx.execute(sql`insert into probe values ('rolled back')`);
        inside();
        await new Promise((resolve) => setTimeout(resolve, 50));
        throw new Error('roll back');
      })
      .catch((err: Error) => err.message);
    await entered;
    await db.execute(sql`insert into probe values ('outside')`);
    expect(await transaction).toBe('roll back');
    expect(await queryRows(db, sql`select v from probe`)).toEqual([{ v: 'outside' }]);
  });

  it('reports errors with their SQLSTATE and constraint, and keeps working after them', async () => {
    const { db } = await open();
    await db.execute(sql`create table probe (v text primary key)`);
    await db.execute(sql`insert into probe values ('a')`);
    const duplicate = await db.execute(sql`insert into probe values ('a')`).catch((e: unknown) => e);
    const cause = (duplicate as { cause?: { code?: string; constraint_name?: string } }).cause;
    expect(cause?.code).toBe('23505');
    expect(cause?.constraint_name).toBe('probe_pkey');
    const missing = await db.execute(sql`select * from no_such_table`).catch((e: unknown) => e);
    expect((missing as { cause?: { code?: string } }).cause?.code).toBe('42P01');
    expect(await queryRows(db, sql`select count(*)::int as n from probe`)).toEqual([{ n: 1 }]);
  });

  it('leaves a clean session behind when a connection ends: no open transaction, statements or settings', async () => {
    const { pglite, client } = await bare();
    await client.unsafe('select $1::int as n', [42], { prepare: true });
    expect((await pglite.query('select * from pg_prepared_statements')).rows).not.toEqual([]);
    await client.unsafe(`set application_name = 'left-behind'`);
    await client.unsafe('begin');
    await client.end();
    const { rows: statements } = await pglite.query('select * from pg_prepared_statements');
    expect(statements).toEqual([]);
    const { rows: settings } = await pglite.query<{ application_name: string }>('show application_name');
    expect(settings[0]?.application_name).not.toBe('left-behind');
    // Outside a transaction again: a new connection's first statement is not inside the old one.
    const next = connect(pglite);
    const [state] = await next.unsafe<Array<{ now: string; statement: string }>>(
      'select now()::text as now, statement_timestamp()::text as statement',
    );
    expect(state?.now).toBe(state?.statement);
    await next.end();
  });

  it('keeps its data across a close and reopen of the directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-pglite-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const first = await openDatabase({ dataDir: dir });
    await first.db.execute(sql`create table probe (v text)`);
    await first.db.execute(sql`insert into probe values ('kept')`);
    await first.close();
    const second = await openDatabase({ dataDir: dir });
    cleanups.push(() => second.close());
    expect(await queryRows(second.db, sql`select v from probe`)).toEqual([{ v: 'kept' }]);
  });

  it("runs embedded PGlite with a small buffer pool, not PostgreSQL's 128 MB default", async () => {
    const database = await open();
    const [row] = await queryRows<{ shared_buffers: string }>(database.db, sql`show shared_buffers`);
    expect(row?.shared_buffers).toBe('16MB');
    // The rest of PGlite's start-up parameters (single-user mode, no parallel workers, …) stay.
    const [workers] = await queryRows<{ max_worker_processes: string }>(
      database.db,
      sql`show max_worker_processes`,
    );
    expect(workers?.max_worker_processes).toBe('0');
  });
});
