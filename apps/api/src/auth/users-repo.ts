import { asc, eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/index.js';
import { type UserRow, users } from '../db/schema/index.js';

export type Role = UserRow['role'];

export function createUsersRepo(db: DbOrTx) {
  return {
    async findByUsername(username: string): Promise<UserRow | undefined> {
      const [row] = await db
        .select()
        .from(users)
        .where(sql`lower(${users.username}) = lower(${username})`)
        .limit(1);
      return row;
    },

    async findById(id: string): Promise<UserRow | undefined> {
      const [row] = await db.select().from(users).where(eq(users.id, id)).limit(1);
      return row;
    },

    /** Row lock that serialises logins (and password changes) of one user. */
    async lockById(id: string): Promise<UserRow | undefined> {
      const [row] = await db.select().from(users).where(eq(users.id, id)).for('update').limit(1);
      return row;
    },

    async create(input: { username: string; passwordHash: string; role: Role }): Promise<UserRow> {
      const [row] = await db
        .insert(users)
        .values({ ...input, passwordChangedAt: new Date() })
        .returning();
      return row!;
    },

    list(): Promise<UserRow[]> {
      return db
        .select()
        .from(users)
        .orderBy(asc(sql`lower(${users.username})`));
    },

    async count(): Promise<number> {
      const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(users);
      return row?.n ?? 0;
    },

    async update(
      id: string,
      patch: Partial<Omit<UserRow, 'id' | 'createdAt'>>,
    ): Promise<UserRow | undefined> {
      const [row] = await db.update(users).set(patch).where(eq(users.id, id)).returning();
      return row;
    },
  };
}

export type UsersRepo = ReturnType<typeof createUsersRepo>;
