/**
 * Sheds load with 503 SERVICE_UNAVAILABLE and Retry-After (@fastify/under-pressure) while the
 * event loop lags past MAX_EVENT_LOOP_DELAY_MS: a saturated instance answers quickly that it is
 * busy, instead of answering everything late. Liveness stays exempt.
 *
 * under-pressure measures from its registration, so its first samples hold the start-up's own
 * blocking work (PGlite compiling, migrations, key loading) and read as seconds of lag: a fresh
 * instance shed every request for its first second. Lag is therefore ignored until two full
 * samples have been taken after the app is ready.
 */
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import { performance } from 'node:perf_hooks';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';

const RETRY_AFTER_SECONDS = 2;
const SAMPLE_INTERVAL_MS = 1000;
const START_UP_GRACE_MS = 2 * SAMPLE_INTERVAL_MS;

export default fp(
  async function loadSheddingPlugin(app: FastifyInstance, options: { config: Config }) {
    if (options.config.MAX_EVENT_LOOP_DELAY_MS === 0) return;
    let readyAt = Infinity;
    app.addHook('onReady', async () => {
      readyAt = performance.now();
    });
    await app.register(underPressure, {
      maxEventLoopDelay: options.config.MAX_EVENT_LOOP_DELAY_MS,
      sampleInterval: SAMPLE_INTERVAL_MS,
      retryAfter: RETRY_AFTER_SECONDS,
      exposeStatusRoute: false,
      pressureHandler: (request, _reply, type) => {
        if (request.url === '/health/live') return;
        if (type === 'eventLoopDelay' && performance.now() < readyAt + START_UP_GRACE_MS) return;
        throw new AppError('SERVICE_UNAVAILABLE', { message: 'Server is overloaded; retry later', headers: { 'retry-after': String(RETRY_AFTER_SECONDS) } });
      },
    });
  },
  { name: 'load-shedding' },
);
