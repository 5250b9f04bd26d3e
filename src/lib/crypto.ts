/**
 * Framework-free token and hashing helpers. Invariants: every secret we hand out comes from
 * randomToken (>= 256 bits from the OS CSPRNG); we only ever store a digest of it; comparisons
 * of secrets or digests go through constantTimeEqual.
 */
import { createHmac, hash, randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';

/** base64url of `bytes` random bytes, behind a readable prefix such as "rt_". */
export function randomToken(prefix: string, bytes = 32): string {
  return prefix + randomBytes(bytes).toString('base64url');
}

const RANDOM_POOL_BYTES = 4096;
const randomPool = Buffer.allocUnsafeSlow(RANDOM_POOL_BYTES);
let randomPoolOffset = RANDOM_POOL_BYTES;

/**
 * `size` bytes from the OS CSPRNG, served from a pool refilled by randomFillSync (as Node's own
 * randomUUID does): each byte is handed out once, as a copy. randomBytes(32) costs ~1.7 µs a
 * call, which token issuance pays per request; this costs ~0.1 µs.
 */
export function randomBytesPooled(size: number): Buffer {
  if (size > RANDOM_POOL_BYTES) return randomBytes(size);
  if (randomPoolOffset + size > RANDOM_POOL_BYTES) {
    randomFillSync(randomPool);
    randomPoolOffset = 0;
  }
  const bytes = Buffer.from(randomPool.subarray(randomPoolOffset, randomPoolOffset + size));
  randomPoolOffset += size;
  return bytes;
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
