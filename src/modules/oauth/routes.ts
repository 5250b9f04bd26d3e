/**
 * OAuth 2.0 wire format over the API V3 apps: POST /oauth2/token (client_credentials, RFC 6749
 * 4.4, client_secret_basic or client_secret_post, optional scope), POST /oauth2/revoke (RFC 7009),
 * POST /oauth2/introspect (RFC 7662) and the RFC 8414 metadata.
 * Errors are RFC 6749 5.2 bodies {error, error_description}; no V3 envelope.
 */
import formBody from '@fastify/formbody';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Config } from '../../config.js';
import { AppError } from '../../errors.js';
import { ENDS_ACCESS } from '../../plugins/rate-limit.js';
import type { AppTokenService } from '../app-auth/token-service.js';
import { clientCredentials } from './client-auth.js';
import { useOAuthErrors } from './errors.js';
import { createIntrospectionService, INTROSPECT_PERMISSION } from './introspection-service.js';
import {
  IntrospectBodySchema,
  IntrospectionResponseSchema,
  MetadataSchema,
  OAuthErrorSchema,
  RevokeBodySchema,
  TokenBodySchema,
  TokenResponseSchema,
} from './schemas.js';

export const ROUTES = {
  token: '/oauth2/token',
  revoke: '/oauth2/revoke',
  introspect: '/oauth2/introspect',
  metadata: '/.well-known/oauth-authorization-server',
  /** Served by the signing-keys module; listed in the metadata. */
  jwks: '/.well-known/jwks.json',
} as const;

const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post'];

export interface OAuthRouteOptions {
  config: Config;
  tokens: AppTokenService;
}

const oauthRoutes: FastifyPluginAsyncTypebox<OAuthRouteOptions> = async (app, { config, tokens }) => {
  useOAuthErrors(app);
  await app.register(formBody, { bodyLimit: config.BODY_LIMIT_BYTES });
  const introspection = createIntrospectionService({ config, tokens, appAccess: app.appAccess, userAccess: app.userAccess });
  const rateLimit = { ...config.rateLimits.token, hook: 'preHandler' as const };

  app.post(ROUTES.token, {
    config: { rateLimit },
    schema: {
      tags: ['oauth2'],
      consumes: ['application/x-www-form-urlencoded'],
      body: TokenBodySchema,
      response: { 200: TokenResponseSchema, 400: OAuthErrorSchema, 401: OAuthErrorSchema, 429: OAuthErrorSchema, 503: OAuthErrorSchema },
    },
  }, async (request, reply) => {
    const body = request.body ?? {};
    const client = clientCredentials(request, body);
    if (body.grant_type === undefined) throw new AppError('V3_AUTH_VALIDATION_ERROR', { message: 'grant_type is required' });
    const scope = body.scope === undefined ? undefined : [...new Set(body.scope.split(' ').filter(Boolean))];
    const issued = await tokens.issue(
      {
        grant_type: body.grant_type,
        client_id: client.clientId,
        client_secret: client.clientSecret,
        organization_code: body.organization_code,
        organization_id: body.organization_id,
        scope,
      },
      { ip: request.ip, requestId: request.id },
    );
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    return {
      access_token: issued.token,
      token_type: 'Bearer' as const,
      expires_in: issued.expiresIn,
      ...(issued.record.scope ? { scope: issued.record.scope.join(' ') } : {}),
    };
  });

  app.post(ROUTES.revoke, {
    config: { rateLimit: { ...rateLimit, ...ENDS_ACCESS } },
    schema: {
      tags: ['oauth2'],
      description: 'RFC 7009. 200 for unknown tokens too; an app can revoke only its own tokens.',
      consumes: ['application/x-www-form-urlencoded'],
      body: RevokeBodySchema,
      response: { 200: Type.Object({}), 400: OAuthErrorSchema, 401: OAuthErrorSchema, 429: OAuthErrorSchema, 503: OAuthErrorSchema },
    },
  }, async (request, reply) => {
    const client = clientCredentials(request, request.body);
    const app = await tokens.authenticateClient(client.clientId, client.clientSecret);
    await tokens.revokeForClient(app, request.body.token, { ip: request.ip, requestId: request.id });
    reply.header('cache-control', 'no-store');
    return {};
  });

  app.post(ROUTES.introspect, {
    config: { rateLimit },
    schema: {
      tags: ['oauth2'],
      description:
        `RFC 7662, for resource servers: the caller authenticates as an app (client_secret_basic or client_secret_post) whose grants include ${INTROSPECT_PERMISSION}. `
        + 'Any app token or user access token can be introspected; 200 {"active": false} for anything unknown, malformed, expired or revoked. '
        + `400 invalid_request (no token), 401 invalid_client (+ WWW-Authenticate: Basic when Basic was used), 403 insufficient_scope (no ${INTROSPECT_PERMISSION}).`,
      consumes: ['application/x-www-form-urlencoded'],
      body: IntrospectBodySchema,
      response: {
        200: IntrospectionResponseSchema,
        400: OAuthErrorSchema,
        401: OAuthErrorSchema,
        403: OAuthErrorSchema,
        429: OAuthErrorSchema,
        503: OAuthErrorSchema,
      },
    },
  }, async (request, reply) => {
    const client = clientCredentials(request, request.body);
    const answer = await introspection.introspect(client, request.body.token);
    reply.header('cache-control', 'no-store');
    return answer;
  });

  app.get(ROUTES.metadata, { schema: { tags: ['oauth2'], response: { 200: MetadataSchema } } }, async (_request, reply) => {
    // Always ISSUER (never the request's Host): clients compare it with the URL they discovered from.
    const issuer = config.ISSUER;
    reply.header('cache-control', `public, max-age=${config.JWKS_MAX_AGE}`);
    return {
      issuer,
      token_endpoint: `${issuer}${ROUTES.token}`,
      token_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
      revocation_endpoint: `${issuer}${ROUTES.revoke}`,
      revocation_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
      introspection_endpoint: `${issuer}${ROUTES.introspect}`,
      introspection_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
      jwks_uri: `${issuer}${ROUTES.jwks}`,
      grant_types_supported: ['client_credentials'],
      response_types_supported: [],
      service_documentation: `${issuer}/docs`,
    };
  });
};

export default oauthRoutes;
