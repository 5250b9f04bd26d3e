/** /api/admin/users routes (ADMIN only): thin handlers over AdminUserService. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorResponses } from '../../lib/http-schemas.js';
import { AdminUserListQuerySchema, AdminUserListSchema, AdminUserParamsSchema, AdminUserPatchSchema, AdminUserSchema } from './admin-schemas.js';
import type { AdminUserService } from './admin-service.js';

export const ADMIN_ROUTES = {
  users: '/users',
  user: '/users/:id',
} as const;

const security = [{ bearerAuth: [] }];
const tags = ['admin-users'];
const ADMIN_ONLY = { access: { principal: 'user', roles: ['ADMIN'] } } as const;

const adminUserRoutes: FastifyPluginAsyncTypebox<{ service: AdminUserService }> = async (app, { service }) => {

  app.get(ADMIN_ROUTES.users, {
    config: ADMIN_ONLY,
    schema: { tags, security, querystring: AdminUserListQuerySchema, response: { 200: AdminUserListSchema, ...errorResponses(400, 401, 403) } },
  }, async (request) => service.list(request.query));

  app.patch(ADMIN_ROUTES.user, {
    config: ADMIN_ONLY,
    schema: {
      tags,
      security,
      params: AdminUserParamsSchema,
      body: AdminUserPatchSchema,
      response: { 200: AdminUserSchema, ...errorResponses(400, 401, 403, 404, 409, 413, 415) },
    },
  }, async (request) => service.update(request.params.id, request.body, { actorId: request.auth!.userId, ip: request.ip, requestId: request.id }));
};

export default adminUserRoutes;
