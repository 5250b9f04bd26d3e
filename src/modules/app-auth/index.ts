/**
 * The API V3 module (/api/v3/auth): machine-to-machine auth for apps. Its own encapsulated scope
 * renders every response in the V3 envelope and accepts form-encoded bodies (token requests).
 */
import formBody from '@fastify/formbody';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.js';
import type { Clock } from '../../lib/clock.js';
import appAdminRoutes from './admin-routes.js';
import { useV3Envelope } from './envelope.js';
import oauthRoutes from '../oauth/routes.js';
import appAuthRoutes from './routes.js';
import { createAppAuthServices } from './services.js';

export default async function appAuthModule(app: FastifyInstance, options: { config: Config; clock: Clock }) {
  const { config, clock } = options;
  const services = createAppAuthServices({
    config,
    clock,
    db: app.db,
    store: app.appTokens,
    audit: app.audit,
    failureThrottle: app.failureThrottle,
    keys: app.keys,
    restoreSnapshot: app.appAccess.restoreSnapshot,
    events: app.authEvents,
    metrics: app.metrics.auth,
  });

  await app.register(
    async (v3) => {
      useV3Envelope(v3);
      await v3.register(formBody, { bodyLimit: config.BODY_LIMIT_BYTES });
      await v3.register(appAuthRoutes, { rateLimit: config.rateLimits.token, tokens: services.tokens, apps: services.apps });
      await v3.register(appAdminRoutes, { service: services.admin, apps: services.apps, catalog: services.catalog, auditLogs: services.auditLogs });
    },
    { prefix: '/api/v3/auth' },
  );
  // The same apps and tokens in the standard OAuth 2.0 wire format (its own scope, no envelope).
  await app.register(oauthRoutes, { config, tokens: services.tokens });
}
