/**
 * Apps, their secrets and assignments in Postgres (the source of truth), and the snapshot of an
 * app that the token store serves from. Changes to one app run in a transaction that first locks
 * the app's row, so snapshots are written in commit order.
 */
import { and, asc, count, desc, eq, ilike, inArray, or, type SQL } from 'drizzle-orm';
import { loadAppSnapshot } from '../../db/app-snapshot.js';
import { type Db, PG_UNIQUE_VIOLATION, pgErrorCode } from '../../db/client.js';
import {
  appOrganizations,
  appPermissions,
  type AppRow,
  apps,
  appSecrets,
  type AppSecretRow,
  type AppStatus,
  organizations,
  permissions,
} from '../../db/schema.js';
import { AppError } from '../../errors.js';
import type { AppSnapshot } from '../../redis/app-token-store.js';

export interface NewApp {
  id: string;
  appCode: string;
  appName: string;
  description: string | null;
  clientId: string;
  defaultOrganizationId: string | null;
}

export interface AppChanges {
  appName?: string;
  description?: string | null;
  defaultOrganizationId?: string | null;
  status?: AppStatus;
}

export interface AppOrganizationView {
  id: string;
  code: string;
  name: string;
  isDefault: boolean;
}

export interface AppPermissionView {
  permissionCode: string;
  moduleCode: string;
  resourceCode: string;
  actionCode: string;
}

const contains = (value: string) => `%${value.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;

export function createAppRepository(db: Db) {
  async function organizationsOf(app: Pick<AppRow, 'id' | 'defaultOrganizationId'>, tx: Db = db): Promise<AppOrganizationView[]> {
    const rows = await tx
      .select({ id: organizations.id, code: organizations.code, name: organizations.name })
      .from(appOrganizations)
      .innerJoin(organizations, eq(appOrganizations.organizationId, organizations.id))
      .where(eq(appOrganizations.appId, app.id))
      .orderBy(asc(organizations.code));
    return rows.map((row) => ({ ...row, isDefault: row.id === app.defaultOrganizationId }));
  }

  async function permissionsOf(appId: string, tx: Db = db): Promise<AppPermissionView[]> {
    return tx
      .select({
        permissionCode: permissions.permissionCode,
        moduleCode: permissions.moduleCode,
        resourceCode: permissions.resourceCode,
        actionCode: permissions.actionCode,
      })
      .from(appPermissions)
      .innerJoin(permissions, eq(appPermissions.permissionId, permissions.id))
      .where(eq(appPermissions.appId, appId))
      .orderBy(asc(permissions.permissionCode));
  }

  async function secretsOf(appId: string, tx: Db = db): Promise<AppSecretRow[]> {
    return tx.select().from(appSecrets).where(eq(appSecrets.appId, appId)).orderBy(desc(appSecrets.version));
  }

  return {
    organizationsOf,
    permissionsOf,
    secretsOf,

    transaction<T>(work: (tx: Db) => Promise<T>): Promise<T> {
      return db.transaction((tx) => work(tx as unknown as Db));
    },

    /** Locks the app's row for the rest of the transaction; undefined when it does not exist. */
    async lock(id: string, tx: Db): Promise<AppRow | undefined> {
      const [row] = await tx.select().from(apps).where(eq(apps.id, id)).for('update');
      return row;
    },

    async findById(id: string, tx: Db = db): Promise<AppRow | undefined> {
      const [row] = await tx.select().from(apps).where(eq(apps.id, id));
      return row;
    },

    async insert(app: NewApp, tx: Db): Promise<AppRow> {
      try {
        const [row] = await tx.insert(apps).values(app).returning();
        return row!;
      } catch (error) {
        if (pgErrorCode(error) === PG_UNIQUE_VIOLATION) {
          throw new AppError('V3_AUTH_CONFLICT', { message: `app_code "${app.appCode}" is already registered`, cause: error });
        }
        throw error;
      }
    },

    async update(id: string, changes: AppChanges, at: Date, tx: Db): Promise<AppRow> {
      const [row] = await tx.update(apps).set({ ...changes, updatedAt: at }).where(eq(apps.id, id)).returning();
      return row!;
    },

    async list(options: { status?: AppStatus | undefined; q?: string | undefined; offset: number; limit: number }) {
      const conditions: (SQL | undefined)[] = [options.status ? eq(apps.status, options.status) : undefined];
      if (options.q) conditions.push(or(ilike(apps.appCode, contains(options.q)), ilike(apps.appName, contains(options.q))));
      const where = and(...conditions);
      const [rows, [total]] = await Promise.all([
        db.select().from(apps).where(where).orderBy(asc(apps.appCode)).limit(options.limit).offset(options.offset),
        db.select({ value: count() }).from(apps).where(where),
      ]);
      return { rows, total: total?.value ?? 0 };
    },

    async insertSecret(secret: { appId: string; version: number; secretHash: string }, tx: Db): Promise<AppSecretRow> {
      const [row] = await tx.insert(appSecrets).values(secret).returning();
      return row!;
    },

    /** Moves the ACTIVE secret(s) to GRACE until `graceUntil`, or straight to EXPIRED when there is no grace. */
    async retireActiveSecrets(appId: string, graceUntil: Date | null, at: Date, tx: Db): Promise<void> {
      await tx
        .update(appSecrets)
        .set(graceUntil ? { status: 'GRACE', graceUntil } : { status: 'EXPIRED', graceUntil: at })
        .where(and(eq(appSecrets.appId, appId), eq(appSecrets.status, 'ACTIVE')));
    },

    async revokeAllSecrets(appId: string, at: Date, tx: Db): Promise<void> {
      await tx
        .update(appSecrets)
        .set({ status: 'REVOKED', revokedAt: at })
        .where(and(eq(appSecrets.appId, appId), inArray(appSecrets.status, ['ACTIVE', 'GRACE'])));
    },

    async replacePermissions(appId: string, permissionIds: string[], tx: Db): Promise<void> {
      await tx.delete(appPermissions).where(eq(appPermissions.appId, appId));
      if (permissionIds.length > 0) await tx.insert(appPermissions).values(permissionIds.map((permissionId) => ({ appId, permissionId })));
    },

    async replaceOrganizations(appId: string, organizationIds: string[], tx: Db): Promise<void> {
      await tx.delete(appOrganizations).where(eq(appOrganizations.appId, appId));
      if (organizationIds.length > 0) {
        await tx.insert(appOrganizations).values(organizationIds.map((organizationId) => ({ appId, organizationId })));
      }
    },

    /** What the token store needs to issue and validate tokens for this app; null for an unknown id. */
    loadSnapshot: (id: string, tx: Db = db): Promise<AppSnapshot | null> => loadAppSnapshot(tx, id),
  };
}

export type AppRepository = ReturnType<typeof createAppRepository>;
