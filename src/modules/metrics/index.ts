/**
 * GET /metrics: the Prometheus text exposition of src/plugins/metrics.ts.
 *
 * Threat model: the series name routes, reason codes and volumes, which help an attacker tune an
 * attack. With METRICS_TOKEN set, only `Authorization: Bearer <METRICS_TOKEN>` gets them (compared
 * as SHA-256 digests in constant time, so neither content nor length leaks through timing);
 * anything else is 401 with the usual codes. Unset, /metrics is open: expose it only on an
 * internal network. Never rate-limited: a scraper calls at a fixed pace from one address.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Config } from '../../config.js';
import { AppError } from '../../errors.js';
import { constantTimeEqual, sha256 } from '../../lib/crypto.js';
import { errorResponses } from '../../lib/http-schemas.js';
import { bearerToken } from '../../plugins/authenticate.js';

export const METRICS_PATH = '/metrics';

const CHALLENGE = { 'www-authenticate': 'Bearer realm="metrics"' };

const metricsModule: FastifyPluginAsyncTypebox<{ config: Config }> = async (app, { config }) => {
  const expected = config.METRICS_TOKEN === undefined ? undefined : sha256(config.METRICS_TOKEN);

  app.get(
    METRICS_PATH,
    {
      config: { rateLimit: false },
      schema: {
        tags: ['health'],
        summary: 'Prometheus metrics (text exposition format)',
        ...(expected ? { security: [{ bearerAuth: [] }] } : {}),
        response: { 200: Type.String(), ...errorResponses(401) },
      },
    },
    async (request, reply) => {
      if (expected) {
        const presented = bearerToken(request.headers.authorization);
        if (!presented) throw new AppError(request.headers.authorization ? 'TOKEN_INVALID' : 'TOKEN_MISSING', { headers: CHALLENGE });
        if (!constantTimeEqual(sha256(presented), expected)) throw new AppError('TOKEN_INVALID', { headers: CHALLENGE });
      }
      reply.header('content-type', app.metrics.registry.contentType).header('cache-control', 'no-store');
      return app.metrics.exposition();
    },
  );
};

export default metricsModule;
