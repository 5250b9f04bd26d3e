/**
 * Signing keys across instances and settings: several instances on one database, concurrent
 * start-up, algorithm changes, ES256, HS256 and a wrong encryption key.
 */
import { decodeProtectedHeader } from 'jose';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createManualClock } from '../../src/lib/clock.js';
import { SigningKeyUnsealError } from '../../src/lib/signing-key-crypto.js';
import { buildTestApp, testEnv } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/database.js';
import { adminEnv, login, me, registerAdmin, registerUser } from '../helpers/factories.js';
import { auth, jwksOf, KEYS, kidOf, verifiesWithJose } from './signing-keys-helpers.js';
import { withSql } from './v3-helpers.js';

t.test('instances sharing a database agree on the keys: a rotation on one reaches the other by reload', async (t) => {
  const clockA = createManualClock();
  const clockB = createManualClock(clockA.now());
  const { emails, env } = adminEnv();
  const first = await buildTestApp(t, { clock: clockA, env });
  const shared = { ...env, DATABASE_URL: first.databaseUrl!, REDIS_KEY_PREFIX: first.config.REDIS_KEY_PREFIX };
  const second = await buildTestApp(t, { clock: clockB, env: shared });
  const admin = await registerAdmin(first.app, emails[0]!);
  t.equal(kidOf((await login(second.app, admin.email, admin.password)).json().accessToken), kidOf(admin.accessToken), 'same active key');

  const created = (await first.app.inject({ method: 'POST', url: KEYS, headers: auth(admin.accessToken), payload: {} })).json();
  t.equal((await jwksOf(second.app)).keys.length, 1, 'the other instance has not reloaded yet');
  await second.app.signingKeys.reload(); // what its periodic reload does within SIGNING_KEY_RELOAD_SECONDS
  t.equal((await jwksOf(second.app)).keys.length, 2, 'and publishes the new key after its reload, long before it signs');

  const delay = first.config.SIGNING_KEY_PUBLISH_DELAY * 1000;
  clockA.advance(delay);
  clockB.advance(delay);
  const fromFirst = (await login(first.app, admin.email, admin.password)).json().accessToken;
  const fromSecond = (await login(second.app, admin.email, admin.password)).json().accessToken;
  t.equal(kidOf(fromFirst), created.kid);
  t.equal(kidOf(fromSecond), created.kid, 'both sign with the new key once it activates');
  t.equal((await me(second.app, fromFirst)).statusCode, 200, 'each verifies the other\'s tokens');
  t.equal((await me(first.app, fromSecond)).statusCode, 200);
});

t.test('instances starting together on a database without keys create exactly one', async (t) => {
  const database = await createTestDatabase();
  t.teardown(() => database.drop());
  await withSql(database.url, (sql) => sql`delete from signing_keys`);
  const { TEST_REDIS_URL } = await import('../helpers/redis.js');
  const config = loadConfig(testEnv({ DATABASE_URL: database.url, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: `pc-keys-${Date.now()}:` }));
  const apps = await Promise.all([buildApp(config), buildApp(config), buildApp(config)]);
  t.teardown(() => Promise.all(apps.map((app) => app.close())));
  const rows = await withSql(database.url, (sql) => sql`select kid, created_by from signing_keys`);
  t.equal(rows.length, 1, 'one key, not one per instance');
  t.equal(rows[0]!.created_by, 'system');
  for (const app of apps) t.equal(app.signingKeys.signingKeyAt(Date.now()).kid, rows[0]!.kid);
});

