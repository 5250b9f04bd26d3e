/**
 * The bench-only Fastify instance that the service's routes are compared with. It is built with
 * the service's own Fastify options (fastifyOptions(config) from src/app.ts), the same config
 * (same env: LOG_LEVEL, BODY_LIMIT_BYTES, ARGON2_*, JWT_ALGORITHM) and the same Redis client
 * settings (openKeyValueBackend), and does the least each comparison needs:
 *
 *   GET  /baseline/json      a constant JSON object shaped like /me
 *   GET  /baseline/get       one Redis GET of a key named by the bearer token's tail
 *   POST /baseline/set       one Redis SET with a TTL (value shaped like an app token record)
 *   POST /baseline/refresh   one Redis round trip (SET) and one access-token sign
 *   POST /baseline/argon2    one argon2id verify with the configured parameters, on the service's
 *                            own hashing pool (src/lib/password-hasher.ts: ARGON2_THREADS worker
 *                            threads at ARGON2_NICE), so logins are compared with the same hashing
 *                            and the ratio shows what a login adds to it
 *   GET  /baseline/sign      one access-token sign (JWT_ALGORITHM, our claims and header)
 *   GET  /floor/me           what GET /api/auth/me cannot do without, and nothing else: a hit
 *                            of the service's own verified-token cache, the expiry check, the session's one HMGET
 *                            (the service's own key and fields), its status, expiry and role
 *                            checks, the API security headers and request id, and the user as
 *                            JSON through /me's own response schema. No hooks, no rate limit, no
 *                            metrics, no decision trail. A token is trusted on first sight (its
 *                            payload decoded, not verified): the bench primes every token before
 *                            measuring, so only hits are timed, as on the service. Its ratio to
 *                            the GET baseline is the most /me could reach with these libraries.
 *   GET  /floor/check        the same for GET /api/auth/check with an app token: the token's
 *                            shape and SHA-256 (the service's codec), one MGET of its record and
 *                            its app's snapshot (the service's keys), the record decoded, the
 *                            snapshot parsed once per version (the store's own decoder), the expiry, status and organization
 *                            checks, the gateway header set and the four X-Auth-* headers, and the
 *                            check's response schema.
 *
 * Run by bench/run.ts as a child process: node --import tsx bench/baseline-server.ts
 */
import { type Algorithm, hash } from '@node-rs/argon2';
import { createSigner } from 'fast-jwt';
import Fastify, { type FastifyReply } from 'fastify';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { fastifyOptions } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createPasswordHasher } from '../src/lib/password-hasher.js';
import { createVerifiedTokenCache } from '../src/plugins/access-token.js';
import { apiHeaders } from '../src/plugins/security.js';
import { CheckResponseSchema } from '../src/modules/gateway/routes.js';
import { PublicUserSchema } from '../src/modules/user-auth/schemas.js';
import { createAppCredentialCodec } from '../src/lib/app-credentials.js';
import { decodeTokenRecord } from '../src/redis/app-token-scripts.js';
import { createSnapshotDecoder } from '../src/redis/redis-app-token-store.js';
import { openKeyValueBackend } from '../src/redis/client.js';
import { createKeys } from '../src/redis/keys.js';
import { ACCESS_FIELDS } from '../src/redis/session-scripts.js';
import { BENCH_PASSWORD, GET_KEY_INFIX, GET_KEY_TAIL } from './settings.js';

const ARGON2ID = 2 as Algorithm;

function signingKey(algorithm: string): string {
  const pem = { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } } as const;
  if (algorithm === 'RS256') return generateKeyPairSync('rsa', { modulusLength: 2048, ...pem }).privateKey as unknown as string;
  if (algorithm === 'ES256') return generateKeyPairSync('ec', { namedCurve: 'P-256', ...pem }).privateKey as unknown as string;
  if (algorithm === 'EdDSA') return generateKeyPairSync('ed25519', pem).privateKey as unknown as string;
  return randomBytes(32).toString('base64url');
}

