/**
 * Framework-free token and hashing helpers. Invariants: every secret we hand out comes from
 * randomToken (>= 256 bits from the OS CSPRNG); we only ever store a digest of it; comparisons
 * of secrets or digests go through constantTimeEqual.
 */
import { createHmac, hash, randomBytes, timingSafeEqual } from 'node:crypto';

/** base64url of `bytes` random bytes, behind a readable prefix such as "rt_". */
export function randomToken(prefix: string, bytes = 32): string {
  return prefix + randomBytes(bytes).toString('base64url');
}

// crypto.hash, the one-shot form (Node >= 20.12): no Hash object per call on the token hot paths.
export function sha256(value: string | Buffer): Buffer {
  return hash('sha256', value, 'buffer');
}

export function sha256Base64url(value: string | Buffer): string {
  return hash('sha256', value, 'base64url');
}

export function hmacSha256(key: string | Buffer, value: string | Buffer): Buffer {
  return createHmac('sha256', key).update(value).digest();
}

/** Constant-time equality that also tolerates different lengths (which it does not leak beyond length). */
export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}
