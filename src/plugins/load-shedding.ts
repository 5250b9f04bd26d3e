/**
 * Sheds load with 503 SERVICE_UNAVAILABLE and Retry-After (@fastify/under-pressure) while the
 * event loop lags past MAX_EVENT_LOOP_DELAY_MS: a saturated instance answers quickly that it is
 * busy, instead of answering everything late. Liveness stays exempt.
 */
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';

const RETRY_AFTER_SECONDS = 2;

export default fp(
  async function loadSheddingPlugin(app: FastifyInstance, options: { config: Config }) {
    if (options.config.MAX_EVENT_LOOP_DELAY_MS === 0) return;
    await app.register(underPressure, {
      maxEventLoopDelay: options.config.MAX_EVENT_LOOP_DELAY_MS,
      retryAfter: RETRY_AFTER_SECONDS,
      exposeStatusRoute: false,
      pressureHandler: (request) => {
        if (request.url === '/health/live') return;
        throw new AppError('SERVICE_UNAVAILABLE', { message: 'Server is overloaded; retry later', headers: { 'retry-after': String(RETRY_AFTER_SECONDS) } });
      },
    });
  },
  { name: 'load-shedding' },
);