t.test('an instance whose clock runs behind adopts the first key instead of creating a second', async (t) => {
  // Also what happens on one host when the later instance read its clock before the first one
  // committed: the first key's activation is then in the later one's future.
  const database = await createTestDatabase();
  t.teardown(() => database.drop());
  await withSql(database.url, (sql) => sql`delete from signing_keys`);
  const ahead = createManualClock();
  const behind = createManualClock(ahead.now() - 30_000);
  const first = await buildTestApp(t, { clock: ahead, env: { DATABASE_URL: database.url } });
  const second = await buildTestApp(t, { clock: behind, env: { DATABASE_URL: database.url, REDIS_KEY_PREFIX: first.config.REDIS_KEY_PREFIX } });
  const rows = await withSql(database.url, (sql) => sql`select kid from signing_keys`);
  t.equal(rows.length, 1, 'one key');
  const user = await registerUser(second.app);
  t.equal(kidOf(user.accessToken), rows[0]!.kid, 'the instance behind signs with it at once');
  t.equal((await me(first.app, user.accessToken)).statusCode, 200, 'and the other verifies its tokens');
});

t.test('changing JWT_ALGORITHM schedules a key of the new algorithm like a rotation', async (t) => {
  const clock = createManualClock();
  const first = await buildTestApp(t, { clock });
  const user = await registerUser(first.app);
  const switched = await buildTestApp(t, { clock, env: { DATABASE_URL: first.databaseUrl!, REDIS_KEY_PREFIX: first.config.REDIS_KEY_PREFIX, JWT_ALGORITHM: 'EdDSA' } });
  const keys = (await jwksOf(switched.app)).keys;
  t.strictSame(keys.map((key) => key.alg).sort(), ['EdDSA', 'RS256']);
  t.equal(kidOf((await login(switched.app, user.email, user.password)).json().accessToken), kidOf(user.accessToken), 'RS256 signs until the new key activates');
  clock.advance(switched.config.SIGNING_KEY_PUBLISH_DELAY * 1000);
  const token = (await login(switched.app, user.email, user.password)).json().accessToken;
  t.equal(decodeProtectedHeader(token).alg, 'EdDSA');
  t.equal((await verifiesWithJose(switched.app, token)).payload.sub, user.id);
  const restarted = await buildTestApp(t, { clock, env: { DATABASE_URL: first.databaseUrl!, REDIS_KEY_PREFIX: first.config.REDIS_KEY_PREFIX, JWT_ALGORITHM: 'EdDSA' } });
  t.equal((await jwksOf(restarted.app)).keys.length, 2, 'a restart with the same setting adds nothing');
});

t.test('ES256 tokens verify with jose too', async (t) => {
  const database = await createTestDatabase();
  t.teardown(() => database.drop());
  await withSql(database.url, (sql) => sql`delete from signing_keys`);
  const { app } = await buildTestApp(t, { env: { DATABASE_URL: database.url, JWT_ALGORITHM: 'ES256' } });
  const user = await registerUser(app);
  const { payload, protectedHeader } = await verifiesWithJose(app, user.accessToken);
  t.equal(protectedHeader.alg, 'ES256');
  t.equal(payload.sub, user.id);
  t.equal((await me(app, user.accessToken)).statusCode, 200);
});

t.test('HS256: nothing published, nothing to rotate', async (t) => {
  const { emails, env } = adminEnv();
  const { app } = await buildTestApp(t, { env: { ...env, JWT_ALGORITHM: 'HS256' } });
  const admin = await registerAdmin(app, emails[0]!);
  t.equal(decodeProtectedHeader(admin.accessToken).alg, 'HS256');
  t.equal((await me(app, admin.accessToken)).statusCode, 200);
  t.strictSame((await jwksOf(app)).keys, []);
  const rotate = await app.inject({ method: 'POST', url: KEYS, headers: auth(admin.accessToken), payload: {} });
  t.equal(rotate.statusCode, 409);
  t.equal(rotate.json().code, 'SIGNING_KEYS_SYMMETRIC');
});

t.test('a wrong SIGNING_KEY_ENCRYPTION_KEY stops start-up instead of signing with nothing', async (t) => {
  const database = await createTestDatabase();
  t.teardown(() => database.drop());
  const config = loadConfig(testEnv({ DATABASE_URL: database.url, SIGNING_KEY_ENCRYPTION_KEY: 'not-the-key-the-rows-were-sealed-with' }));
  await t.rejects(buildApp(config), SigningKeyUnsealError);
});

