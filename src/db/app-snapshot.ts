/**
 * Builds an app's snapshot (what issuing and validating its tokens need) from Postgres, the source
 * of truth. Used by admin changes (rewrite after every change) and by the token paths when the
 * store has lost a snapshot.
 */
import { asc, desc, eq } from 'drizzle-orm';
import type { AppSnapshot } from '../redis/app-token-store.js';
import type { Db } from './client.js';
import { appOrganizations, appPermissions, apps, appSecrets, organizations, permissions } from './schema.js';

/** Retired secrets kept beyond the usable ones: enough to name an old secret as expired rather than unknown. */
const RETIRED_SECRET_LIMIT = 3;

export async function loadAppSnapshot(db: Db, appId: string): Promise<AppSnapshot | null> {
  const [app] = await db.select().from(apps).where(eq(apps.id, appId));
  if (!app) return null;
  const [orgs, perms, secrets] = await Promise.all([
    db
      .select({ id: organizations.id, code: organizations.code })
      .from(appOrganizations)
      .innerJoin(organizations, eq(appOrganizations.organizationId, organizations.id))
      .where(eq(appOrganizations.appId, appId))
      .orderBy(asc(organizations.code)),
    db
      .select({ code: permissions.permissionCode })
      .from(appPermissions)
      .innerJoin(permissions, eq(appPermissions.permissionId, permissions.id))
      .where(eq(appPermissions.appId, appId))
      .orderBy(asc(permissions.permissionCode)),
    db.select().from(appSecrets).where(eq(appSecrets.appId, appId)).orderBy(desc(appSecrets.version)),
  ]);
  const usable = secrets.filter((secret) => secret.status === 'ACTIVE' || secret.status === 'GRACE');
  const retired = secrets.filter((secret) => secret.status === 'EXPIRED' || secret.status === 'REVOKED').slice(0, RETIRED_SECRET_LIMIT);
  return {
    id: app.id,
    code: app.appCode,
    name: app.appName,
    status: app.status,
    clientId: app.clientId,
    // Every usable secret (however many rotations are in grace), then a few retired ones.
    secrets: [...usable, ...retired].map((secret) => ({
      version: secret.version,
      digest: secret.secretHash,
      status: secret.status,
      graceUntil: secret.graceUntil?.getTime() ?? null,
    })),
    permissions: perms.map((permission) => permission.code),
    organizations: orgs.map((org) => ({ id: org.id, code: org.code, isDefault: org.id === app.defaultOrganizationId })),
  };
}
