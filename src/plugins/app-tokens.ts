/**
 * Decorates `app.appTokens` with the API V3 token store for the configured backend. Issue checks
 * and counts the brute-force counters itself: Redis in the counters' keys, in-process in
 * `app.failureThrottle`.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Clock } from '../lib/clock.js';
import type { AppTokenStore } from '../redis/app-token-store.js';
import type { FailureThrottleStore } from '../redis/failure-throttle-store.js';
import { createMemoryAppTokenStore } from '../redis/memory-app-token-store.js';
import { type InProcessFailureThrottleStore, isInProcessThrottle } from '../redis/memory-failure-throttle-store.js';
import { createRedisAppTokenStore } from '../redis/redis-app-token-store.js';

declare module 'fastify' {
  interface FastifyInstance {
    appTokens: AppTokenStore;
  }
}

function inProcessThrottle(store: FailureThrottleStore): InProcessFailureThrottleStore {
  if (!isInProcessThrottle(store)) throw new Error('the in-process app token store counts in the in-process failure throttle');
  return store;
}

export default fp(
  async function appTokensPlugin(app: FastifyInstance, options: { clock: Clock }) {
    const store =
      app.kv.kind === 'redis'
        ? createRedisAppTokenStore({ client: app.kv.client, keys: app.keys })
        : createMemoryAppTokenStore({ clock: options.clock, throttle: inProcessThrottle(app.failureThrottle) });
    app.decorate('appTokens', store);
  },
  { name: 'app-tokens', dependencies: ['key-value', 'failure-throttle'] },
);
