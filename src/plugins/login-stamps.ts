/** Decorates `app.loginStamps` (users.last_login_at, written in batches) and flushes it on close. */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { createLoginStampWriter, type LoginStamps } from '../db/login-stamp-writer.js';

declare module 'fastify' {
  interface FastifyInstance {
    loginStamps: LoginStamps;
  }
}

export default fp(
  async function loginStampsPlugin(app: FastifyInstance, options: { config: Config }) {
    const stamps = createLoginStampWriter({
      db: app.db,
      intervalMs: options.config.AUDIT_FLUSH_INTERVAL_MS,
      onError: (error, pending) => app.log.error({ err: error, pending }, 'login stamp write failed; will retry'),
      onDrop: (dropped) => app.log.error({ dropped }, 'login stamp buffer full; stamps dropped'),
    });
    app.addHook('onClose', () => stamps.close());
    app.decorate('loginStamps', stamps);
  },
  { name: 'login-stamps', dependencies: ['db'] },
);