async function main() {
  const config = loadConfig();
  const backend = await openKeyValueBackend({ redisUrl: config.REDIS_URL });
  if (backend.kind !== 'redis') throw new Error('the baseline server needs REDIS_URL');
  const redis = backend.client;
  const prefix = config.REDIS_KEY_PREFIX;
  const password = BENCH_PASSWORD;
  const argon2Options = { algorithm: ARGON2ID, memoryCost: config.ARGON2_MEMORY_KIB, timeCost: config.ARGON2_TIME_COST, parallelism: config.ARGON2_PARALLELISM };
  const passwordHash = await hash(password, argon2Options);
  const hasher = createPasswordHasher(
    { memoryCost: config.ARGON2_MEMORY_KIB, timeCost: config.ARGON2_TIME_COST, parallelism: config.ARGON2_PARALLELISM },
    { threads: config.ARGON2_THREADS, niceIncrement: config.ARGON2_NICE },
  );
  // The same signer options as src/plugins/access-token.ts.
  const sign = createSigner({
    key: signingKey(config.JWT_ALGORITHM),
    algorithm: config.JWT_ALGORITHM,
    kid: 'baseline',
    header: { alg: config.JWT_ALGORITHM, typ: 'at+jwt' },
    iss: config.ISSUER,
    aud: config.JWT_AUDIENCE,
  }) as (payload: Record<string, unknown>) => string;
  const signAccessToken = () => {
    const iat = Math.floor(Date.now() / 1000);
    return sign({ sub: randomUUID(), sid: randomUUID(), role: 'CONSUMER', jti: randomUUID(), iat, exp: iat + config.JWT_ACCESS_TTL });
  };
  let counter = 0;
  const recordValue = JSON.stringify({ tid: randomUUID(), org: randomUUID(), oc: 'HQ', sv: 1, ia: Date.now(), ea: Date.now() + 3_600_000 });

  const app = Fastify(fastifyOptions(config));
  app.get('/baseline/ready', async () => ({ ok: true }));
  app.get('/baseline/json', async () => ({ id: '6f1f7f4e-3c1b-4c55-9a57-0c0b4c1f2d3e', email: 'user@bench.example', name: 'Bench User', role: 'CONSUMER' }));
  app.get('/baseline/get', async (request, reply) => {
    const tail = (request.headers.authorization ?? '').slice(-GET_KEY_TAIL);
    const value = await redis.get(`${prefix}${GET_KEY_INFIX}${tail}`);
    if (value === null) return reply.code(404).send({ error: 'no such key' });
    return reply.type('application/json').send(value);
  });
  app.post('/baseline/set', async () => {
    await redis.set(`${prefix}bl:set:${process.pid}:${++counter}`, recordValue, 'EX', 60);
    return { ok: true };
  });
  app.post('/baseline/refresh', async () => {
    await redis.set(`${prefix}bl:rt:${process.pid}:${++counter}`, recordValue, 'EX', 60);
    return { accessToken: signAccessToken() };
  });
  app.post('/baseline/argon2', async (request, reply) => {
    const body = request.body as { password?: unknown } | undefined;
    const ok = typeof body?.password === 'string' && (await hasher.verify(passwordHash, body.password).catch(() => ({ ok: false }))).ok;
    return ok ? { ok: true } : reply.code(401).send({ ok: false });
  });
  app.get('/baseline/sign', async () => ({ accessToken: signAccessToken() }));

  const keys = createKeys(prefix);
  const headers = apiHeaders();
  // The service's own verified-token cache, in front of a decode that trusts the payload (see the top).
  const decodePayload = (token: string) => JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  const verified = createVerifiedTokenCache(decodePayload, config.JWT_VERIFY_CACHE_SIZE, config.JWT_ACCESS_TTL * 1000, Date.now);
  const refuse = (reply: FastifyReply, why: string) => reply.code(401).send({ code: why });
  app.get('/floor/me', { schema: { response: { 200: PublicUserSchema } } }, async (request, reply) => {
    const authorization = request.headers.authorization;
    if (!authorization?.startsWith('Bearer ')) return refuse(reply, 'TOKEN_MISSING');
    const claims = verified(authorization.slice(7)) as { sub: string; sid: string; role: string; exp: number };
    const now = Date.now();
    if (claims.exp * 1000 <= now) return refuse(reply, 'TOKEN_EXPIRED');
    const [st, role, ea, , em, nm] = await redis.hmget(keys.session(claims.sub, claims.sid), ...ACCESS_FIELDS);
    if (st !== 'active' || Number(ea) <= now) return refuse(reply, 'SESSION_EXPIRED');
    if (role !== claims.role) return refuse(reply, 'TOKEN_STALE');
    reply.headers(headers).header('x-request-id', request.id);
    return { id: claims.sub, email: em ?? '', name: nm, role: role as 'CONSUMER' };
  });

  const codec = createAppCredentialCodec(Buffer.from(config.APP_SECRET_PEPPER));
  const snapshotOf = createSnapshotDecoder();
  app.get('/floor/check', { schema: { response: { 200: CheckResponseSchema } } }, async (request, reply) => {
    const authorization = request.headers.authorization;
    if (!authorization?.startsWith('Bearer ')) return refuse(reply, 'V3_AUTH_MISSING_CREDENTIAL');
    const parsed = codec.parseTokenShape(authorization.slice(7));
    if (!parsed) return refuse(reply, 'V3_AUTH_TOKEN_INVALID');
    const [rawRecord, json] = await redis.mget(keys.appToken(parsed.appId, parsed.hash), keys.appSnapshot(parsed.appId));
    if (rawRecord === null || json === null) return refuse(reply, 'V3_AUTH_TOKEN_REVOKED');
    const record = decodeTokenRecord(parsed.appId, rawRecord);
    const snapshot = snapshotOf(parsed.appId, json);
    if (Date.now() >= record.expiresAt) return refuse(reply, 'V3_AUTH_TOKEN_EXPIRED');
    if (snapshot.status !== 'ACTIVE') return refuse(reply, 'V3_AUTH_APP_SUSPENDED');
    if (!snapshot.organizations.some((org) => org.id === record.organizationId)) return refuse(reply, 'V3_AUTH_ORG_DENIED');
    reply
      .header('cache-control', headers['cache-control']!)
      .header('x-request-id', request.id)
      .header('x-auth-subject', snapshot.id)
      .header('x-auth-app', snapshot.code)
      .header('x-auth-org', record.organizationCode)
      .header('x-auth-permissions', snapshot.permissions.join(','));
    return { allowed: true as const, subject: snapshot.id };
  });

  await app.listen({ host: config.HOST, port: config.PORT });
  const shutdown = async () => {
    await app.close();
    await hasher.close();
    await redis.quit().catch(() => redis.disconnect());
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
}

main().catch((error: unknown) => {
  process.stderr.write(`baseline server: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
