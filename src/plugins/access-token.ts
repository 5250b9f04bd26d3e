/**
 * User access tokens: JWTs (typ at+jwt, RFC 9068) signed through @fastify/jwt with one signer and
 * one verifier built at start-up. Verification pins the algorithm, issuer, audience, typ and the
 * claims we rely on; every failure of the JWT library becomes a 401 AppError, never a 500.
 * Decorates `app.accessTokens`.
 */
import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import type { Clock } from '../lib/clock.js';
import { USER_ROLES, type UserRole } from '../db/schema.js';
import { AppError } from '../errors.js';

export interface AccessClaims {
  sub: string;
  sid: string;
  role: UserRole;
  jti: string;
  iat: number;
  exp: number;
  iss: string;
  aud: string;
}

export interface AccessTokenSigner {
  /** Signs for `lifetimeSeconds` from `nowMs`, but never past `notAfterMs` (the session's absolute end). */
  sign(subject: { userId: string; sessionId: string; role: UserRole }, nowMs: number, notAfterMs: number): string;
  /** Verified claims, or an AppError (TOKEN_EXPIRED or TOKEN_INVALID). */
  verify(token: string): AccessClaims;
}

declare module 'fastify' {
  interface FastifyInstance {
    accessTokens: AccessTokenSigner;
  }
}

const ACCESS_TOKEN_TYP = 'at+jwt';
const MAX_CLOCK_SKEW_MS = 60_000;

function toAccessClaims(payload: Record<string, unknown>): AccessClaims {
  const { sub, sid, role, jti } = payload;
  if (typeof sub !== 'string' || typeof sid !== 'string' || typeof jti !== 'string' || !USER_ROLES.includes(role as UserRole)) {
    throw new AppError('TOKEN_INVALID');
  }
  return payload as unknown as AccessClaims;
}

export default fp(
  async function accessTokenPlugin(app: FastifyInstance, options: { config: Config; clock: Clock }) {
    const { config } = options;
    await app.register(fastifyJwt, {
      secret: config.JWT_SECRET,
      sign: { algorithm: 'HS256', iss: config.JWT_ISSUER, aud: config.JWT_AUDIENCE, header: { alg: 'HS256', typ: ACCESS_TOKEN_TYP } },
      verify: {
        algorithms: ['HS256'],
        allowedIss: config.JWT_ISSUER,
        allowedAud: config.JWT_AUDIENCE,
        requiredClaims: ['sub', 'sid', 'role', 'jti', 'iat', 'exp'],
        checkTyp: ACCESS_TOKEN_TYP,
      },
    });

    const signer: AccessTokenSigner = {
      sign({ userId, sessionId, role }, nowMs, notAfterMs) {
        const iat = Math.floor(nowMs / 1000);
        const exp = Math.min(iat + config.JWT_ACCESS_TTL, Math.floor(notAfterMs / 1000));
        return app.jwt.sign({ sub: userId, sid: sessionId, role, jti: randomUUID(), iat, exp });
      },
      verify(token) {
        let payload: Record<string, unknown>;
        try {
          payload = app.jwt.verify<Record<string, unknown>>(token);
        } catch (error) {
          const code = (error as { code?: string }).code;
          throw new AppError(code === 'FAST_JWT_EXPIRED' ? 'TOKEN_EXPIRED' : 'TOKEN_INVALID', { cause: error });
        }
        // Only we sign these, so an iat from the future means a forged or mis-clocked token.
        if (typeof payload.iat === 'number' && payload.iat * 1000 > options.clock.now() + MAX_CLOCK_SKEW_MS) throw new AppError('TOKEN_INVALID');
        return toAccessClaims(payload);
      },
    };
    app.decorate('accessTokens', signer);
  },
  { name: 'access-token' },
);
