/** Decorates `app.sessions` with the session store for the configured backend. */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Clock } from '../lib/clock.js';
import { createMemorySessionStore } from '../redis/memory-session-store.js';
import { createRedisSessionStore } from '../redis/redis-session-store.js';
import type { SessionStore } from '../redis/session-store.js';

declare module 'fastify' {
  interface FastifyInstance {
    sessions: SessionStore;
  }
}

export default fp(
  async function sessionsPlugin(app: FastifyInstance, options: { clock: Clock }) {
    const store =
      app.kv.kind === 'redis'
        ? createRedisSessionStore({ client: app.kv.client, keys: app.keys })
        : createMemorySessionStore({ clock: options.clock });
    app.decorate('sessions', store);
  },
  { name: 'sessions', dependencies: ['key-value'] },
);
