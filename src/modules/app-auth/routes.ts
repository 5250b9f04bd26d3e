/** /api/v3/auth: token issuance and revocation, and what an app token can see of itself. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Envelope, success, v3Errors } from './envelope.js';
import { actorOf, appOf } from './guard.js';
import {
  MeDataSchema,
  MeOrganizationsDataSchema,
  MePermissionsDataSchema,
  RevokeBodySchema,
  RevokeDataSchema,
  TokenBodySchema,
  TokenDataSchema,
} from './schemas.js';
import type { RateLimitRule } from '../../config.js';
import { ENDS_ACCESS } from '../../plugins/rate-limit.js';
import type { AppRepository } from './app-repository.js';
import { presentPermission } from './presenters.js';
import { formatV3Datetime, type AppTokenService } from './token-service.js';

export const ROUTES = {
  token: '/token',
  revoke: '/token/revoke',
  me: '/me',
  mePermissions: '/me/permissions',
  meOrganizations: '/me/organizations',
} as const;

const tags = ['api-v3'];
const security = [{ bearerAuth: [] }];
const APP_ONLY = { access: { principal: 'app' } } as const;

export interface AppAuthRouteOptions {
  rateLimit: RateLimitRule;
  tokens: AppTokenService;
  apps: AppRepository;
}

const organizationRefs = (orgs: { id: string; code: string; isDefault: boolean }[]) =>
  orgs.map((org) => ({ organization_id: org.id, organization_code: org.code, is_default: org.isDefault }));

const appAuthRoutes: FastifyPluginAsyncTypebox<AppAuthRouteOptions> = async (app, { rateLimit, tokens, apps }) => {
  app.post(ROUTES.token, {
    // preHandler, so the allowlist can see the body's client_id.
    config: { rateLimit: { ...rateLimit, hook: 'preHandler' } },
    schema: {
      tags,
      description: 'Client credentials -> opaque access token. JSON or application/x-www-form-urlencoded.',
      consumes: ['application/json', 'application/x-www-form-urlencoded'],
      body: TokenBodySchema,
      response: { 200: Envelope(TokenDataSchema), ...v3Errors(400, 401, 403, 413, 415) },
    },
  }, async (request, reply) => {
    const issued = await tokens.issue(request.body ?? {}, { ip: request.ip, requestId: request.id });
    reply.header('cache-control', 'no-store');
    return success(request, {
      access_token: issued.token,
      token_type: 'Bearer' as const,
      expires_in: issued.expiresIn,
      expires_at: formatV3Datetime(issued.record.expiresAt),
      app_code: issued.appCode,
      organization_id: issued.record.organizationId,
      organization_code: issued.record.organizationCode,
    });
  });

  app.post(ROUTES.revoke, {
    config: { ...APP_ONLY, rateLimit: ENDS_ACCESS },
    schema: { tags, security, body: RevokeBodySchema, response: { 200: Envelope(RevokeDataSchema), ...v3Errors(400, 401, 403) } },
  }, async (request) => {
    const auth = appOf(request);
    const { revoked, at } = await tokens.revoke(auth, request.body?.reason, actorOf(request));
    return success(request, { revoked, token_id: auth.tokenId, updated: formatV3Datetime(at) });
  });

  app.get(ROUTES.me, {
    config: APP_ONLY,
    schema: { tags, security, response: { 200: Envelope(MeDataSchema), ...v3Errors(401, 403) } },
  }, async (request) => {
    const auth = appOf(request);
    return success(request, {
      app_id: auth.appId,
      app_code: auth.appCode,
      app_name: auth.appName,
      status: auth.status,
      token_id: auth.tokenId,
      token_expires_at: formatV3Datetime(auth.expiresAt),
      organization_id: auth.organizationId,
      organizations: organizationRefs(auth.organizations),
      permissions: auth.permissions,
    });
  });

  app.get(ROUTES.mePermissions, {
    config: APP_ONLY,
    schema: { tags, security, response: { 200: Envelope(MePermissionsDataSchema), ...v3Errors(401, 403) } },
  }, async (request) => {
    const auth = appOf(request);
    // Codes come from the token check; their catalog details from Postgres (not a hot path).
    const granted = new Set(auth.permissions);
    const details = (await apps.permissionsOf(auth.appId)).filter((permission) => granted.has(permission.permissionCode));
    return success(request, { app_code: auth.appCode, permissions: details.map(presentPermission) });
  });

  app.get(ROUTES.meOrganizations, {
    config: APP_ONLY,
    schema: { tags, security, response: { 200: Envelope(MeOrganizationsDataSchema), ...v3Errors(401, 403) } },
  }, async (request) => {
    const auth = appOf(request);
    return success(request, { app_code: auth.appCode, organizations: organizationRefs(auth.organizations) });
  });
};

export default appAuthRoutes;
