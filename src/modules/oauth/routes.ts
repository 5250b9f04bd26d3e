/**
 * OAuth 2.0 wire format over the API V3 apps: POST /oauth2/token (client_credentials, RFC 6749
 * 4.4, client_secret_basic or client_secret_post, optional scope) and the RFC 8414 metadata.
 * Errors are RFC 6749 5.2 bodies {error, error_description}; no V3 envelope.
 */
import formBody from '@fastify/formbody';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Config } from '../../config.js';
import { AppError } from '../../errors.js';
import type { AppTokenService } from '../app-auth/token-service.js';
import { useOAuthErrors } from './errors.js';

export const ROUTES = { token: '/oauth2/token', revoke: '/oauth2/revoke', metadata: '/.well-known/oauth-authorization-server' } as const;

const RevokeBodySchema = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 8192 }),
    token_type_hint: Type.Optional(Type.String({ maxLength: 64 })),
    client_id: Type.Optional(Type.String({ maxLength: 128 })),
    client_secret: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: true },
);

// RFC 6749 3.2: the server MUST ignore unrecognized parameters, so this body is open by design.
const TokenBodySchema = Type.Object(
  {
    grant_type: Type.Optional(Type.String({ maxLength: 64 })),
    client_id: Type.Optional(Type.String({ maxLength: 128 })),
    client_secret: Type.Optional(Type.String({ maxLength: 256 })),
    scope: Type.Optional(Type.String({ maxLength: 4096 })),
    organization_code: Type.Optional(Type.String({ maxLength: 64 })),
    organization_id: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: true },
);

const TokenResponseSchema = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer(),
  scope: Type.Optional(Type.String()),
});

const OAuthErrorSchema = Type.Object({ error: Type.String(), error_description: Type.Optional(Type.String()) });

/** RFC 6749 2.3.1: client_secret_basic, with both parts form-urlencoded before base64. */
function basicCredentials(request: FastifyRequest): { clientId: string; clientSecret: string } | null | 'malformed' {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header);
  if (!match) return 'malformed';
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return 'malformed';
  try {
    const form = (value: string) => decodeURIComponent(value.replaceAll('+', ' '));
    return { clientId: form(decoded.slice(0, colon)), clientSecret: form(decoded.slice(colon + 1)) };
  } catch {
    return 'malformed';
  }
}

/** The client's credentials from Basic or from the body (one method only, RFC 6749 2.3). */
function clientCredentials(request: FastifyRequest, body: { client_id?: string | undefined; client_secret?: string | undefined }) {
  const basic = basicCredentials(request);
  if (basic === 'malformed') throw new AppError('V3_AUTH_INVALID_CLIENT', { message: 'Malformed Basic credentials' });
  if (basic && (body.client_secret !== undefined || (body.client_id !== undefined && body.client_id !== basic.clientId))) {
    throw new AppError('V3_AUTH_VALIDATION_ERROR', { message: 'Use one client authentication method, not two' });
  }
  return { clientId: basic?.clientId ?? body.client_id, clientSecret: basic?.clientSecret ?? body.client_secret };
}

export interface OAuthRouteOptions {
  config: Config;
  tokens: AppTokenService;
}

const oauthRoutes: FastifyPluginAsyncTypebox<OAuthRouteOptions> = async (app, { config, tokens }) => {
  useOAuthErrors(app);
  await app.register(formBody, { bodyLimit: config.BODY_LIMIT_BYTES });

  app.post(ROUTES.token, {
    config: { rateLimit: { ...config.rateLimits.token, hook: 'preHandler' } },
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
    config: { rateLimit: { ...config.rateLimits.token, hook: 'preHandler' } },
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

  app.get(ROUTES.metadata, { schema: { tags: ['oauth2'] } }, async (request, reply) => {
    const issuer = config.ISSUER ?? `${request.protocol}://${request.host}`;
    reply.header('cache-control', 'public, max-age=300');
    return {
      issuer,
      token_endpoint: `${issuer}${ROUTES.token}`,
      revocation_endpoint: `${issuer}${ROUTES.revoke}`,
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      response_types_supported: [],
      service_documentation: `${issuer}/docs`,
    };
  });
};

export default oauthRoutes;
