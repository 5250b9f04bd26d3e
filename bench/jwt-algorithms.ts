/**
 * Sign and verify cost of each access-token algorithm through fast-jwt (the library that signs and
 * verifies our tokens), with the claims we really issue. Picks JWT_ALGORITHM's default; the
 * numbers are in README ("Signing algorithm"). Run: npm run bench:jwt
 */
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createSigner, createVerifier } from 'fast-jwt';

type Algorithm = 'EdDSA' | 'ES256' | 'RS256' | 'HS256';

function keysFor(algorithm: Algorithm): { privateKey: string; publicKey: string } {
  const pem = { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } } as const;
  if (algorithm === 'EdDSA') return generateKeyPairSync('ed25519', pem) as unknown as { privateKey: string; publicKey: string };
  if (algorithm === 'ES256') return generateKeyPairSync('ec', { namedCurve: 'P-256', ...pem }) as unknown as { privateKey: string; publicKey: string };
  if (algorithm === 'RS256') return generateKeyPairSync('rsa', { modulusLength: 2048, ...pem }) as unknown as { privateKey: string; publicKey: string };
  const secret = randomBytes(32).toString('base64url');
  return { privateKey: secret, publicKey: secret };
}

function opsPerSecond(work: () => void, durationMs: number): number {
  for (let i = 0; i < 200; i++) work();
  let count = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(durationMs) * 1_000_000n;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 50; i++) work();
    count += 50;
    now = process.hrtime.bigint();
  }
  return count / (Number(now - start) / 1e9);
}

const durationMs = Number(process.env.BENCH_JWT_MS ?? 2000);
const rows: Array<{ algorithm: Algorithm; signPerSec: number; verifyPerSec: number; tokenBytes: number }> = [];
for (const algorithm of ['EdDSA', 'ES256', 'RS256', 'HS256'] as const) {
  const { privateKey, publicKey } = keysFor(algorithm);
  const sign = createSigner({ key: privateKey, algorithm, kid: 'bench', iss: 'https://auth.example.com', aud: 'portcullis', expiresIn: 900_000 });
  const verify = createVerifier({ key: publicKey, algorithms: [algorithm], cache: false });
  const claims = () => ({ sub: randomUUID(), sid: randomUUID(), role: 'CONSUMER', jti: randomUUID() });
  const token = sign(claims());
  const signPerSec = opsPerSecond(() => sign(claims()), durationMs);
  const verifyPerSec = opsPerSecond(() => verify(token), durationMs);
  rows.push({ algorithm, signPerSec, verifyPerSec, tokenBytes: token.length });
}

console.log('| algorithm | sign/s | sign µs | verify/s | verify µs | token bytes |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const row of rows) {
  const us = (perSec: number) => (1e6 / perSec).toFixed(1);
  console.log(`| ${row.algorithm} | ${Math.round(row.signPerSec)} | ${us(row.signPerSec)} | ${Math.round(row.verifyPerSec)} | ${us(row.verifyPerSec)} | ${row.tokenBytes} |`);
}
