import { asc, eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/index.js';
import { loginFailures, type UserRow, users } from '../db/schema/index.js';

export type Role = UserRow['role'];

export function createUsersRepo(db: DbOrTx) {
  // Built once: Drizzle assembles a query's text on every call otherwise, a quarter of a
  // millisecond of the event loop per sign-in (bench logins --profile).
  let forLogin: ReturnType<typeof prepareForLogin> | undefined;
  const prepareForLogin = () =>
    db
      .select({ user: users, lockedUntil: loginFailures.lockedUntil })
      .from(sql`(select 1) as one`)
      .leftJoin(users, sql`lower(${users.username}) = lower(${sql.placeholder('username')})`)
      .leftJoin(loginFailures, eq(loginFailures.nameKey, sql.placeholder('nameKey')))
      .limit(1)
      .prepare('users_for_login');
  return {
    async findByUsername(username: string): Promise<UserRow | undefined> {
      const [row] = await db
        .select()
        .from(users)
        .where(sql`lower(${users.username}) = lower(${username})`)
        .limit(1);
      return row;
    },

    /**
     * A sign-in's first read, one statement for any name: the account (if there is one) and the
     * name's lock (login_failures), so known and unknown names cost the same query.
     */
    async findForLogin(
      username: string,
      nameKey: string,
    ): Promise<{ user?: UserRow; lockedUntil: Date | null }> {
      forLogin ??= prepareForLogin();
      const [row] = await forLogin.execute({ username, nameKey });
      return { ...(row?.user ? { user: row.user } : {}), lockedUntil: row?.lockedUntil ?? null };
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
