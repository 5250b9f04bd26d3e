/**
 * Helpers over the principal the access hook (src/plugins/access.ts) resolved for a V3 request:
 * the audit actor, and the app of an app-token request. Route access itself is declared on each
 * route (`config.access`) and decided in that one place.
 */
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import type { AppAuth } from '../../plugins/app-access.js';

/** The audit actor of a request's principal. */
export function actorOf(request: FastifyRequest) {
  const principal = request.principal;
  const actor = !principal ? 'anonymous' : principal.kind === 'app' ? `app:${principal.app.appId}` : `user:${principal.user.userId}`;
  return { actor, ip: request.ip, requestId: request.id };
}

export function appOf(request: FastifyRequest): AppAuth {
  const principal = request.principal;
  if (principal?.kind !== 'app') throw new AppError('V3_AUTH_PERMISSION_DENIED');
  return principal.app;
}
