/** TypeBox schemas of the public and app-authenticated API V3 routes (snake_case, as the seed contract). */
import { Type, type Static } from 'typebox';
import { SafeString, StrictObject } from '../../lib/http-schemas.js';

export const V3DatetimeSchema = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}$', description: 'YYYY-MM-DD HH:MM:SS, UTC' });

/** Every field optional: a missing credential is V3_AUTH_MISSING_CREDENTIAL (401), not a validation error. */
export const TokenBodySchema = StrictObject({
  grant_type: Type.Optional(SafeString({ maxLength: 64 })),
  client_id: Type.Optional(SafeString({ maxLength: 128 })),
  client_secret: Type.Optional(SafeString({ maxLength: 256 })),
  organization_code: Type.Optional(SafeString({ maxLength: 64 })),
  organization_id: Type.Optional(SafeString({ maxLength: 64 })),
});
export type TokenBody = Static<typeof TokenBodySchema>;

export const TokenDataSchema = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer(),
  expires_at: V3DatetimeSchema,
  app_code: Type.String(),
  organization_id: Type.String(),
  organization_code: Type.String(),
});

export const RevokeBodySchema = StrictObject({ reason: Type.Optional(SafeString({ maxLength: 500 })) });

export const RevokeDataSchema = Type.Object({ revoked: Type.Boolean(), token_id: Type.String(), updated: V3DatetimeSchema });

export const OrganizationRefSchema = Type.Object({
  organization_id: Type.String(),
  organization_code: Type.String(),
  is_default: Type.Boolean(),
});

export const PermissionDetailSchema = Type.Object({
  permission_code: Type.String(),
  module_code: Type.String(),
  resource_code: Type.String(),
  action_code: Type.String(),
});

export const MeDataSchema = Type.Object({
  app_id: Type.String(),
  app_code: Type.String(),
  app_name: Type.String(),
  status: Type.String(),
  token_id: Type.String(),
  token_expires_at: V3DatetimeSchema,
  organization_id: Type.String({ description: 'The organization this token acts for.' }),
  organizations: Type.Array(OrganizationRefSchema),
  permissions: Type.Array(Type.String()),
});

export const MePermissionsDataSchema = Type.Object({ app_code: Type.String(), permissions: Type.Array(PermissionDetailSchema) });

export const MeOrganizationsDataSchema = Type.Object({ app_code: Type.String(), organizations: Type.Array(OrganizationRefSchema) });
