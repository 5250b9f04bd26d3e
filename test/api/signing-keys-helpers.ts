/** What the signing-key tests share: the routes, the kid of a token, and verification by the JWKS alone. */
import type { FastifyInstance } from 'fastify';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';

export const JWKS = '/.well-known/jwks.json';
export const KEYS = '/api/admin/signing-keys';
export const auth = (token: string) => ({ authorization: `Bearer ${token}` });

export const kidOf = (token: string) => decodeProtectedHeader(token).kid as string;

export async function jwksOf(app: FastifyInstance) {
  const response = await app.inject({ method: 'GET', url: JWKS });
  return { response, keys: response.json().keys as Array<Record<string, unknown>> };
}

/** Verifies `token` as a gateway would: jose, the published JWKS, our issuer, audience and typ. */
export async function verifiesWithJose(app: FastifyInstance, token: string) {
  const { keys } = await jwksOf(app);
  const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet({ keys: keys as never }), {
    issuer: app.config.ISSUER,
    audience: app.config.JWT_AUDIENCE,
    typ: 'at+jwt',
    currentDate: new Date(app.clock.now()),
  });
  return { payload, protectedHeader };
}
