/** Rows -> the snake_case shapes of the V3 contract. */
import type { AppRow, AppSecretRow, AuditLogRow, OrganizationRow, PermissionRow } from '../../db/schema.js';
import type { AppOrganizationView, AppPermissionView } from './app-repository.js';
import { formatV3Datetime } from './token-service.js';

const datetime = (date: Date | null) => (date ? formatV3Datetime(date.getTime()) : null);

export const presentApp = (app: AppRow) => ({
  app_id: app.id,
  app_code: app.appCode,
  app_name: app.appName,
  description: app.description,
  status: app.status,
  client_id: app.clientId,
  default_organization_id: app.defaultOrganizationId,
  created_at: formatV3Datetime(app.createdAt.getTime()),
  updated_at: formatV3Datetime(app.updatedAt.getTime()),
});

export const presentAppOrganization = (org: AppOrganizationView) => ({
  organization_id: org.id,
  organization_code: org.code,
  organization_name: org.name,
  is_default: org.isDefault,
});

export const presentPermission = (permission: AppPermissionView) => ({
  permission_code: permission.permissionCode,
  module_code: permission.moduleCode,
  resource_code: permission.resourceCode,
  action_code: permission.actionCode,
});

export const presentSecret = (secret: AppSecretRow) => ({
  version: secret.version,
  status: secret.status,
  created_at: formatV3Datetime(secret.createdAt.getTime()),
  grace_until: datetime(secret.graceUntil),
  revoked_at: datetime(secret.revokedAt),
});

export const presentAuditLog = (row: AuditLogRow) => ({
  id: row.id,
  app_id: row.appId,
  event_type: row.eventType,
  actor: row.actor,
  ip: row.ip,
  request_id: row.requestId,
  details: row.details,
  created_at: formatV3Datetime(row.createdAt.getTime()),
});

export const presentCatalogPermission = (row: PermissionRow) => ({
  permission_id: row.id,
  permission_code: row.permissionCode,
  module_code: row.moduleCode,
  resource_code: row.resourceCode,
  action_code: row.actionCode,
  description: row.description,
});

export const presentOrganization = (row: OrganizationRow) => ({
  organization_id: row.id,
  organization_code: row.code,
  organization_name: row.name,
  isactive: row.isActive ? 1 : 0,
});
