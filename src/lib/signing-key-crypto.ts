/**
 * Signing-key material: generation, the RFC 7638 thumbprint used as kid, and sealing of private
 * keys at rest. Threat model: someone who reads the signing_keys table (a backup, a replica, SQL
 * injection elsewhere) must not be able to sign tokens. Private keys are sealed with AES-256-GCM
 * under a key derived (HKDF-SHA256) from SIGNING_KEY_ENCRYPTION_KEY, and the kid is the GCM
 * additional data, so a sealed key copied onto another row does not open.
 */
import { createCipheriv, createDecipheriv, createHash, createPrivateKey, generateKeyPair, hkdfSync, type KeyObject, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

export const ASYMMETRIC_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

export interface GeneratedSigningKey {
  kid: string;
  algorithm: AsymmetricAlgorithm;
  /** Public JWK with kid, alg and use, as published in the JWKS. */
  publicJwk: Record<string, unknown>;
  privateKeyPem: string;
}

const generate = promisify(generateKeyPair);

/** The members RFC 7638 hashes for each key type, in lexicographic order. */
const THUMBPRINT_MEMBERS: Record<string, string[]> = { RSA: ['e', 'kty', 'n'], EC: ['crv', 'kty', 'x', 'y'], OKP: ['crv', 'kty', 'x'] };

export function jwkThumbprint(jwk: Record<string, unknown>): string {
  const members = THUMBPRINT_MEMBERS[String(jwk.kty)];
  if (!members) throw new Error(`no thumbprint for kty ${String(jwk.kty)}`);
  const canonical = JSON.stringify(Object.fromEntries(members.map((name) => [name, jwk[name]])));
  return createHash('sha256').update(canonical).digest('base64url');
}

function keyPairFor(algorithm: AsymmetricAlgorithm): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  // Off the event loop: an RSA-2048 key takes tens of milliseconds to find.
  if (algorithm === 'RS256') return generate('rsa', { modulusLength: 2048 });
  if (algorithm === 'ES256') return generate('ec', { namedCurve: 'P-256' });
  return generate('ed25519', undefined);
}

export async function generateSigningKey(algorithm: AsymmetricAlgorithm): Promise<GeneratedSigningKey> {
  const { publicKey, privateKey } = await keyPairFor(algorithm);
  const jwk = publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  const kid = jwkThumbprint(jwk);
  return {
    kid,
    algorithm,
    publicJwk: { ...jwk, kid, alg: algorithm, use: 'sig' },
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

const SEAL_VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SigningKeyUnsealError extends Error {
  constructor(readonly kid: string) {
    super(`signing key ${kid} does not open with SIGNING_KEY_ENCRYPTION_KEY (was the key changed?)`);
    this.name = 'SigningKeyUnsealError';
  }
}

function sealingKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, '', 'portcullis/signing-key/v1', 32));
}

export function sealPrivateKey(privateKeyPem: string, kid: string, secret: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(secret), iv).setAAD(Buffer.from(kid));
  const sealed = Buffer.concat([cipher.update(privateKeyPem, 'utf8'), cipher.final()]);
  return `${SEAL_VERSION}.${Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url')}`;
}

/** The private key of a sealed row, or SigningKeyUnsealError (wrong secret, wrong row, tampering). */
export function openPrivateKey(sealed: string, kid: string, secret: string): KeyObject {
  const [version, body] = sealed.split('.');
  const bytes = Buffer.from(body ?? '', 'base64url');
  if (version !== SEAL_VERSION || bytes.length <= IV_BYTES + TAG_BYTES) throw new SigningKeyUnsealError(kid);
  try {
    const decipher = createDecipheriv('aes-256-gcm', sealingKey(secret), bytes.subarray(0, IV_BYTES))
      .setAAD(Buffer.from(kid))
      .setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    const pem = Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
    return createPrivateKey(pem);
  } catch (error) {
    throw Object.assign(new SigningKeyUnsealError(kid), { cause: error });
  }
}
