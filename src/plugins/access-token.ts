/**
 * User access tokens: JWTs (typ at+jwt, RFC 9068) signed by the active key of the signing-key
 * ring and verified by the key their kid names. Signers and verifiers are built once per key,
 * not per request. Verification pins the key's algorithm, the issuer (ISSUER), the audience, typ
 * and the claims we rely on; every failure becomes a 401 AppError, never a 500.
 *
 * fast-jwt is used directly rather than through @fastify/jwt, which holds one key per
 * registration and builds a new verifier for every call that names another key.
 *
 * The verified-token cache (JWT_VERIFY_CACHE_SIZE) is safe here because a hit needs the whole
 * token to equal the one verified, an entry lives at most one access-token lifetime, every hit
 * is followed by our own exp and iat checks against the injected clock, and the cache lives with
 * its key's verifier, which is dropped when the key retires; and because it replaces only the
 * signature check: the session is still checked on every request, so logout and revocation take
 * effect at once. Cached claims are shared between requests, so they are frozen.
 *
 * Why our own cache and not fast-jwt's: fast-jwt keys its LRU by a string we choose, and the only
 * safe choice there is the whole ~0.7 KB token (a shorter key would let a forged payload borrow a
 * cached signature), which V8 hashes and internalizes on every lookup: 3% of a /me request's CPU.
 * Here a Map is keyed by the token's last characters (part of its signature) and a hit compares
 * the whole token, a memcmp.
 * Decorates `app.accessTokens`.
 */
import { createSigner, createVerifier } from 'fast-jwt';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import { USER_ROLES, type UserRole } from '../db/schema.js';
import { AppError } from '../errors.js';
import type { Clock } from '../lib/clock.js';
import type { SigningKey } from './signing-keys.js';

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

export const ACCESS_TOKEN_TYP = 'at+jwt';
const MAX_CLOCK_SKEW_MS = 60_000;
const REQUIRED_CLAIMS = ['sub', 'sid', 'role', 'jti', 'iat', 'exp', 'iss', 'aud'];

type Sign = (payload: Record<string, unknown>) => string;
type Verify = (token: string) => Record<string, unknown>;

/** Characters of a token's end (its signature's) that key the cache: 144 bits, so only a copy collides. */
const CACHE_KEY_LENGTH = 24;

/**
 * Tokens one key verified, with their payloads, at most `size` of them. Eviction is first in,
 * first out (a Map keeps insertion order): an entry's worth ends with its token's exp anyway, and
 * a hit costs no reordering. Failures are not remembered.
 */
export function createVerifiedTokenCache(verify: Verify, size: number, lifetimeMs: number, now: () => number): Verify {
  if (size <= 0) return verify;
  const entries = new Map<string, { token: string; payload: Record<string, unknown>; until: number }>();
  return (token) => {
    const key = token.slice(-CACHE_KEY_LENGTH);
    const hit = entries.get(key);
    if (hit !== undefined && hit.token === token && now() < hit.until) return hit.payload;
    const payload = verify(token);
    if (hit !== undefined) entries.delete(key);
    else if (entries.size >= size) entries.delete(entries.keys().next().value!);
    entries.set(key, { token, payload, until: now() + lifetimeMs });
    return payload;
  };
}

function toAccessClaims(payload: Record<string, unknown>): AccessClaims {
  const { sub, sid, role, jti } = payload;
  if (typeof sub !== 'string' || typeof sid !== 'string' || typeof jti !== 'string' || !USER_ROLES.includes(role as UserRole)) {
    throw new AppError('TOKEN_INVALID');
  }
  return Object.isFrozen(payload) ? (payload as unknown as AccessClaims) : (Object.freeze(payload) as unknown as AccessClaims);
}

const KNOWN_HEADERS_LIMIT = 64;

/**
 * The kid of a compact JWS's protected header, without verifying anything; remembered per header
 * segment, since every token one key signs carries the same header, so the hot path decodes a
 * handful of distinct headers, not one per request. Forged headers are decoded each time once
 * the (small) table is full, never stored beyond it. The segment last seen is checked first, in
 * place (a prefix compare): with one signing key that is nearly every token, and it spares the
 * slice and the hashing of a ~100-character key on every request.
 */
