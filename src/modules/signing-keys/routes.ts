/**
 * GET /.well-known/jwks.json (public keys of every published signing key) and the admin
 * endpoints that list and rotate them (/api/admin/signing-keys, ADMIN only).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Config } from '../../config.js';
import type { Clock } from '../../lib/clock.js';
import { errorResponses } from '../../lib/http-schemas.js';
import { presentSigningKey } from './presenter.js';
import { JwksSchema, RotateBodySchema, SigningKeyListSchema, SigningKeySchema } from './schemas.js';

export const ROUTES = { jwks: '/.well-known/jwks.json', keys: '/api/admin/signing-keys' } as const;

const ADMIN_ONLY = { access: { principal: 'user', roles: ['ADMIN'] } } as const;
const security = [{ bearerAuth: [] }];
const tags = ['admin-signing-keys'];

const signingKeyRoutes: FastifyPluginAsyncTypebox<{ config: Config; clock: Clock }> = async (app, { config, clock }) => {
  const ring = app.signingKeys;

  app.get(ROUTES.jwks, {
    schema: { tags: ['oauth2'], description: 'RFC 7517 key set that verifies user access tokens (empty with JWT_ALGORITHM=HS256).', response: { 200: JwksSchema } },
  }, async (_request, reply) => {
    reply.header('cache-control', `public, max-age=${config.JWKS_MAX_AGE}`);
    return ring.jwks(clock.now());
  });

  app.get(ROUTES.keys, {
    config: ADMIN_ONLY,
    schema: { tags, security, response: { 200: SigningKeyListSchema, ...errorResponses(401, 403) } },
  }, async () => ({ keys: ring.states(clock.now()).map(presentSigningKey) }));

  app.post(ROUTES.keys, {
    config: ADMIN_ONLY,
    schema: {
      tags,
      security,
      description: 'Adds a key that is published now and signs after SIGNING_KEY_PUBLISH_DELAY; the current key keeps verifying until its tokens expire.',
      body: RotateBodySchema,
      response: { 201: SigningKeySchema, ...errorResponses(400, 401, 403, 409, 413, 415) },
    },
  }, async (request, reply) => {
    const state = await ring.rotate(`user:${request.auth!.userId}`, request.body?.algorithm);
    app.audit.record({ appId: null, eventType: 'signing_key.created', actor: state.key.createdBy, ip: request.ip, requestId: request.id, details: { kid: state.key.kid, algorithm: state.key.algorithm, activates_at: new Date(state.key.activatesAt).toISOString() } });
    return reply.code(201).send(presentSigningKey(state));
  });
};

export default signingKeyRoutes;
