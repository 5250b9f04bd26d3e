/**
 * /api/v3/auth admin routes (6 to 18 of the seed contract). Allowed to an ADMIN user token, or to
 * an app token holding auth-admin.apps.read (reads), auth-admin.apps.write (changes) or
 * auth-admin.audit.read (audit logs).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ENDS_ACCESS } from '../../plugins/rate-limit.js';
import {
  AppDetailSchema,
  AppOrganizationsDataSchema,
  AppParamsSchema,
  AppPermissionsDataSchema,
  AppSummarySchema,
  AuditLogQuerySchema,
  AuditLogSchema,
  CreateAppBodySchema,
  CreatedAppSchema,
  ListAppsQuerySchema,
  OrganizationItemSchema,
  OrganizationQuerySchema,
  PatchAppBodySchema,
  PermissionCatalogItemSchema,
  PermissionCatalogQuerySchema,
  ReasonBodySchema,
  ReplaceOrganizationsBodySchema,
  ReplacePermissionsBodySchema,
  RotatedSecretSchema,
  RotateSecretBodySchema,
} from './admin-schemas.js';
import type { AppAdminService } from './admin-service.js';
import type { AppRepository } from './app-repository.js';
import type { AuditRepository } from './audit-repository.js';
import type { CatalogRepository } from './catalog-repository.js';
import { Envelope, ListEnvelope, success, successList, v3Errors } from './envelope.js';
import { actorOf } from './guard.js';
import {
  presentApp,
  presentAppOrganization,
  presentAuditLog,
  presentCatalogPermission,
  presentOrganization,
  presentPermission,
  presentSecret,
} from './presenters.js';
import { formatV3Datetime } from './token-service.js';

export const ADMIN_ROUTES = {
  apps: '/apps',
  app: '/apps/:app_id',
  rotateSecret: '/apps/:app_id/rotate-secret',
  suspend: '/apps/:app_id/suspend',
  reactivate: '/apps/:app_id/reactivate',
  revoke: '/apps/:app_id/revoke',
  permissions: '/apps/:app_id/permissions',
  organizations: '/apps/:app_id/organizations',
  auditLogs: '/apps/:app_id/audit-logs',
  permissionCatalog: '/permissions',
  organizationCatalog: '/organizations',
} as const;

export const ADMIN_PERMISSIONS = {
  read: 'auth-admin.apps.read',
  write: 'auth-admin.apps.write',
  audit: 'auth-admin.audit.read',
} as const;

const tags = ['api-v3-admin'];
const security = [{ bearerAuth: [] }];
const offsetOf = (query: { page: number; per_page: number }) => ({ offset: (query.page - 1) * query.per_page, limit: query.per_page });

export interface AppAdminRouteOptions {
  service: AppAdminService;
  apps: AppRepository;
  catalog: CatalogRepository;
  auditLogs: AuditRepository;
}

const appAdminRoutes: FastifyPluginAsyncTypebox<AppAdminRouteOptions> = async (app, { service, apps, catalog, auditLogs }) => {
  const admin = (permission: string) => ({ access: { principal: 'admin' as const, permission } });
  const read = admin(ADMIN_PERMISSIONS.read);
  const write = admin(ADMIN_PERMISSIONS.write);
  const audit = admin(ADMIN_PERMISSIONS.audit);
  const errors = v3Errors(400, 401, 403, 404, 409, 413, 415);

  app.post(ADMIN_ROUTES.apps, {
    config: write,
    schema: { tags, security, body: CreateAppBodySchema, response: { 201: Envelope(CreatedAppSchema), ...errors } },
  }, async (request, reply) => {
    const created = await service.create(request.body, actorOf(request));
    reply.code(201).header('cache-control', 'no-store');
    return success(request, { app_id: created.app.id, client_id: created.app.clientId, client_secret: created.clientSecret, secret_version: created.secretVersion });
  });

  app.get(ADMIN_ROUTES.apps, {
    config: read,
    schema: { tags, security, querystring: ListAppsQuerySchema, response: { 200: ListEnvelope(AppSummarySchema), ...errors } },
  }, async (request) => {
    const { rows, total } = await apps.list({ status: request.query.status, q: request.query.q, ...offsetOf(request.query) });
    return successList(request, rows.map(presentApp), { page: request.query.page, perPage: request.query.per_page, total });
  });

  app.get(ADMIN_ROUTES.app, {
    config: read,
    schema: { tags, security, params: AppParamsSchema, response: { 200: Envelope(AppDetailSchema), ...errors } },
  }, async (request) => {
    const detail = await service.get(request.params.app_id);
    return success(request, {
      ...presentApp(detail.app),
      organizations: detail.organizations.map(presentAppOrganization),
      permissions: detail.permissions.map(presentPermission),
      secrets: detail.secrets.map(presentSecret),
    });
  });

  app.patch(ADMIN_ROUTES.app, {
    config: write,
    schema: { tags, security, params: AppParamsSchema, body: PatchAppBodySchema, response: { 200: Envelope(AppSummarySchema), ...errors } },
  }, async (request) => success(request, presentApp(await service.update(request.params.app_id, request.body, actorOf(request)))));

  app.post(ADMIN_ROUTES.rotateSecret, {
    config: write,
    schema: { tags, security, params: AppParamsSchema, body: RotateSecretBodySchema, response: { 200: Envelope(RotatedSecretSchema), ...errors } },
  }, async (request, reply) => {
    const rotated = await service.rotateSecret(request.params.app_id, request.body ?? {}, actorOf(request));
    reply.header('cache-control', 'no-store');
    return success(request, {
      client_secret: rotated.clientSecret,
      secret_version: rotated.secretVersion,
      grace_until: rotated.graceUntil ? formatV3Datetime(rotated.graceUntil.getTime()) : null,
    });
  });

  const endsAccess = { ...write, rateLimit: ENDS_ACCESS };
  for (const [url, change, config] of [
    [ADMIN_ROUTES.suspend, service.suspend, endsAccess],
    [ADMIN_ROUTES.reactivate, service.reactivate, write],
    [ADMIN_ROUTES.revoke, service.revoke, endsAccess],
  ] as const) {
    app.post(url, {
      config,
      schema: { tags, security, params: AppParamsSchema, body: ReasonBodySchema, response: { 200: Envelope(AppSummarySchema), ...errors } },
    }, async (request) => success(request, presentApp(await change(request.params.app_id, actorOf(request), request.body?.reason))));
  }

  app.put(ADMIN_ROUTES.permissions, {
    config: write,
    schema: { tags, security, params: AppParamsSchema, body: ReplacePermissionsBodySchema, response: { 200: Envelope(AppPermissionsDataSchema), ...errors } },
  }, async (request) => {
    const granted = await service.replacePermissions(request.params.app_id, request.body.permissions, actorOf(request));
    return success(request, { app_id: request.params.app_id, permissions: granted.map(presentPermission) });
  });

  app.put(ADMIN_ROUTES.organizations, {
    config: write,
    schema: { tags, security, params: AppParamsSchema, body: ReplaceOrganizationsBodySchema, response: { 200: Envelope(AppOrganizationsDataSchema), ...errors } },
  }, async (request) => {
    const result = await service.replaceOrganizations(request.params.app_id, request.body, actorOf(request));
    return success(request, {
      app_id: result.app.id,
      default_organization_id: result.app.defaultOrganizationId,
      organizations: result.organizations.map(presentAppOrganization),
    });
  });

  app.get(ADMIN_ROUTES.auditLogs, {
    config: audit,
    schema: { tags, security, params: AppParamsSchema, querystring: AuditLogQuerySchema, response: { 200: ListEnvelope(AuditLogSchema), ...errors } },
  }, async (request) => {
    await service.get(request.params.app_id);
    const { event_type, date_from, date_to } = request.query;
    const { rows, total } = await auditLogs.list({
      appId: request.params.app_id,
      eventType: event_type,
      from: date_from ? new Date(date_from) : undefined,
      to: date_to ? new Date(date_to) : undefined,
      ...offsetOf(request.query),
    });
    return successList(request, rows.map(presentAuditLog), { page: request.query.page, perPage: request.query.per_page, total });
  });

  app.get(ADMIN_ROUTES.permissionCatalog, {
    config: read,
    schema: { tags, security, querystring: PermissionCatalogQuerySchema, response: { 200: ListEnvelope(PermissionCatalogItemSchema), ...errors } },
  }, async (request) => {
    const { rows, total } = await catalog.listPermissions({ moduleCode: request.query.module_code, q: request.query.q, ...offsetOf(request.query) });
    return successList(request, rows.map(presentCatalogPermission), { page: request.query.page, perPage: request.query.per_page, total });
  });

  app.get(ADMIN_ROUTES.organizationCatalog, {
    config: read,
    schema: { tags, security, querystring: OrganizationQuerySchema, response: { 200: ListEnvelope(OrganizationItemSchema), ...errors } },
  }, async (request) => {
    const { rows, total } = await catalog.listOrganizations({ q: request.query.q, ...offsetOf(request.query) });
    return successList(request, rows.map(presentOrganization), { page: request.query.page, perPage: request.query.per_page, total });
  });
};

export default appAdminRoutes;
