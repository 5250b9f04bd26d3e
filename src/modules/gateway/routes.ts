/**
 * GET /api/auth/check: forward-auth for nginx auth_request, Traefik ForwardAuth and Envoy
 * ext_authz. The hottest route of the service: no body, no Postgres, one token-store round trip
 * (the same user or app token decision as every route), then the requirements the proxy passes as
 * query parameters or as X-Forwarded-Method / X-Forwarded-Uri (matched against route permissions).
 * 200 carries the identity in X-Auth-* headers; 401/403 carry the usual reason codes.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '../../errors.js';
import { SafeString, StrictObject } from '../../lib/http-schemas.js';
import { errorResponses } from '../../lib/http-schemas.js';
import type { Principal } from '../../plugins/access.js';

export const ROUTES = { check: '/api/auth/check' } as const;

const CheckQuerySchema = StrictObject({
  role: Type.Optional(SafeString({ maxLength: 64, description: 'Comma-separated roles, one of which a user token must have.' })),
  permission: Type.Optional(SafeString({ maxLength: 128, description: 'A permission code an app token must hold.' })),
  org: Type.Optional(SafeString({ maxLength: 64, description: 'The organization (code or id) an app token must act for.' })),
});

const ANY_TOKEN = { principal: 'any' } as const;
const THIS_ROUTE = { method: 'GET', url: ROUTES.check } as const;

export const CheckResponseSchema = Type.Object({ allowed: Type.Literal(true), subject: Type.String() });

/**
 * A header's value when it was sent once. Module-level, not a closure in the handler: under tsx
 * (which keeps function names) every closure created costs an Object.defineProperty, which showed
 * as 1.7% of this route's profile.
 */
const singleHeader = (value: string | string[] | undefined): string | undefined => (typeof value === 'string' ? value : undefined);

/** The query and forwarded-request requirements, after the token itself passed. */
function assertRequirements(principal: Principal, query: { role?: string; permission?: string; org?: string }, forwarded: { method?: string; uri?: string }, requiredForPath: (method: string, path: string) => readonly string[]): void {
  if (query.role) {
    const roles = query.role.split(',').map((role) => role.trim().toUpperCase());
    if (principal.kind !== 'user' || !roles.includes(principal.user.role)) {
      throw new AppError('ROLE_REQUIRED', { message: `Needs role ${roles.join(' or ')}` });
    }
  }
  if (principal.kind !== 'app') {
    if (query.permission || query.org) throw new AppError('PERMISSION_REQUIRED', { message: 'Permission and organization requirements need an app token' });
    return;
  }
  const app = principal.app;
  const subject = { appId: app.appId, tokenId: app.tokenId };
  if (query.permission && !app.permissions.includes(query.permission)) {
    throw new AppError('V3_AUTH_PERMISSION_DENIED', { message: `Permission ${query.permission} required`, subject });
  }
  if (query.org && query.org !== app.organizationCode && query.org !== app.organizationId) {
    throw new AppError('V3_AUTH_ORG_DENIED', { subject });
  }
  if (forwarded.method && forwarded.uri) {
    const path = forwarded.uri.split('?')[0]!;
    const missing = requiredForPath(forwarded.method, path).filter((code) => !app.permissions.includes(code));
    if (missing.length > 0) throw new AppError('V3_AUTH_PERMISSION_DENIED', { message: `Permission ${missing.join(', ')} required`, subject });
  }
}

const gatewayRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(ROUTES.check, {
    // Gateways call this for every request of every client, through one address: never rate-limited
    // here. Its allowed answer goes to the proxy alone: no browser-facing headers (src/plugins/security.ts).
    config: { rateLimit: false, answeredTo: 'gateway' },
    schema: {
      tags: ['gateway'],
      security: [{ bearerAuth: [] }],
      querystring: CheckQuerySchema,
      response: { 200: CheckResponseSchema, ...errorResponses(400, 401, 403) },
    },
  }, async (request, reply) => {
    const decision = await app.access.decide(ANY_TOKEN, request.headers.authorization, THIS_ROUTE, false);
    if (!decision.allowed) throw decision.error;
    const principal = decision.principal!;
    const headers = request.headers;
    assertRequirements(principal, request.query, { method: singleHeader(headers['x-forwarded-method']), uri: singleHeader(headers['x-forwarded-uri']) }, app.routePermissions.requiredForPath);
    if (principal.kind === 'user') {
      request.auth = principal.user;
      reply.header('x-auth-subject', principal.user.userId).header('x-auth-role', principal.user.role);
      return { allowed: true as const, subject: principal.user.userId };
    }
    const appAuth = principal.app;
    reply
      .header('x-auth-subject', appAuth.appId)
      .header('x-auth-app', appAuth.appCode)
      .header('x-auth-org', appAuth.organizationCode)
      .header('x-auth-permissions', appAuth.permissions.join(','));
    return { allowed: true as const, subject: appAuth.appId };
  });
};

export default gatewayRoutes;