function createKidReader(): (token: string) => string | undefined {
  const known = new Map<string, string | undefined>();
  let lastSegment = '';
  let lastKid: string | undefined;
  const decode = (segment: string): string | undefined => {
    try {
      const header = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as { kid?: unknown };
      return typeof header?.kid === 'string' ? header.kid : undefined;
    } catch {
      return undefined;
    }
  };
  return (token) => {
    if (lastSegment !== '' && token.charCodeAt(lastSegment.length) === 46 && token.startsWith(lastSegment)) return lastKid;
    const end = token.indexOf('.');
    if (end <= 0 || end > 1024) return undefined;
    const segment = token.slice(0, end);
    let kid: string | undefined;
    if (known.has(segment)) kid = known.get(segment);
    else {
      kid = decode(segment);
      if (known.size < KNOWN_HEADERS_LIMIT) known.set(segment, kid);
      else return kid; // a table full of forgeries: the last-seen slot stays with a known header
    }
    lastSegment = segment;
    lastKid = kid;
    return kid;
  };
}

export default fp(
  async function accessTokenPlugin(app: FastifyInstance, options: { config: Config; clock: Clock }) {
    const { config, clock } = options;
    const ring = app.signingKeys;
    // Keyed by the ring's key objects, so a retired key's verifier (and its cache) goes with it.
    const signers = new WeakMap<SigningKey, Sign>();
    const readKid = createKidReader();
    const verifiers = new WeakMap<SigningKey, Verify>();

    const signerFor = (key: SigningKey): Sign => {
      let sign = signers.get(key);
      if (!sign) {
        sign = createSigner({ key: key.signingKey!, algorithm: key.algorithm, kid: key.kid, header: { alg: key.algorithm, typ: ACCESS_TOKEN_TYP }, iss: config.ISSUER, aud: config.JWT_AUDIENCE }) as Sign;
        signers.set(key, sign);
      }
      return sign;
    };
    const verifierFor = (key: SigningKey): Verify => {
      let verify = verifiers.get(key);
      if (!verify) {
        verify = createVerifier({
          key: key.verificationKey,
          algorithms: [key.algorithm],
          allowedIss: config.ISSUER,
          allowedAud: config.JWT_AUDIENCE,
          requiredClaims: REQUIRED_CLAIMS,
          checkTyp: ACCESS_TOKEN_TYP,
          // exp is checked below against the injected clock, like every other expiry decision.
          ignoreExpiration: true,
        }) as Verify;
        verify = createVerifiedTokenCache(verify, config.JWT_VERIFY_CACHE_SIZE, config.JWT_ACCESS_TTL * 1000, () => clock.now());
        verifiers.set(key, verify);
      }
      return verify;
    };

    const signer: AccessTokenSigner = {
      sign({ userId, sessionId, role }, nowMs, notAfterMs) {
        const iat = Math.floor(nowMs / 1000);
        const exp = Math.min(iat + config.JWT_ACCESS_TTL, Math.floor(notAfterMs / 1000));
        return signerFor(ring.signingKeyAt(nowMs))({ sub: userId, sid: sessionId, role, jti: randomUUID(), iat, exp });
      },
      verify(token) {
        const kid = readKid(token);
        const key = kid === undefined ? undefined : ring.find(kid, clock.now());
        if (!key) throw new AppError('TOKEN_INVALID');
        let payload: Record<string, unknown>;
        try {
          payload = verifierFor(key)(token);
        } catch (error) {
          throw new AppError('TOKEN_INVALID', { cause: error });
        }
        const now = clock.now();
        if (typeof payload.exp !== 'number' || payload.exp * 1000 <= now) throw new AppError(typeof payload.exp === 'number' ? 'TOKEN_EXPIRED' : 'TOKEN_INVALID');
        // Only we sign these, so an iat from the future means a forged or mis-clocked token.
        if (typeof payload.iat !== 'number' || payload.iat * 1000 > now + MAX_CLOCK_SKEW_MS) throw new AppError('TOKEN_INVALID');
        return toAccessClaims(payload);
      },
    };
    app.decorate('accessTokens', signer);
  },
  { name: 'access-token', dependencies: ['signing-keys'] },
);
