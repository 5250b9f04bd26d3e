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
 *   /floor/...               the floor routes (one of them reads the bench's users from Postgres): what one service route cannot do without, and
 *                            nothing else (bench/floor-routes.ts)
 *
 * Run by bench/run.ts as a child process: node --import tsx bench/baseline-server.ts
 */
import { type Algorithm, hash } from '@node-rs/argon2';
import { createSigner } from 'fast-jwt';
import Fastify from 'fastify';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { fastifyOptions } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/client.js';
import { createUserRepository } from '../src/modules/user-auth/user-repository.js';
import { createPasswordHasher } from '../src/lib/password-hasher.js';
import { openKeyValueBackend } from '../src/redis/client.js';
import { registerFloorRoutes } from './floor-routes.js';
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
  const verifyHash = async (stored: string, presented: string) => (await hasher.verify(stored, presented).catch(() => ({ ok: false }))).ok;
  const verifyPassword = (presented: string) => verifyHash(passwordHash, presented);
  app.post('/baseline/argon2', async (request, reply) => {
    const body = request.body as { password?: unknown } | undefined;
    const ok = typeof body?.password === 'string' && (await verifyPassword(body.password));
    return ok ? { ok: true } : reply.code(401).send({ ok: false });
  });
  app.get('/baseline/sign', async () => ({ accessToken: signAccessToken() }));

  // Only /floor/login-stores queries it (postgres.js connects on the first query).
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, pgliteDataDir: config.PGLITE_DATA_DIR });
  await registerFloorRoutes(app, { config, redis, verifyPassword, verifyHash, signAccessToken, users: createUserRepository(database.db) });

  await app.listen({ host: config.HOST, port: config.PORT });
  const shutdown = async () => {
    await app.close();
    await hasher.close();
    await database.close();
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
