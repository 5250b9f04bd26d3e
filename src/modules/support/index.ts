/** The support module: /api/support diagnostics and the /console page. */
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../config.js';
import type { Clock } from '../../lib/clock.js';
import { createLoginThrottle, loginSubject } from '../user-auth/login-throttle.js';
import supportRoutes from './routes.js';
import { createSupportService } from './service.js';
import { createSupportRepository } from './support-repository.js';

const CONSOLE_ROOT = fileURLToPath(new URL('../../../public/console', import.meta.url));

export default async function supportModule(app: FastifyInstance, options: { config: Config; clock: Clock }) {
  const loginThrottle = createLoginThrottle(app, options.config, options.clock);
  const service = createSupportService({
    access: app.access,
    repository: createSupportRepository(app.db),
    sessions: app.sessions,
    appTokens: app.appTokens,
    events: app.authEvents,
    db: app.db,
    clock: options.clock,
    // Stored emails are normalised, as the login normalises the one it is given.
    loginLockOf: (email) => loginThrottle.subjectState(loginSubject(email)),
  });
  await app.register(supportRoutes, { prefix: '/api/support', service });
  await app.register(fastifyStatic, { root: CONSOLE_ROOT, prefix: '/console/', decorateReply: false });
  app.get('/console', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/console/'));
}
