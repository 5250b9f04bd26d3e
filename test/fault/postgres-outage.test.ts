/**
 * Postgres cut off (through a proxy the test controls) under a running app: token validation,
 * refresh and app-token issuance keep working from Redis; login, registration and admin routes
 * answer 503 with Retry-After; everything recovers when Postgres is reachable again.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { testEnv } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/database.js';
import { adminEnv, me, refresh, refreshCookieOf, registerAdmin, registerUser } from '../helpers/factories.js';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { createTcpProxy } from '../helpers/tcp-proxy.js';

t.test('Postgres outage: Redis-only paths keep working, the rest answers 503, then recovers', async (t) => {
  const database = await createTestDatabase();
  const url = new URL(database.url);
  const proxy = await createTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
  url.port = String(proxy.port);
  const prefix = uniquePrefix();
  const { emails, env } = adminEnv(1);
  const app = await buildApp(loadConfig(testEnv({ ...env, DATABASE_URL: url.toString(), REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix })));
  const redis = new Redis(TEST_REDIS_URL);
  t.teardown(async () => {
    await app.close();
    await proxy.close();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    await database.drop();
  });

  const admin = await registerAdmin(app, emails[0]!);
  const user = await registerUser(app);
  const created = await app.inject({
    method: 'POST',
    url: '/api/v3/auth/apps',
    headers: { authorization: `Bearer ${admin.accessToken}` },
    payload: { app_code: `pg-${randomUUID().slice(0, 8)}`, app_name: 'Outage', organizations: ['HQ'], permissions: [] },
  });
  const { client_id, client_secret } = created.json().data;
  const appToken = (await app.inject({ method: 'POST', url: '/api/v3/auth/token', payload: { client_id, client_secret } })).json().data.access_token;

  proxy.block();
  t.equal((await me(app, user.accessToken)).statusCode, 200, 'access token validation needs no Postgres');
  const rotated = await refresh(app, user.refreshToken);
  t.equal(rotated.statusCode, 200, 'refresh needs no Postgres');
  t.equal((await app.inject({ method: 'GET', url: '/api/v3/auth/me', headers: { authorization: `Bearer ${appToken}` } })).statusCode, 200, 'app token validation');
  t.equal((await app.inject({ method: 'POST', url: '/api/v3/auth/token', payload: { client_id, client_secret } })).statusCode, 200, 'app token issuance');

  const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: user.email, password: user.password } });
  t.equal(login.statusCode, 503);
  t.equal(login.json().code, 'SERVICE_UNAVAILABLE');
  t.equal(login.headers['retry-after'], '5');
  t.strictSame(await redis.keys(`${prefix}{lf:*`), [], 'an attempt whose account could not be read is not counted against it');
  const list = await app.inject({ method: 'GET', url: '/api/v3/auth/apps', headers: { authorization: `Bearer ${admin.accessToken}` } });
  t.equal(list.statusCode, 503);
  t.equal(list.json().error.code, 'V3_AUTH_UNAVAILABLE');
  const ready = await app.inject({ method: 'GET', url: '/health/ready' });
  t.equal(ready.statusCode, 503);
  t.match(ready.json(), { checks: { database: 'down', store: 'ok' } });

  proxy.unblock();
  let status = 0;
  for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
    status = (await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: user.email, password: user.password } })).statusCode;
    if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.equal(status, 200, 'login works again without a restart');
  t.equal((await me(app, (await refresh(app, refreshCookieOf(rotated)!.value)).json().accessToken)).statusCode, 200);
});
