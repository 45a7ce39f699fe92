import { Duplex } from 'node:stream';
import type { PGlite } from '@electric-sql/pglite';
import type postgres from 'postgres';

const TERMINATE = 0x58; // 'X'

/** A simple-protocol Query message. */
function query(text: string): Buffer {
  const body = Buffer.from(`${text}\0`, 'utf8');
  const head = Buffer.alloc(5);
  head[0] = 0x51; // 'Q'
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
}

/**
 * Ends an open transaction (only a warning when there is none), then drops the session's
 * prepared statements, settings and temporary state. Two messages, because DISCARD ALL may not
 * share a query string with anything else.
 */
const RESET_SESSION = Buffer.concat([query('ROLLBACK'), query('DISCARD ALL')]);

/**
 * A socket for postgres.js that leads into an embedded PGlite instead of a server: every write is
 * handed to PGlite's wire-protocol entry point (`execProtocolRaw`, which takes any run of
 * frontend messages, the startup message included) and its answer is read back. With it the
 * broker speaks to PGlite through the same driver, Drizzle dialect and migrator as to PostgreSQL,
 * and gets postgres.js's named prepared statements: each query is parsed and planned once per
 * connection instead of on every call, which halves the database's cost of a login (PGlite's own
 * `query()` re-parses every statement and takes six calls into WebAssembly for it).
 *
 * PGlite runs one backend, so the client must hold exactly one connection (`max: 1`); writes
 * reach it one at a time, in order, because a Duplex delivers them so. A Terminate message ends
 * the connection on the client's side only: the backend lives on, so its session is reset
 * (transaction rolled back, prepared statements and settings discarded) for the next connection.
 */
export class PgliteSocket extends Duplex {
  /** postgres.js sends Terminate only to a socket that says it is open. */
  readyState: 'open' | 'closed' = 'open';

  constructor(private readonly pglite: PGlite) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    if (chunk.length === 5 && chunk[0] === TERMINATE) {
      this.hangUp().then(() => {
        this.push(null);
        done();
      }, done);
      return;
    }
    this.pglite.execProtocolRaw(chunk).then((reply) => {
      // execProtocolRaw returns a fresh copy of PGlite's receive buffer; wrap it without copying.
      if (reply.byteLength > 0) this.push(Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength));
      done();
    }, done);
  }

  override _read(): void {
    // Replies are pushed as each write is answered; there is nothing to pull.
  }

  /** Also reached without a Terminate, when postgres.js gives up on the connection (timeouts). */
  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    if (this.readyState === 'closed') {
      done(error);
      return;
    }
    this.hangUp().then(
      () => done(error),
      (resetError: Error) => done(error ?? resetError),
    );
  }

  /**
   * Leaves the backend as a new connection expects to find it. Sent straight into the protocol,
   * like the connection's own messages: PGlite runs them before this call returns, so nothing
   * queued behind the hang-up can see the old session.
   */
  private async hangUp(): Promise<void> {
    this.readyState = 'closed';
    if (!this.pglite.closed) await this.pglite.execProtocolRaw(RESET_SESSION);
  }
}

/** Distinct statements kept prepared; beyond this, new ones run unprepared (memory stays bounded). */
export const PREPARED_STATEMENT_LIMIT = 500;

/**
 * The client Drizzle should use with PGlite: every query becomes a named prepared statement,
 * parsed and planned once. Drizzle asks postgres.js not to prepare the queries it builds (a
 * transaction-mode pooler in front of a server would lose them between transactions); PGlite has
 * no pooler, and parsing runs on the broker's own thread. Queries inside a transaction use the
 * transaction's handle and stay unprepared. Statement text varies only with the length of
 * `IN (…)` lists, but the number of distinct statements is capped all the same.
 */
export function preparingClient<T extends postgres.Sql>(client: T, limit = PREPARED_STATEMENT_LIMIT): T {
  const seen = new Set<string>();
  const unsafe: postgres.Sql['unsafe'] = (query, parameters, options) => {
    if (!seen.has(query) && seen.size < limit) seen.add(query);
    return client.unsafe(query, parameters, { ...options, prepare: seen.has(query) });
  };
  return new Proxy(client, {
    get: (target, key, receiver) => (key === 'unsafe' ? unsafe : Reflect.get(target, key, receiver)),
  });
}
