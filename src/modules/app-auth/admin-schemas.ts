/** TypeBox schemas of the API V3 admin routes (6 to 18 of the seed contract). */
import { Type, type Static } from 'typebox';
import { APP_STATUSES, SECRET_STATUSES } from '../../db/schema.js';
import { SafeString, StrictObject, UuidSchema } from '../../lib/http-schemas.js';
import { PermissionDetailSchema, V3DatetimeSchema } from './schemas.js';

const Page = Type.Integer({ minimum: 1, maximum: 100000, default: 1 });
const PerPage = (fallback: number) => Type.Integer({ minimum: 1, maximum: 200, default: fallback });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

export const AppCodeSchema = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', description: 'Unique code: letters, digits, . _ -' });
/** An organization id or code, as the seed allows either. */
const OrganizationRef = SafeString({ maxLength: 64 });
const PermissionCode = SafeString({ maxLength: 128 });

export const AppParamsSchema = StrictObject({ app_id: UuidSchema });

export const CreateAppBodySchema = StrictObject({
  app_code: AppCodeSchema,
  app_name: SafeString({ maxLength: 200 }),
  description: Type.Optional(Nullable(SafeString({ minLength: 0, maxLength: 2000 }))),
  default_organization_id: Type.Optional(Nullable(OrganizationRef)),
  organizations: Type.Array(OrganizationRef, { maxItems: 200 }),
  permissions: Type.Array(PermissionCode, { maxItems: 500 }),
});
export type CreateAppBody = Static<typeof CreateAppBodySchema>;

export const CreatedAppSchema = Type.Object({
  app_id: Type.String(),
  client_id: Type.String(),
  client_secret: Type.String({ description: 'Shown once; store it now.' }),
  secret_version: Type.Integer(),
});

export const AppSummarySchema = Type.Object({
  app_id: Type.String(),
  app_code: Type.String(),
  app_name: Type.String(),
  description: Nullable(Type.String()),
  status: Type.Enum([...APP_STATUSES]),
  client_id: Type.String(),
  default_organization_id: Nullable(Type.String()),
  created_at: V3DatetimeSchema,
  updated_at: V3DatetimeSchema,
});

export const AppOrganizationSchema = Type.Object({
  organization_id: Type.String(),
  organization_code: Type.String(),
  organization_name: Type.String(),
  is_default: Type.Boolean(),
});

export const SecretSummarySchema = Type.Object({
  version: Type.Integer(),
  status: Type.Enum([...SECRET_STATUSES]),
  created_at: V3DatetimeSchema,
  grace_until: Nullable(V3DatetimeSchema),
  revoked_at: Nullable(V3DatetimeSchema),
});

export const AppDetailSchema = Type.Intersect([
  AppSummarySchema,
  Type.Object({
    organizations: Type.Array(AppOrganizationSchema),
    permissions: Type.Array(PermissionDetailSchema),
    secrets: Type.Array(SecretSummarySchema),
  }),
]);

export const ListAppsQuerySchema = StrictObject({
  status: Type.Optional(Type.Enum([...APP_STATUSES])),
  q: Type.Optional(SafeString({ maxLength: 100 })),
  page: Page,
  per_page: PerPage(50),
});
export type ListAppsQuery = Static<typeof ListAppsQuerySchema>;

export const PatchAppBodySchema = StrictObject(
  {
    app_name: Type.Optional(SafeString({ maxLength: 200 })),
    description: Type.Optional(Nullable(SafeString({ minLength: 0, maxLength: 2000 }))),
    default_organization_id: Type.Optional(Nullable(OrganizationRef)),
  },
  { minProperties: 1 },
);
export type PatchAppBody = Static<typeof PatchAppBodySchema>;

export const RotateSecretBodySchema = StrictObject({
  grace_hours: Type.Optional(Type.Integer({ minimum: 0, maximum: 8760 })),
  revoke_existing_tokens: Type.Optional(Type.Boolean()),
  reason: Type.Optional(SafeString({ maxLength: 500 })),
});
export type RotateSecretBody = Static<typeof RotateSecretBodySchema>;

export const RotatedSecretSchema = Type.Object({
  client_secret: Type.String({ description: 'Shown once; store it now.' }),
  secret_version: Type.Integer(),
  grace_until: Nullable(V3DatetimeSchema),
});

export const ReasonBodySchema = Type.Optional(StrictObject({ reason: Type.Optional(SafeString({ maxLength: 500 })) }));
export type ReasonBody = Static<typeof ReasonBodySchema>;

export const ReplacePermissionsBodySchema = StrictObject({ permissions: Type.Array(PermissionCode, { maxItems: 500 }) });

export const ReplaceOrganizationsBodySchema = StrictObject({
  organizations: Type.Array(OrganizationRef, { maxItems: 200 }),
  default_organization_id: Type.Optional(Nullable(OrganizationRef)),
});
export type ReplaceOrganizationsBody = Static<typeof ReplaceOrganizationsBodySchema>;

export const AppPermissionsDataSchema = Type.Object({ app_id: Type.String(), permissions: Type.Array(PermissionDetailSchema) });

export const AppOrganizationsDataSchema = Type.Object({
  app_id: Type.String(),
  default_organization_id: Nullable(Type.String()),
  organizations: Type.Array(AppOrganizationSchema),
});

export const AuditLogQuerySchema = StrictObject({
  event_type: Type.Optional(SafeString({ maxLength: 100 })),
  date_from: Type.Optional(Type.String({ format: 'date-time' })),
  date_to: Type.Optional(Type.String({ format: 'date-time' })),
  page: Page,
  per_page: PerPage(50),
});
export type AuditLogQuery = Static<typeof AuditLogQuerySchema>;

export const AuditLogSchema = Type.Object({
  id: Type.String(),
  app_id: Nullable(Type.String()),
  event_type: Type.String(),
  actor: Type.String(),
  ip: Nullable(Type.String()),
  request_id: Nullable(Type.String()),
  details: Type.Record(Type.String(), Type.Unknown()),
  created_at: V3DatetimeSchema,
});

export const PermissionCatalogQuerySchema = StrictObject({
  module_code: Type.Optional(SafeString({ maxLength: 100 })),
  q: Type.Optional(SafeString({ maxLength: 100 })),
  page: Page,
  per_page: PerPage(200),
});
export type PermissionCatalogQuery = Static<typeof PermissionCatalogQuerySchema>;

export const PermissionCatalogItemSchema = Type.Object({
  permission_id: Type.String(),
  permission_code: Type.String(),
  module_code: Type.String(),
  resource_code: Type.String(),
  action_code: Type.String(),
  description: Type.String(),
});

export const OrganizationQuerySchema = StrictObject({ q: Type.Optional(SafeString({ maxLength: 100 })), page: Page, per_page: PerPage(50) });
export type OrganizationQuery = Static<typeof OrganizationQuerySchema>;

export const OrganizationItemSchema = Type.Object({
  organization_id: Type.String(),
  organization_code: Type.String(),
  organization_name: Type.String(),
  isactive: Type.Integer({ description: '1 when active (the seed contract allows a string or int).' }),
});
