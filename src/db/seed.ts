/**
 * Starter reference data: the permission catalog (including the auth-admin.* permissions the API
 * V3 admin routes check) and a few organizations, so an app can be registered right after start-up.
 * Idempotent: existing rows (by code) are left as they are.
 */
import type { Db } from './client.js';
import { organizations, permissions } from './schema.js';

/** module.resource.action; a two-part code (auth.introspect, named by the OAuth issue) acts on "tokens". */
const permission = (code: string, description: string) => {
  const parts = code.split('.');
  const [moduleCode, resourceCode, actionCode] = (parts.length === 2 ? [parts[0], 'tokens', parts[1]] : parts) as [string, string, string];
  return { permissionCode: code, moduleCode, resourceCode, actionCode, description };
};

export const STARTER_PERMISSIONS = [
  permission('auth-admin.apps.read', 'Read registered apps, the permission catalog and organizations'),
  permission('auth-admin.apps.write', 'Register apps, rotate secrets, change status, grants and organizations'),
  permission('auth-admin.audit.read', 'Read the audit trail of apps'),
  permission('auth-admin.support.read', 'Use the support endpoints: look users and apps up, explain decisions, end sessions'),
  permission('auth.introspect', 'Introspect tokens at POST /oauth2/introspect (RFC 7662): resource servers checking bearer tokens'),
  permission('orders.orders.read', 'Read orders'),
  permission('orders.orders.write', 'Create and change orders'),
  permission('inventory.items.read', 'Read inventory items'),
  permission('inventory.items.write', 'Change inventory items'),
  permission('billing.invoices.read', 'Read invoices'),
];

export const STARTER_ORGANIZATIONS = [
  { code: 'HQ', name: 'Headquarters' },
  { code: 'ACME', name: 'Acme Corporation' },
  { code: 'GLOBEX', name: 'Globex' },
];

export async function seedReferenceData(db: Db): Promise<{ permissions: number; organizations: number }> {
  const insertedPermissions = await db.insert(permissions).values(STARTER_PERMISSIONS).onConflictDoNothing().returning({ id: permissions.id });
  const insertedOrganizations = await db
    .insert(organizations)
    .values(STARTER_ORGANIZATIONS)
    .onConflictDoNothing()
    .returning({ id: organizations.id });
  return { permissions: insertedPermissions.length, organizations: insertedOrganizations.length };
}
