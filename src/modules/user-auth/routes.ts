/** /api/auth routes: thin handlers over UserAuthService. */
import fastifyCookie from '@fastify/cookie';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import { AppError } from '../../errors.js';
import { errorResponses, MessageResponseSchema } from '../../lib/http-schemas.js';
import { ENDS_ACCESS } from '../../plugins/rate-limit.js';
import type { RefreshCookie } from './refresh-cookie.js';
import {
  AuthResponseSchema,
  BootstrapBodySchema,
  LoginBodySchema,
  LogoutAllResponseSchema,
  PublicUserSchema,
  RefreshResponseSchema,
  RegisterBodySchema,
  SessionListSchema,
  SessionParamsSchema,
} from './schemas.js';
import type { ClientInfo, UserAuthService } from './service.js';

export const ROUTES = {
  register: '/register',
  login: '/login',
  refresh: '/refresh',
  refreshAlias: '/refresh-token',
  logout: '/logout',
  logoutAll: '/logout-all',
  me: '/me',
  sessions: '/sessions',
  session: '/sessions/:id',
  bootstrap: '/bootstrap',
} as const;

const bearer = [{ bearerAuth: [] }];
const USER = { access: { principal: 'user' } } as const;
const tags = ['user-auth'];

const clientOf = (request: FastifyRequest): ClientInfo => ({ ip: request.ip, userAgent: request.headers['user-agent'] ?? '', requestId: request.id });

/** undefined for a refused credential (a 4xx AppError); anything else, a store failure above all, is thrown on. */
function ignoreRefusal(error: unknown): undefined {
  if (error instanceof AppError && error.statusCode < 500) return undefined;
  throw error;
}

export interface UserAuthRouteOptions {
  config: Config;
  service: UserAuthService;
  cookie: RefreshCookie;
}

const userAuthRoutes: FastifyPluginAsyncTypebox<UserAuthRouteOptions> = async (app, { config, service, cookie }) => {
  const loginLimit = { rateLimit: config.rateLimits.login };

  // The routes that read, set or clear the refresh cookie, in a scope of their own with
  // @fastify/cookie: every other route (/me and the gateway check among them) is spared its
  // parsing and onSend hooks.
  const refreshCookieRoutes: FastifyPluginAsyncTypebox = async (app) => {
    await app.register(fastifyCookie);

    app.post(ROUTES.register, {
      config: loginLimit,
      schema: { tags, body: RegisterBodySchema, response: { 201: AuthResponseSchema, ...errorResponses(400, 403, 409, 413, 415) } },
    }, async (request, reply) => {
      const { accessToken, refreshToken, refreshMaxAge, user } = await service.register(request.body, clientOf(request));
      cookie.set(reply, refreshToken, refreshMaxAge);
      return reply.code(201).send({ accessToken, user });
    });

    app.post(ROUTES.login, {
      config: loginLimit,
      schema: { tags, body: LoginBodySchema, response: { 200: AuthResponseSchema, ...errorResponses(400, 401, 403, 413, 415, 429) } },
    }, async (request, reply) => {
      const { accessToken, refreshToken, refreshMaxAge, user } = await service.login(request.body, clientOf(request));
      cookie.set(reply, refreshToken, refreshMaxAge);
      return { accessToken, user };
    });

    for (const url of [ROUTES.refresh, ROUTES.refreshAlias]) {
      app.post(url, {
        onRequest: app.requireTrustedOrigin,
        config: { rateLimit: config.rateLimits.refresh },
        schema: { tags, description: 'Rotates the refresh cookie and returns a new access token.', response: { 200: RefreshResponseSchema, ...errorResponses(401, 403, 429) } },
      }, async (request, reply) => {
        try {
          const { accessToken, refreshToken, refreshMaxAge } = await service.refresh(cookie.read(request), clientOf(request));
          cookie.set(reply, refreshToken, refreshMaxAge);
          return { accessToken };
        } catch (error) {
          // A cookie that can never work again should not be sent again.
          cookie.clear(reply);
          throw error;
        }
      });
    }

    app.post(ROUTES.logout, {
      config: { rateLimit: ENDS_ACCESS },
      onRequest: app.requireTrustedOrigin,
      schema: { tags, response: { 200: MessageResponseSchema, ...errorResponses(403) } },
    }, async (request, reply) => {
      // A bearer token only counts when it still names a live session, and a refused one does not
      // fail the logout; a store that cannot answer does (503), or the logout would claim a
      // revocation it never made.
      const bearerAuth = request.headers.authorization
        ? await app.userAccess.check(request.headers.authorization).catch(ignoreRefusal)
        : undefined;
      await service.logout(cookie.read(request), bearerAuth, clientOf(request));
      cookie.clear(reply);
      return { message: 'Logged out successfully' };
    });

    app.post(ROUTES.logoutAll, {
      config: { ...USER, rateLimit: ENDS_ACCESS },
      schema: { tags, security: bearer, response: { 200: LogoutAllResponseSchema, ...errorResponses(401, 403) } },
    }, async (request, reply) => {
      const revoked = await service.logoutAll(request.auth!, clientOf(request));
      cookie.clear(reply);
      return { message: 'Logged out of every session', revoked };
    });
  };
  await app.register(refreshCookieRoutes);

  app.get(ROUTES.me, {
    config: USER,
    schema: { tags, security: bearer, response: { 200: PublicUserSchema, ...errorResponses(401, 403) } },
  }, async (request) => {
    const auth = request.auth!;
    return { id: auth.userId, email: auth.email, name: auth.name, role: auth.role };
  });

  app.get(ROUTES.sessions, {
    config: USER,
    schema: { tags, security: bearer, response: { 200: SessionListSchema, ...errorResponses(401, 403) } },
  }, async (request) => ({ sessions: await service.listSessions(request.auth!) }));

  app.delete(ROUTES.session, {
    config: { ...USER, rateLimit: ENDS_ACCESS },
    schema: { tags, security: bearer, params: SessionParamsSchema, response: { 200: MessageResponseSchema, ...errorResponses(400, 401, 403, 404) } },
  }, async (request) => {
    await service.revokeSession(request.auth!, request.params.id, clientOf(request));
    return { message: 'Session revoked' };
  });

  if (!config.isProduction || config.ALLOW_BOOTSTRAP) {
    app.post(ROUTES.bootstrap, {
      config: loginLimit,
      schema: { tags, description: 'Creates the first admin; 409 once any admin exists.', body: BootstrapBodySchema, response: { 201: MessageResponseSchema, ...errorResponses(400, 409, 413, 415) } },
    }, async (request, reply) => {
      await service.bootstrap(request.body);
      return reply.code(201).send({ message: 'Admin user created successfully' });
    });
  }
};

export default userAuthRoutes;
