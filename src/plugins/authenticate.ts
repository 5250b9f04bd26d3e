/**
 * Route guards for user access tokens: `app.authenticate` (onRequest: before the body is parsed or validated) and `app.requireRole(...)`.
 * Every protected request checks the JWT and then its session (one store read), so logout,
 * revocation, a disabled account or a changed role take effect on the very next request.
 * `app.userAccess.check` is the same decision as a plain function, for callers that must explain
 * it rather than enforce it.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import type { UserRole } from '../db/schema.js';
import { AppError, type ErrorCode } from '../errors.js';
import type { Clock } from '../lib/clock.js';
import type { AccessClaims } from './access-token.js';

export interface UserAuth {
  userId: string;
  sessionId: string;
  role: UserRole;
  email: string;
  name: string | null;
  claims: AccessClaims;
}

export interface UserAccessGuard {
  /** Resolves the caller of an Authorization header value, or throws the AppError explaining why not. */
  check(authorization: string | undefined): Promise<UserAuth>;
}

declare module 'fastify' {
  interface FastifyInstance {
    userAccess: UserAccessGuard;
    authenticate: onRequestAsyncHookHandler;
    requireRole(...roles: UserRole[]): onRequestAsyncHookHandler;
  }
  interface FastifyRequest {
    auth: UserAuth | null;
  }
}

const REALM = 'Bearer realm="portcullis"';

/** RFC 6750 section 3: no error attribute when no credentials were sent. */
function challenge(code: ErrorCode): Record<string, string> {
  if (code === 'TOKEN_MISSING') return { 'www-authenticate': REALM };
  return { 'www-authenticate': `${REALM}, error="invalid_token", error_description="${code}"` };
}

function unauthorized(code: ErrorCode, cause?: unknown): AppError {
  return new AppError(code, { headers: challenge(code), cause });
}

export function bearerToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization);
  return match?.[1];
}

export default fp(
  async function authenticatePlugin(app: FastifyInstance, options: { clock: Clock }) {
    const { clock } = options;
    const userAccess: UserAccessGuard = {
      async check(authorization) {
        if (!authorization) throw unauthorized('TOKEN_MISSING');
        const token = bearerToken(authorization);
        if (!token) throw unauthorized('TOKEN_INVALID');
        let claims: AccessClaims;
        try {
          claims = app.accessTokens.verify(token);
        } catch (error) {
          throw unauthorized((error as AppError).code ?? 'TOKEN_INVALID', error);
        }
        const state = await app.sessions.getAccessState(claims.sub, claims.sid);
        if (!state || clock.now() >= state.expiresAt) throw unauthorized('SESSION_EXPIRED');
        if (state.status === 'disabled') throw new AppError('ACCOUNT_DISABLED');
        if (state.status === 'revoked') throw unauthorized('SESSION_REVOKED');
        if (state.role !== claims.role) throw unauthorized('TOKEN_STALE');
        return { userId: claims.sub, sessionId: claims.sid, role: state.role, email: state.email, name: state.name, claims };
      },
    };

    app.decorateRequest('auth', null);
    app.decorate('userAccess', userAccess);
    app.decorate('authenticate', async function authenticate(request: FastifyRequest, _reply: FastifyReply) {
      request.auth = await userAccess.check(request.headers.authorization);
    });
    app.decorate('requireRole', (...roles: UserRole[]) =>
      async function requireRole(request: FastifyRequest, _reply: FastifyReply) {
        if (!request.auth) throw unauthorized('TOKEN_MISSING');
        if (!roles.includes(request.auth.role)) throw new AppError('ROLE_REQUIRED');
      },
    );
  },
  { name: 'authenticate', dependencies: ['access-token', 'sessions'] },
);
