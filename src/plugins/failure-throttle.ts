/** Decorates `app.failureThrottle`: the brute-force counters for the configured backend. */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { FailureThrottleStore } from '../redis/failure-throttle-store.js';
import { createMemoryFailureThrottleStore } from '../redis/memory-failure-throttle-store.js';
import { createRedisFailureThrottleStore } from '../redis/redis-failure-throttle-store.js';

declare module 'fastify' {
  interface FastifyInstance {
    failureThrottle: FailureThrottleStore;
  }
}

export default fp(
  async function failureThrottlePlugin(app: FastifyInstance) {
    app.decorate(
      'failureThrottle',
      app.kv.kind === 'redis' ? createRedisFailureThrottleStore({ client: app.kv.client }) : createMemoryFailureThrottleStore(),
    );
  },
  { name: 'failure-throttle', dependencies: ['key-value'] },
);
