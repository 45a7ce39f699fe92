import { and, asc, eq } from 'drizzle-orm';
import type { DbOrTx } from '../db/index.js';
import { type KnownHostRow, knownHosts } from '../db/schema/index.js';

export interface HostKey {
  keyType: string;
  fingerprint: string;
}

/** Per-user trusted host keys, keyed like OpenSSH's known_hosts by host (as typed) and port. */
export function createKnownHostsRepo(db: DbOrTx) {
  return {
    async lookup(userId: string, host: string, port: number): Promise<HostKey | null> {
      const [row] = await db
        .select({ keyType: knownHosts.keyType, fingerprint: knownHosts.fingerprint })
        .from(knownHosts)
        .where(
          and(
            eq(knownHosts.userId, userId),
            eq(knownHosts.host, host.toLowerCase()),
            eq(knownHosts.port, port),
          ),
        )
        .limit(1);
      return row ?? null;
    },

    /** Stores (or, after an explicit forget + accept, replaces) the trusted key for host:port. */
    async remember(userId: string, host: string, port: number, key: HostKey): Promise<void> {
      await db
        .insert(knownHosts)
        .values({
          userId,
          host: host.toLowerCase(),
          port,
          keyType: key.keyType,
          fingerprint: key.fingerprint,
        })
        .onConflictDoUpdate({
          target: [knownHosts.userId, knownHosts.host, knownHosts.port],
          set: { keyType: key.keyType, fingerprint: key.fingerprint, createdAt: new Date() },
        });
    },

    list(userId: string): Promise<KnownHostRow[]> {
      return db
        .select()
        .from(knownHosts)
        .where(eq(knownHosts.userId, userId))
        .orderBy(asc(knownHosts.host), asc(knownHosts.port));
    },

    async forget(userId: string, id: string): Promise<KnownHostRow | undefined> {
      const [row] = await db
        .delete(knownHosts)
        .where(and(eq(knownHosts.userId, userId), eq(knownHosts.id, id)))
        .returning();
      return row;
    },
  };
}

export type KnownHostsRepo = ReturnType<typeof createKnownHostsRepo>;
