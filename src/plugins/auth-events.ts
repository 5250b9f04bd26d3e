/**
 * Decorates `app.authEvents` (the buffered auth-event writer), runs the retention cleanup hourly,
 * and flushes on close. Denials are recorded centrally by the error handlers; successes by the
 * services that make them.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { type AuthEvent, type AuthEventLog, createAuthEventWriter } from '../db/auth-event-writer.js';
import type { AppError } from '../errors.js';
import type { Clock } from '../lib/clock.js';

declare module 'fastify' {
  interface FastifyInstance {
    authEvents: AuthEventLog;
  }
}

const CLEANUP_INTERVAL_MS = 3_600_000;

/** The request facts every event carries. */
export function requestFacts(request: FastifyRequest): Pick<AuthEvent, 'ip' | 'userAgent' | 'requestId' | 'method' | 'route'> {
  return {
    ip: request.ip,
    userAgent: (request.headers['user-agent'] ?? '').slice(0, 256),
    requestId: request.id,
    method: request.method,
    route: request.routeOptions.url ?? request.url.split('?')[0]!.slice(0, 256),
  };
}

/** A denial event for an error about to be rendered; who it concerned comes from the request and the error. */
export function denialEvent(error: AppError, request: FastifyRequest): AuthEvent {
  const subject = error.subject ?? {};
  const principal = request.auth;
  const body = request.body as { email?: unknown } | null | undefined;
  return {
    kind: 'denied',
    reason: error.code,
    status: error.statusCode,
    userId: subject.userId ?? principal?.userId ?? null,
    sessionId: subject.sessionId ?? principal?.sessionId ?? null,
    appId: subject.appId ?? null,
    tokenId: subject.tokenId ?? null,
    email: subject.userId || principal ? null : typeof body?.email === 'string' ? body.email.normalize('NFKC').trim().toLowerCase().slice(0, 320) : null,
    ...requestFacts(request),
  };
}

export default fp(
  async function authEventsPlugin(app: FastifyInstance, options: { config: Config; clock: Clock }) {
    const { config } = options;
    const events = createAuthEventWriter({
      db: app.db,
      clock: options.clock,
      intervalMs: config.AUDIT_FLUSH_INTERVAL_MS,
      floodThreshold: config.AUTH_EVENT_FLOOD_THRESHOLD,
      onError: (error, pending) => app.log.error({ err: error, pending }, 'auth event write failed; will retry'),
      onDrop: (dropped) => app.log.error({ dropped }, 'auth event buffer full; events dropped'),
    });
    const cleanup = setInterval(() => {
      events.deleteOlderThan(config.AUTH_EVENT_RETENTION_DAYS).catch((error: unknown) => app.log.warn({ err: error }, 'auth event cleanup failed'));
    }, CLEANUP_INTERVAL_MS);
    cleanup.unref();
    app.addHook('onClose', async () => {
      clearInterval(cleanup);
      await events.close();
    });
    app.decorate('authEvents', events);
  },
  { name: 'auth-events', dependencies: ['db'] },
);
