/**
 * Drizzle tables: the source drizzle-kit generates migrations from (drizzle/, never hand-edited).
 * Postgres holds what must survive: accounts. Anything short-lived (sessions, refresh tokens,
 * revocations) lives in the token store, so the hot paths never touch this database.
 */
import { sql } from 'drizzle-orm';
import { boolean, index, integer, jsonb, pgEnum, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

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

// ---------------------------------------------------------------------------------------------
// API V3: apps (machine clients), their secrets, organizations, permissions and audit trail.
// Postgres is the source of truth; a snapshot of each app lives in the token store so that
// token issuance and validation never query this database.

export const APP_STATUSES = ['ACTIVE', 'SUSPENDED', 'REVOKED'] as const;
export type AppStatus = (typeof APP_STATUSES)[number];
export const appStatus = pgEnum('app_status', APP_STATUSES);

export const SECRET_STATUSES = ['ACTIVE', 'GRACE', 'EXPIRED', 'REVOKED'] as const;
export type SecretStatus = (typeof SECRET_STATUSES)[number];
export const secretStatus = pgEnum('app_secret_status', SECRET_STATUSES);

export const organizations = pgTable('organizations', {
  id: uuid('id').primaryKey().defaultRandom(),
  code: text('code').notNull().unique('organizations_code_unique'),
  name: text('name').notNull(),
  isActive: boolean('is_active').notNull().default(true),
  ...timestamps,
});

export const permissions = pgTable(
  'permissions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    permissionCode: text('permission_code').notNull().unique('permissions_code_unique'),
    moduleCode: text('module_code').notNull(),
    resourceCode: text('resource_code').notNull(),
    actionCode: text('action_code').notNull(),
    description: text('description').notNull().default(''),
    ...timestamps,
  },
  (table) => [index('permissions_module_idx').on(table.moduleCode)],
);

export const apps = pgTable(
  'apps',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    appCode: text('app_code').notNull().unique('apps_code_unique'),
    appName: text('app_name').notNull(),
    description: text('description'),
    status: appStatus('status').notNull().default('ACTIVE'),
    clientId: text('client_id').notNull().unique('apps_client_id_unique'),
    defaultOrganizationId: uuid('default_organization_id').references(() => organizations.id),
    ...timestamps,
  },
  (table) => [index('apps_status_idx').on(table.status)],
);

export const appSecrets = pgTable(
  'app_secrets',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    appId: uuid('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    /** HMAC-SHA-256 of the secret with APP_SECRET_PEPPER, base64url. */
    secretHash: text('secret_hash').notNull(),
    status: secretStatus('status').notNull().default('ACTIVE'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    graceUntil: timestamp('grace_until', { withTimezone: true, mode: 'date' }),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
  },
  (table) => [uniqueIndex('app_secrets_app_version_unique').on(table.appId, table.version)],
);

export const appOrganizations = pgTable(
  'app_organizations',
  {
    appId: uuid('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.appId, table.organizationId] })],
);

export const appPermissions = pgTable(
  'app_permissions',
  {
    appId: uuid('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    permissionId: uuid('permission_id')
      .notNull()
      .references(() => permissions.id),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.appId, table.permissionId] })],
);

export const routePermissions = pgTable(
  'route_permissions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    method: text('method').notNull(),
    /** The Fastify route pattern, e.g. /api/v3/auth/me/permissions. */
    routePattern: text('route_pattern').notNull(),
    permissionCode: text('permission_code')
      .notNull()
      .references(() => permissions.permissionCode),
    isActive: boolean('is_active').notNull().default(true),
    ...timestamps,
  },
  (table) => [uniqueIndex('route_permissions_route_unique').on(table.method, table.routePattern, table.permissionCode)],
);

export const auditLogs = pgTable(
  'audit_logs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    appId: uuid('app_id'),
    eventType: text('event_type').notNull(),
    /** Who acted: "user:<id>", "app:<id>", "cli" or "system". */
    actor: text('actor').notNull(),
    ip: text('ip'),
    requestId: text('request_id'),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [
    index('audit_logs_app_created_idx').on(table.appId, table.createdAt),
    index('audit_logs_app_event_created_idx').on(table.appId, table.eventType, table.createdAt),
  ],
);

export type OrganizationRow = typeof organizations.$inferSelect;
export type PermissionRow = typeof permissions.$inferSelect;
export type AppRow = typeof apps.$inferSelect;
export type AppSecretRow = typeof appSecrets.$inferSelect;
export type RoutePermissionRow = typeof routePermissions.$inferSelect;
export type AuditLogRow = typeof auditLogs.$inferSelect;

// ---------------------------------------------------------------------------------------------
// Auth events: every denial and every session-changing success, for support ("why is this user
// blocked?"). Written off the request path in batches; floods are folded into counted rows.

export const authEvents = pgTable(
  'auth_events',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    occurredAt: timestamp('occurred_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    /** e.g. "denied", "login.succeeded", "session.revoked" (see src/db/auth-event-writer.ts). */
    kind: text('kind').notNull(),
    /** The error code of a denial, or null for successes. */
    reason: text('reason'),
    status: integer('status'),
    userId: uuid('user_id'),
    appId: uuid('app_id'),
    /** The email a failed login tried (normalised), when no user id is known. */
    email: text('email'),
    sessionId: uuid('session_id'),
    tokenId: text('token_id'),
    method: text('method'),
    route: text('route'),
    ip: text('ip'),
    userAgent: text('user_agent'),
    requestId: text('request_id'),
    /** Who acted, for admin actions ("user:<id>", "app:<id>", "system"). */
    actor: text('actor'),
    /** How many events this row stands for (more than 1 for a folded flood). */
    count: integer('count').notNull().default(1),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
  },
  // Partial: a row names a user, an app or an email, rarely two, so it goes only into the indexes
  // of what it names (an app token issuance's row into the app and time indexes, 2 of these 4).
  // Lookups by `col = value` imply `col is not null`, so the planner uses them as before.
  (table) => [
    index('auth_events_user_idx').on(table.userId, table.occurredAt).where(sql`${table.userId} is not null`),
    index('auth_events_app_idx').on(table.appId, table.occurredAt).where(sql`${table.appId} is not null`),
    index('auth_events_email_idx').on(table.email, table.occurredAt).where(sql`${table.email} is not null`),
    index('auth_events_occurred_idx').on(table.occurredAt),
  ],
);

export type AuthEventRow = typeof authEvents.$inferSelect;

// ---------------------------------------------------------------------------------------------
// Signing keys of user access tokens (JWT_ALGORITHM RS256, ES256 or EdDSA). A key signs from
// activates_at until the next key activates, and is published in the JWKS from creation until
// every token it signed has expired (src/lib/signing-key-schedule.ts). Every instance derives the
// same schedule from these rows, so instances sharing the database agree on the active key.

export const signingKeys = pgTable(
  'signing_keys',
  {
    kid: text('kid').primaryKey(),
    algorithm: text('algorithm').notNull(),
    /** The public key as a JWK, published as is. */
    publicJwk: jsonb('public_jwk').$type<Record<string, unknown>>().notNull(),
    /** PKCS#8 private key sealed with SIGNING_KEY_ENCRYPTION_KEY (src/lib/signing-key-crypto.ts). */
    privateKeySealed: text('private_key_sealed').notNull(),
    activatesAt: timestamp('activates_at', { withTimezone: true, mode: 'date' }).notNull(),
    /** Who rotated: "user:<id>", "cli" or "system". */
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [index('signing_keys_activates_idx').on(table.activatesAt)],
);

export type SigningKeyRow = typeof signingKeys.$inferSelect;
