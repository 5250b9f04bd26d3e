/**
 * The user-auth module: /api/auth (people logging in) and /api/admin/users (admins managing
 * them). Builds its services from the root decorations and registers both route sets.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.js';
import type { Clock } from '../../lib/clock.js';
import { createPasswordHasher } from '../../lib/password-hasher.js';
import { createRefreshTokenCodec } from '../../lib/refresh-token.js';
import adminUserRoutes from './admin-routes.js';
import { createAdminUserService } from './admin-service.js';
import { createLoginThrottle } from './login-throttle.js';
import { createRefreshCookie } from './refresh-cookie.js';
import userAuthRoutes from './routes.js';
import { createUserAuthService } from './service.js';
import { createUserRepository } from './user-repository.js';

export default async function userAuthModule(app: FastifyInstance, options: { config: Config; clock: Clock }) {
  const { config, clock } = options;
  const users = createUserRepository(app.db);
  const hasher = createPasswordHasher({
    memoryCost: config.ARGON2_MEMORY_KIB,
    timeCost: config.ARGON2_TIME_COST,
    parallelism: config.ARGON2_PARALLELISM,
  }, { threads: config.ARGON2_THREADS, niceIncrement: config.ARGON2_NICE });
  app.addHook('onClose', () => hasher.close());
  const service = createUserAuthService({
    config,
    clock,
    users,
    sessions: app.sessions,
    hasher,
    accessTokens: app.accessTokens,
    refreshTokens: createRefreshTokenCodec(Buffer.from(config.JWT_SECRET)),
    events: app.authEvents,
    loginStamps: app.loginStamps,
    metrics: app.metrics.auth,
    throttle: createLoginThrottle(app, config, clock),
  });
  await app.register(userAuthRoutes, { prefix: '/api/auth', config, service, cookie: createRefreshCookie(config) });
  await app.register(adminUserRoutes, { prefix: '/api/admin', service: createAdminUserService({ users, sessions: app.sessions, clock, events: app.authEvents }) });
}
