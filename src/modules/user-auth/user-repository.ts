/**
 * Accounts in Postgres. Every method takes an optional transaction; a unique violation on the
 * email becomes EMAIL_TAKEN. Emails arrive already normalised (trimmed, lower-cased).
 */
import { and, count, desc, eq, ilike, ne, sql } from 'drizzle-orm';
import { type Db, PG_UNIQUE_VIOLATION, pgErrorCode } from '../../db/client.js';
import { type UserRole, type UserRow, users } from '../../db/schema.js';
import { AppError } from '../../errors.js';

/** Serialises every change to the set of admins (bootstrap, demotion, disabling). */
const ADMIN_SET_LOCK_ID = 7_303_012;

export interface NewUser {
  id?: string;
  email: string;
  name: string | null;
  role: UserRole;
  passwordHash: string;
}

export interface UserChanges {
  role?: UserRole;
  disabled?: boolean;
  name?: string | null;
}

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (char) => `\\${char}`);
}

export function createUserRepository(db: Db) {
  const userByEmail = db.select().from(users).where(eq(users.email, sql.placeholder('email'))).limit(1).prepare('users_by_email');
  return {
    transaction<T>(work: (tx: Db) => Promise<T>): Promise<T> {
      return db.transaction((tx) => work(tx as unknown as Db));
    },

    /** Holds a transaction-scoped advisory lock on the admin set until the transaction ends. */
    async lockAdminSet(tx: Db): Promise<void> {
      await tx.execute(sql`select pg_advisory_xact_lock(${ADMIN_SET_LOCK_ID})`);
    },

    /** Every login runs it: prepared once, so Drizzle builds the query text once, not per call. */
    async findByEmail(email: string, tx: Db = db): Promise<UserRow | undefined> {
      const [row] = tx === db ? await userByEmail.execute({ email }) : await tx.select().from(users).where(eq(users.email, email)).limit(1);
      return row;
    },

    async findById(id: string, tx: Db = db): Promise<UserRow | undefined> {
      const [row] = await tx.select().from(users).where(eq(users.id, id)).limit(1);
      return row;
    },

    async insert(user: NewUser, tx: Db = db): Promise<UserRow> {
      try {
        const [row] = await tx.insert(users).values(user).returning();
        return row!;
      } catch (error) {
        if (pgErrorCode(error) === PG_UNIQUE_VIOLATION) throw new AppError('EMAIL_TAKEN', { cause: error });
        throw error;
      }
    },

    async adminExists(tx: Db = db): Promise<boolean> {
      const [row] = await tx.select({ id: users.id }).from(users).where(eq(users.role, 'ADMIN')).limit(1);
      return row !== undefined;
    },

    async countActiveAdmins(tx: Db = db, excludingId?: string): Promise<number> {
      const conditions = [eq(users.role, 'ADMIN'), eq(users.disabled, false)];
      if (excludingId) conditions.push(ne(users.id, excludingId));
      const [row] = await tx.select({ value: count() }).from(users).where(and(...conditions));
      return row?.value ?? 0;
    },

    /**
     * A login whose hash was made with older parameters: the new hash and the stamp together. The
     * usual login's stamp is batched (src/db/login-stamp-writer.ts).
     */
    async recordRehashedLogin(id: string, at: Date, upgradedHash: string, tx: Db = db): Promise<void> {
      await tx.update(users).set({ lastLoginAt: at, passwordHash: upgradedHash }).where(eq(users.id, id));
    },

    async update(id: string, changes: UserChanges, at: Date, tx: Db = db): Promise<UserRow | undefined> {
      const [row] = await tx
        .update(users)
        .set({ ...changes, updatedAt: at })
        .where(eq(users.id, id))
        .returning();
      return row;
    },

    async list(options: { offset: number; limit: number; emailContains?: string | undefined }): Promise<{ rows: UserRow[]; total: number }> {
      const where = options.emailContains ? ilike(users.email, `%${escapeLike(options.emailContains.toLowerCase())}%`) : undefined;
      const [rows, [totals]] = await Promise.all([
        db.select().from(users).where(where).orderBy(desc(users.createdAt), desc(users.id)).limit(options.limit).offset(options.offset),
        db.select({ value: count() }).from(users).where(where),
      ]);
      return { rows, total: totals?.value ?? 0 };
    },
  };
}

export type UserRepository = ReturnType<typeof createUserRepository>;
