/**
 * Hand-made JWS tokens for the tests of the access-token guard: one signer over node:crypto that
 * signs any header and payload with any key under any algorithm (or none), so an adversarial case
 * can change exactly one thing, and `signLikeTheService`, which signs with the app's current
 * signing key exactly as src/plugins/access-token.ts does. Suites show once ("control") that
 * `signLikeTheService` is accepted, so each refusal is the doing of the one defect a case adds.
 *
 * Nothing here goes through fast-jwt: its signer refuses the malformed combinations (HMAC keyed
 * with a public-key PEM, alg none with a key) that the attacks need.
 */
import { constants, createHmac, createPrivateKey, generateKeyPairSync, type KeyObject, randomUUID, sign as cryptoSign } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

export type Json = Record<string, unknown>;

/** typ of user access tokens (RFC 9068). */
export const ACCESS_TOKEN_TYP = 'at+jwt';

/** base64url of a string as is, or of anything else as JSON. */
export const b64url = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

const decodeSegment = (token: string, index: number): Json => JSON.parse(Buffer.from(token.split('.')[index] ?? '', 'base64url').toString('utf8')) as Json;
/** The payload of a compact JWS, unverified. */
export const claimsOf = (token: string): Json => decodeSegment(token, 1);
/** The protected header of a compact JWS, unverified. */
export const headerOf = (token: string): Json => decodeSegment(token, 0);

/** A key to sign with: a secret (HMAC), a PEM or a KeyObject (private key for RS/PS/ES/EdDSA). */
export type SigningMaterial = string | Buffer | KeyObject;

const HASH: Record<string, string> = { 256: 'sha256', 384: 'sha384', 512: 'sha512' };

/**
 * The raw signature of `input` under JWA algorithm `alg` (RFC 7518; Ed25519 as in RFC 9864),
 * empty for none. ECDSA signatures are r || s as JWS requires, unless `dsaEncoding` says der.
 */
export function signatureOf(alg: string, input: string, key: SigningMaterial, options: { dsaEncoding?: 'der' | 'ieee-p1363' } = {}): Buffer {
  const family = alg.slice(0, 2);
  const hash = HASH[alg.slice(2)];
  if (alg.toLowerCase() === 'none') return Buffer.alloc(0);
  if (family === 'HS' && hash) return createHmac(hash, key as string | Buffer | KeyObject).update(input).digest();
  const privateKey = typeof key === 'string' || Buffer.isBuffer(key) ? createPrivateKey(key) : key;
  if (alg === 'EdDSA' || alg === 'Ed25519') return cryptoSign(null, Buffer.from(input), privateKey);
  if (family === 'RS' && hash) return cryptoSign(hash, Buffer.from(input), privateKey);
  if (family === 'PS' && hash) return cryptoSign(hash, Buffer.from(input), { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.slice(2)) / 8 });
  if (family === 'ES' && hash) return cryptoSign(hash, Buffer.from(input), { key: privateKey, dsaEncoding: options.dsaEncoding ?? 'ieee-p1363' });
  throw new Error(`signatureOf: unsupported algorithm ${alg}`);
}

/**
 * A compact JWS of `header` and `payload` (objects are JSON-encoded, strings used as they are),
 * signed under `alg` (default: header.alg) with `key`. Nothing is checked: the header may lie.
 */
export function signJws(header: Json | string, payload: Json | string, key: SigningMaterial, alg = typeof header === 'string' ? 'HS256' : String(header.alg)): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${signatureOf(alg, input, key).toString('base64url')}`;
}

/** header.payload. with an empty signature. */
export const unsignedJws = (header: Json, payload: Json): string => `${b64url(header)}.${b64url(payload)}.`;

/** What the service signs with: the ring's key (kid, algorithm, PEM or HS256 secret). */
export interface ServiceSigningKey {
  kid: string;
  algorithm: string;
  signingKey: string;
  /** The public PEM (or HS256 secret) the service verifies with. */
  verificationKey: string;
}

/** The key the app signs new tokens with now (by its own clock). */
export function currentSigningKey(app: FastifyInstance): ServiceSigningKey {
  const key = app.signingKeys.signingKeyAt(app.clock.now());
  if (!key.signingKey) throw new Error(`signing key ${key.kid} has no private part`);
  return { kid: key.kid, algorithm: key.algorithm, signingKey: key.signingKey, verificationKey: key.verificationKey };
}

/** The service's header for `key`; entries of `patch` set to undefined are removed. */
export function serviceHeader(key: Pick<ServiceSigningKey, 'kid' | 'algorithm'>, patch: Json = {}): Json {
  const header: Json = { alg: key.algorithm, typ: ACCESS_TOKEN_TYP, kid: key.kid, ...patch };
  return Object.fromEntries(Object.entries(header).filter(([, value]) => value !== undefined));
}

/**
 * The claims the service would sign for this subject now (iat, exp = iat + JWT_ACCESS_TTL, a new
 * jti, iss, aud), with `patch` on top; entries of `patch` set to undefined are removed.
 */
export function serviceClaims(app: FastifyInstance, subject: { sub: string; sid: string; role: string }, patch: Json = {}): Json {
  const iat = Math.floor(app.clock.now() / 1000);
  const claims: Json = { ...subject, jti: randomUUID(), iat, exp: iat + app.config.JWT_ACCESS_TTL, iss: app.config.ISSUER, aud: app.config.JWT_AUDIENCE, ...patch };
  return Object.fromEntries(Object.entries(claims).filter(([, value]) => value !== undefined));
}

/**
 * Signs `claims` exactly like the service: the current signing key (or `key`), its algorithm,
 * typ at+jwt and its kid. `header` patches the header (undefined removes an entry); the
 * signature is still made with `key` under its own algorithm, whatever the header says.
 */
export function signLikeTheService(app: FastifyInstance, claims: Json, header: Json = {}, key: ServiceSigningKey = currentSigningKey(app)): string {
  return signJws(serviceHeader(key, header), claims, key.signingKey, key.algorithm);
}

export interface AttackerKey {
  algorithm: string;
  privateKey: KeyObject;
  publicPem: string;
  /** The public JWK, with alg and use (what an attacker would embed in a jwk header). */
  publicJwk: Json;
}

/** A fresh key pair of the attacker's for `algorithm` (RS256, PS256, ES256, ES384, EdDSA). */
export function attackerKey(algorithm = 'RS256'): AttackerKey {
  const pair =
    algorithm.startsWith('RS') || algorithm.startsWith('PS')
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : algorithm === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('ec', { namedCurve: { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' }[algorithm] ?? 'P-256' });
  return {
    algorithm,
    privateKey: pair.privateKey,
    publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    publicJwk: { ...(pair.publicKey.export({ format: 'jwk' }) as Json), alg: algorithm, use: 'sig' },
  };
}

/**
 * Why the app's verifier refuses `token`: 'expired' for a token past its exp (whoever checks it),
 * else the fast-jwt error code of the check that failed (FAST_JWT_INVALID_SIGNATURE,
 * FAST_JWT_INVALID_ALGORITHM, ...), 'service' when the service refused it around fast-jwt (no
 * readable kid of a published key, or a claim it checks itself), or 'accepted'. Lets a case
 * assert that it fails for its own defect and not for another.
 */
export function refusalReason(app: FastifyInstance, token: string): string {
  try {
    app.accessTokens.verify(token);
    return 'accepted';
  } catch (error) {
    const { code, cause } = error as { code?: string; cause?: { code?: string } };
    if (code === 'TOKEN_EXPIRED' || cause?.code === 'FAST_JWT_EXPIRED') return 'expired';
    return cause?.code ?? 'service';
  }
}
