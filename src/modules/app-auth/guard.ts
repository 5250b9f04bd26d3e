/**
 * Who is calling an API V3 route. A bearer token is either an app access token (v3at_...) or a
 * user access token (a JWT, checked by the same guard as every user route). Admin routes accept
 * an ADMIN user or an app holding the route's admin permission; app routes accept apps only.
 * Every refusal of a token is a 401 with its reason; a valid caller lacking a right is a 403.
 */
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { AppError, type ErrorCode } from '../../errors.js';
import { isAppTokenShaped } from '../../lib/app-credentials.js';
import { bearerToken, type UserAccessGuard, type UserAuth } from '../../plugins/authenticate.js';
import type { RoutePermissionCache } from '../../plugins/route-permissions.js';
import { toV3Error } from './envelope.js';
import type { AppAuth, AppTokenService } from './token-service.js';

export type V3Principal = { kind: 'app'; app: AppAuth } | { kind: 'user'; user: UserAuth };

declare module 'fastify' {
  interface FastifyRequest {
    v3Principal: V3Principal | null;
  }
}

const CHALLENGE = 'Bearer realm="portcullis"';

function unauthorized(code: ErrorCode, cause?: unknown): AppError {
  const header = code === 'V3_AUTH_MISSING_CREDENTIAL' ? CHALLENGE : `${CHALLENGE}, error="invalid_token", error_description="${code}"`;
  return new AppError(code, { headers: { 'www-authenticate': header }, cause });
}

export function createV3Guard(deps: { tokens: AppTokenService; userAccess: UserAccessGuard; routePermissions: RoutePermissionCache }) {
  const { tokens, userAccess, routePermissions } = deps;

  async function principalOf(request: FastifyRequest): Promise<V3Principal> {
    const header = request.headers.authorization;
    if (!header) throw unauthorized('V3_AUTH_MISSING_CREDENTIAL');
    const token = bearerToken(header);
    if (!token) throw unauthorized('V3_AUTH_TOKEN_INVALID');
    try {
      if (!isAppTokenShaped(token)) return { kind: 'user', user: await userAccess.check(header) };
      return { kind: 'app', app: await tokens.authenticate(token) };
    } catch (error) {
      // The challenge names the V3 code, whichever guard refused the token.
      if (error instanceof AppError && error.statusCode === 401) throw unauthorized(toV3Error(error).code, error);
      throw error;
    }
  }

  /** Route permissions apply to app callers: every active record for this route must be granted. */
  function enforceRoutePermissions(request: FastifyRequest, app: AppAuth): void {
    // HEAD is Fastify's automatic twin of GET: same records.
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    const required = routePermissions.requiredFor(method, request.routeOptions.url ?? '');
    if (required.some((code) => !app.permissions.includes(code))) throw new AppError('V3_AUTH_PERMISSION_DENIED');
  }

  const requireApp: onRequestAsyncHookHandler = async function requireApp(request) {
    const principal = await principalOf(request);
    if (principal.kind !== 'app') throw new AppError('V3_AUTH_PERMISSION_DENIED', { message: 'This route needs an app access token' });
    enforceRoutePermissions(request, principal.app);
    request.v3Principal = principal;
  };

  const requireAdmin = (permission: string): onRequestAsyncHookHandler =>
    async function requireAdmin(request) {
      const principal = await principalOf(request);
      if (principal.kind === 'user') {
        if (principal.user.role !== 'ADMIN') throw new AppError('V3_AUTH_PERMISSION_DENIED', { message: 'ADMIN role required' });
      } else {
        if (!principal.app.permissions.includes(permission)) throw new AppError('V3_AUTH_PERMISSION_DENIED', { message: `Permission ${permission} required` });
        enforceRoutePermissions(request, principal.app);
      }
      request.v3Principal = principal;
    };

  return { requireApp, requireAdmin };
}

/** The audit actor of a request's principal. */
export function actorOf(request: FastifyRequest) {
  const principal = request.v3Principal;
  const actor = !principal ? 'anonymous' : principal.kind === 'app' ? `app:${principal.app.appId}` : `user:${principal.user.userId}`;
  return { actor, ip: request.ip, requestId: request.id };
}

export function appOf(request: FastifyRequest): AppAuth {
  const principal = request.v3Principal;
  if (principal?.kind !== 'app') throw new AppError('V3_AUTH_PERMISSION_DENIED');
  return principal.app;
}
