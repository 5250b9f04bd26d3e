/**
 * Drizzle tables: the source drizzle-kit generates migrations from (drizzle/, never hand-edited).
 * Postgres holds what must survive: accounts. Anything short-lived (sessions, refresh tokens,
 * revocations) lives in the token store, so the hot paths never touch this database.
 */
import { sql } from 'drizzle-orm';
import { boolean, index, pgEnum, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const USER_ROLES = ['ADMIN', 'PARTNER', 'CONSUMER'] as const;
export type UserRole = (typeof USER_ROLES)[number];

export const userRole = pgEnum('user_role', USER_ROLES);

const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
};

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** Always stored trimmed and lower-cased; the unique index is the duplicate check. */
    email: text('email').notNull().unique('users_email_unique'),
    name: text('name'),
    role: userRole('role').notNull().default('CONSUMER'),
    passwordHash: text('password_hash').notNull(),
    disabled: boolean('disabled').notNull().default(false),
    lastLoginAt: timestamp('last_login_at', { withTimezone: true, mode: 'date' }),
    passwordChangedAt: timestamp('password_changed_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    ...timestamps,
  },
  (table) => [index('users_role_idx').on(table.role).where(sql`${table.role} = 'ADMIN'`)],
);

export type UserRow = typeof users.$inferSelect;
