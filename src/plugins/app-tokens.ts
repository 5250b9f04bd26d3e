/**
 * Decorates `app.appTokens` with the API V3 token store for the configured backend. Issue reads
 * the brute-force lock itself: Redis from the counters' keys, in-process from `app.failureThrottle`.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Clock } from '../lib/clock.js';
import type { AppTokenStore } from '../redis/app-token-store.js';
import { createMemoryAppTokenStore } from '../redis/memory-app-token-store.js';
import { createRedisAppTokenStore } from '../redis/redis-app-token-store.js';

declare module 'fastify' {
  interface FastifyInstance {
    appTokens: AppTokenStore;
  }
}

export default fp(
  async function appTokensPlugin(app: FastifyInstance, options: { clock: Clock }) {
    const store =
      app.kv.kind === 'redis'
        ? createRedisAppTokenStore({ client: app.kv.client, keys: app.keys })
        : createMemoryAppTokenStore({ clock: options.clock, throttle: app.failureThrottle });
    app.decorate('appTokens', store);
  },
  { name: 'app-tokens', dependencies: ['key-value', 'failure-throttle'] },
);
