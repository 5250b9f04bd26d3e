/** /api/support: diagnostics for the people who support our users (ADMIN users, or apps with auth-admin.support.read). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorResponses } from '../../lib/http-schemas.js';
import { ENDS_ACCESS } from '../../plugins/rate-limit.js';
import {
  AppReportSchema,
  ExplainBodySchema,
  ExplanationSchema,
  IdParamsSchema,
  RevokeSessionsResponseSchema,
  UserLookupQuerySchema,
  UserReportSchema,
} from './schemas.js';
import type { SupportService } from './service.js';

export const ROUTES = {
  userLookup: '/users/lookup',
  user: '/users/:id',
  revokeSessions: '/users/:id/revoke-sessions',
  explain: '/explain',
  app: '/apps/:id',
} as const;

export const SUPPORT_PERMISSION = 'auth-admin.support.read';

const STAFF = { access: { principal: 'staff', permission: SUPPORT_PERMISSION } } as const;
const tags = ['support'];
const security = [{ bearerAuth: [] }];

const supportRoutes: FastifyPluginAsyncTypebox<{ service: SupportService }> = async (app, { service }) => {
  const errors = errorResponses(400, 401, 403, 404);

  app.get(ROUTES.userLookup, {
    config: STAFF,
    schema: { tags, security, querystring: UserLookupQuerySchema, response: { 200: UserReportSchema, ...errors } },
  }, async (request) => service.userReport({ email: request.query.email.normalize('NFKC').trim().toLowerCase() }));

  app.get(ROUTES.user, {
    config: STAFF,
    schema: { tags, security, params: IdParamsSchema, response: { 200: UserReportSchema, ...errors } },
  }, async (request) => service.userReport({ id: request.params.id }));

  app.post(ROUTES.explain, {
    config: STAFF,
    schema: {
      tags,
      security,
      description: 'The decision the service would make right now for a token, or for an account, on a method and path.',
      body: ExplainBodySchema,
      response: { 200: ExplanationSchema, ...errors },
    },
  }, async (request) => service.explain(request.body));

  app.get(ROUTES.app, {
    config: STAFF,
    schema: { tags, security, params: IdParamsSchema, response: { 200: AppReportSchema, ...errors } },
  }, async (request) => service.appReport(request.params.id));

  app.post(ROUTES.revokeSessions, {
    config: { ...STAFF, rateLimit: ENDS_ACCESS },
    schema: { tags, security, params: IdParamsSchema, response: { 200: RevokeSessionsResponseSchema, ...errors } },
  }, async (request) => {
    const principal = request.principal!;
    const actor = principal.kind === 'user' ? `user:${principal.user.userId}` : `app:${principal.app.appId}`;
    const revoked = await service.revokeSessions(request.params.id, { actor, ip: request.ip, requestId: request.id });
    return { message: 'Every session of the user was ended', revoked };
  });
};

export default supportRoutes;
