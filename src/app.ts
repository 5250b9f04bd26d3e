/**
 * buildApp(config, overrides) -> a ready-to-listen Fastify instance. Every Fastify option lives
 * here, so tests run the production configuration; registration order is explicit.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Config } from './config.js';
import type { DatabaseHandle } from './db/client.js';
import { type Clock, systemClock } from './lib/clock.js';
import { createValidatorCompiler } from './lib/validation.js';
import { renderV3Error, toV3Error, V3_PREFIX } from './modules/app-auth/envelope.js';
import appAuthModule from './modules/app-auth/index.js';
import gatewayModule from './modules/gateway/index.js';
import healthModule from './modules/health/index.js';
import metricsModule from './modules/metrics/index.js';
import signingKeysModule from './modules/signing-keys/index.js';
import supportModule from './modules/support/index.js';
import userAuthModule from './modules/user-auth/index.js';
import accessPlugin from './plugins/access.js';
import accessTokenPlugin from './plugins/access-token.js';
import appAccessPlugin from './plugins/app-access.js';
import appTokensPlugin from './plugins/app-tokens.js';
import auditPlugin from './plugins/audit.js';
import authEventsPlugin from './plugins/auth-events.js';
import loginStampsPlugin from './plugins/login-stamps.js';
import authenticatePlugin from './plugins/authenticate.js';
import dbPlugin from './plugins/db.js';
import failureThrottlePlugin from './plugins/failure-throttle.js';
import errorHandlerPlugin, { prepareErrorReply, renderErrorBody } from './plugins/error-handler.js';
import keyValuePlugin from './plugins/key-value.js';
import loadSheddingPlugin from './plugins/load-shedding.js';
import metricsPlugin from './plugins/metrics.js';
import rateLimitPlugin from './plugins/rate-limit.js';
import routePermissionsPlugin from './plugins/route-permissions.js';
import securityPlugin from './plugins/security.js';
import sessionsPlugin from './plugins/sessions.js';
import signingKeysPlugin from './plugins/signing-keys.js';
import swaggerPlugin from './plugins/swagger.js';

export const SERVICE_VERSION = '0.1.0';

export interface AppOverrides {
  clock?: Clock;
  /** An already-open database (tests sharing one PGlite, say); the app will not close it. */
  database?: DatabaseHandle;
}

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

function requestIdFrom(request: IncomingMessage): string {
  const incoming = request.headers['x-request-id'];
  return typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID();
}

function trustProxySetting(value: string): boolean | string[] {
  if (value === 'true') return true;
  const entries = value.split(',').map((entry) => entry.trim()).filter(Boolean);
  return entries.length > 0 ? entries : false;
}

/** Every Fastify constructor option; exported so the benchmark's baseline server runs the very same settings. */
export function fastifyOptions(config: Config) {
  return {
    logger: {
      level: config.LOG_LEVEL,
      redact: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'],
    },
    genReqId: requestIdFrom,
    requestIdHeader: false,
    bodyLimit: config.BODY_LIMIT_BYTES,
    trustProxy: trustProxySetting(config.TRUST_PROXY),
    return503OnClosing: true,
    // Router-level failures (malformed URL encoding, over-long params) get our error shape too.
    frameworkErrors: (error, request, reply) => {
      const isV3 = request.url.startsWith(V3_PREFIX);
      const appError = prepareErrorReply(error, request, reply, isV3 ? toV3Error : undefined);
      const body = isV3 ? renderV3Error(appError, request) : renderErrorBody(appError, request.id);
      void reply.header('x-request-id', request.id).send(body as never);
    },
    routerOptions: { maxParamLength: 200 },
  } satisfies FastifyServerOptions;
}

export async function buildApp(config: Config, overrides: AppOverrides = {}): Promise<FastifyInstance> {
  const clock = overrides.clock ?? systemClock;
  const app = Fastify(fastifyOptions(config)).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(createValidatorCompiler());
  // JSON only (form bodies are added where a contract needs them); text/plain would reach validation.
  app.removeContentTypeParser('text/plain');
  app.decorate('config', config);
  app.decorate('clock', clock);
  await app.register(errorHandlerPlugin);
  // Early, so its onResponse hook covers every route.
  await app.register(metricsPlugin);
  await app.register(securityPlugin, { config });
  await app.register(loadSheddingPlugin, { config });
  await app.register(swaggerPlugin, { version: SERVICE_VERSION });
  await app.register(dbPlugin, { config, ...(overrides.database ? { database: overrides.database } : {}) });
  await app.register(keyValuePlugin, { config });
  await app.register(rateLimitPlugin, { config });
  await app.register(sessionsPlugin, { clock });
  await app.register(signingKeysPlugin, { config, clock });
  await app.register(accessTokenPlugin, { config, clock });
  await app.register(authenticatePlugin, { clock });
  // Before the token store: embedded, issue reads the in-process failure counters.
  await app.register(failureThrottlePlugin);
  await app.register(appTokensPlugin, { clock });
  await app.register(auditPlugin, { config, clock });
  await app.register(authEventsPlugin, { config, clock });
  await app.register(loginStampsPlugin, { config });
  await app.register(routePermissionsPlugin);
  await app.register(appAccessPlugin, { config, clock });
  await app.register(accessPlugin);

  await app.register(healthModule);
  await app.register(metricsModule, { config });
  await app.register(userAuthModule, { config, clock });
  await app.register(appAuthModule, { config, clock });
  await app.register(supportModule, { config, clock });
  await app.register(gatewayModule);
  await app.register(signingKeysModule, { config, clock });

  await app.ready();
  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    clock: Clock;
  }
}
