/**
 * The user access token decision: `app.userAccess.evaluate` walks every step (token present,
 * valid, session alive, account enabled, role current) and records each; `check` is the same
 * walk, throwing the refusal. Every protected request runs it (one session-store read), so logout,
 * revocation, a disabled account or a changed role take effect on the very next request, and
 * support's "explain" shows the very same steps. Route requirements live in ./access.ts.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { UserRole } from '../db/schema.js';
import { AppError, type ErrorCode, type ErrorSubject } from '../errors.js';
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

/** One step of an access decision, as support sees it in "explain". */
export interface AccessCheck {
  check: string;
  passed: boolean;
  /** The error code when this step refused. */
  code?: ErrorCode;
  detail?: string;
}

export interface Evaluation<T> {
  checks: AccessCheck[];
  /** The principal when every step passed. */
  principal?: T;
  /** Why not, otherwise: the exact error the real route throws. */
  error?: AppError;
}

export interface UserAccessGuard {
  /** Every step of checking an Authorization header, without throwing. */
  evaluate(authorization: string | undefined): Promise<Evaluation<UserAuth>>;
  /**
   * The same steps for a bearer token already taken out of its header (the route hook has).
   * `recordPassed` false keeps only a refusal's step: for callers that read the outcome alone.
   */
  evaluateToken(token: string, recordPassed?: boolean): Promise<Evaluation<UserAuth>>;
  /** Resolves the caller of an Authorization header value, or throws the AppError explaining why not. */
  check(authorization: string | undefined): Promise<UserAuth>;
}

declare module 'fastify' {
  interface FastifyInstance {
    userAccess: UserAccessGuard;
  }
  interface FastifyRequest {
    auth: UserAuth | null;
  }
}

const REALM = 'Bearer realm="portcullis"';

/** RFC 6750 section 3: no error attribute when no credentials were sent. */
function challenge(code: ErrorCode): Record<string, string> {
  if (code === 'TOKEN_MISSING' || code === 'V3_AUTH_MISSING_CREDENTIAL') return { 'www-authenticate': REALM };
  return { 'www-authenticate': `${REALM}, error="invalid_token", error_description="${code}"` };
}

export function unauthorized(code: ErrorCode, cause?: unknown, subject?: ErrorSubject): AppError {
  return new AppError(code, { headers: challenge(code), cause, ...(subject ? { subject } : {}) });
}

const BEARER_SCHEME = /^bearer +/i;
/** RFC 6750 b64token (trailing spaces allowed), tested on the token alone: no capture to copy. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=* *$/;

export function bearerToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const scheme = BEARER_SCHEME.exec(authorization);
  if (!scheme) return undefined;
  const rest = authorization.slice(scheme[0].length);
  if (!B64TOKEN.test(rest)) return undefined;
  return rest.charCodeAt(rest.length - 1) === 32 ? rest.trimEnd() : rest;
}

/**
 * Records each step of a decision; `refuse` stops it with the error the real route would throw.
 * A class, not an object of closures: every authenticated request builds one. The route hook's
 * trail records no passed steps (`recordPassed` false): it reads only the outcome, and the five
 * step objects and their array were allocated on every request for nobody. The steps run the
 * same either way, so support's explain still shows what the route does.
 */
export class Trail<T> {
  readonly checks: AccessCheck[] = [];

  constructor(private readonly recordPassed = true) {}

  pass(check: string, detail?: string): void {
    if (this.recordPassed) this.checks.push(detail ? { check, passed: true, detail } : { check, passed: true });
  }

  refuse(check: string, error: AppError): Evaluation<T> {
    this.checks.push({ check, passed: false, code: error.code, detail: error.message });
    return { checks: this.checks, error };
  }

  allow(principal: T): Evaluation<T> {
    return { checks: this.checks, principal };
  }
}

export const createTrail = <T>(recordPassed = true) => new Trail<T>(recordPassed);

export default fp(
  async function authenticatePlugin(app: FastifyInstance, options: { clock: Clock }) {
    const { clock } = options;
    const evaluate = async (authorization: string | undefined): Promise<Evaluation<UserAuth>> => {
      if (!authorization) return createTrail<UserAuth>().refuse('token present', unauthorized('TOKEN_MISSING'));
      const token = bearerToken(authorization);
      if (!token) return createTrail<UserAuth>().refuse('token present', unauthorized('TOKEN_INVALID'));
      return evaluateToken(token);
    };
    const evaluateToken = async (token: string, recordPassed = true): Promise<Evaluation<UserAuth>> => {
      const trail = createTrail<UserAuth>(recordPassed);
      trail.pass('token present');
      let claims: AccessClaims;
      try {
        claims = app.accessTokens.verify(token);
      } catch (error) {
        return trail.refuse('token valid (signature, algorithm, issuer, audience, expiry)', unauthorized((error as AppError).code ?? 'TOKEN_INVALID', error));
      }
      trail.pass('token valid (signature, algorithm, issuer, audience, expiry)', recordPassed ? `user ${claims.sub}, session ${claims.sid}` : undefined);
      const subject = { userId: claims.sub, sessionId: claims.sid };
      const state = await app.sessions.getAccessState(claims.sub, claims.sid);
      if (!state || clock.now() >= state.expiresAt) return trail.refuse('session alive', unauthorized('SESSION_EXPIRED', undefined, subject));
      if (state.status === 'revoked') return trail.refuse('session alive', unauthorized('SESSION_REVOKED', undefined, subject));
      if (state.status === 'disabled') return trail.refuse('account enabled', new AppError('ACCOUNT_DISABLED', { subject }));
      trail.pass('session alive');
      trail.pass('account enabled');
      if (state.role !== claims.role) return trail.refuse('token role current', unauthorized('TOKEN_STALE', undefined, subject));
      trail.pass('token role current', state.role);
      return trail.allow({ userId: claims.sub, sessionId: claims.sid, role: state.role, email: state.email, name: state.name, claims });
    };
    const userAccess: UserAccessGuard = {
      evaluate,
      evaluateToken,
      async check(authorization) {
        const result = await evaluate(authorization);
        if (result.error) throw result.error;
        return result.principal!;
      },
    };

    app.decorateRequest('auth', null);
    app.decorate('userAccess', userAccess);
  },
  { name: 'authenticate', dependencies: ['access-token', 'sessions'] },
);
