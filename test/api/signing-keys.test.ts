/**
 * Signing keys end to end through the app: the JWKS, rotation with its publish delay, retirement,
 * several instances on one database, algorithm changes, HS256 and a wrong encryption key.
 */
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createManualClock } from '../../src/lib/clock.js';
import { SigningKeyUnsealError } from '../../src/lib/signing-key-crypto.js';
import { CLOCK_SKEW_MS } from '../../src/lib/signing-key-schedule.js';
import { buildTestApp, testEnv } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/database.js';
import { adminEnv, login, me, registerAdmin, registerUser } from '../helpers/factories.js';
import { withSql } from './v3-helpers.js';

const JWKS = '/.well-known/jwks.json';
const KEYS = '/api/admin/signing-keys';
const auth = (token: string) => ({ authorization: `Bearer ${token}` });

const kidOf = (token: string) => decodeProtectedHeader(token).kid as string;

async function jwksOf(app: import('fastify').FastifyInstance) {
  const response = await app.inject({ method: 'GET', url: JWKS });
  return { response, keys: response.json().keys as Array<Record<string, unknown>> };
}

async function verifiesWithJose(app: import('fastify').FastifyInstance, token: string) {
  const { keys } = await jwksOf(app);
  const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet({ keys: keys as never }), {
    issuer: app.config.ISSUER,
    audience: app.config.JWT_AUDIENCE,
    typ: 'at+jwt',
    currentDate: new Date(app.clock.now()),
  });
  return { payload, protectedHeader };
}

t.test('the JWKS publishes the signing key with Cache-Control, and only its public part', async (t) => {
  const { app, config } = await buildTestApp(t);
  const user = await registerUser(app);
  const { response, keys } = await jwksOf(app);
  t.equal(response.statusCode, 200);
  t.equal(response.headers['cache-control'], `public, max-age=${config.JWKS_MAX_AGE}`);
  t.equal(keys.length, 1);
  t.equal(keys[0]!.kid, kidOf(user.accessToken), 'the token names the published key');
  t.match(keys[0], { kty: 'RSA', alg: 'RS256', use: 'sig', n: String, e: 'AQAB' });
  for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi']) t.notOk(member in keys[0]!, `no private member ${member}`);
  const { payload } = await verifiesWithJose(app, user.accessToken);
  t.equal(payload.sub, user.id, 'a standard JOSE library verifies our token from the JWKS alone');
});

t.test('rotation: published at once, signs after the publish delay, the old key verifies until its tokens expire, then retires', async (t) => {
  const clock = createManualClock();
  const { emails, env } = adminEnv();
  const { app, config } = await buildTestApp(t, { clock, env });
  const admin = await registerAdmin(app, emails[0]!);
  const oldKid = kidOf(admin.accessToken);

  const rotated = await app.inject({ method: 'POST', url: KEYS, headers: auth(admin.accessToken), payload: {} });
  t.equal(rotated.statusCode, 201);
  const created = rotated.json();
  t.match(created, { algorithm: 'RS256', status: 'pending', retires_at: null, created_by: `user:${admin.id}` });
  t.equal(Date.parse(created.activates_at), clock.now() + config.SIGNING_KEY_PUBLISH_DELAY * 1000, 'activates after the publish delay');
  t.not(created.kid, oldKid);
  t.strictSame((await jwksOf(app)).keys.map((key) => key.kid).sort(), [oldKid, created.kid].sort(), 'both keys published before the new one signs');

  const beforeActivation = await login(app, admin.email, admin.password);
  t.equal(kidOf(beforeActivation.json().accessToken), oldKid, 'the old key still signs during the publish delay');

  clock.advance(config.SIGNING_KEY_PUBLISH_DELAY * 1000);
  const fresh = (await login(app, admin.email, admin.password)).json().accessToken;
  t.equal(kidOf(fresh), created.kid, 'the new key signs once the delay has passed');
  t.equal((await me(app, fresh)).statusCode, 200);
  t.equal((await verifiesWithJose(app, fresh)).protectedHeader.kid, created.kid);
  const oldToken = beforeActivation.json().accessToken;
  t.equal((await me(app, oldToken)).statusCode, 200, 'tokens of the old key keep working');

  const listed = await app.inject({ method: 'GET', url: KEYS, headers: auth(fresh) });
  t.equal(listed.statusCode, 200);
  const old = listed.json().keys.find((key: { kid: string }) => key.kid === oldKid);
  t.equal(old.status, 'verifying');
  t.equal(Date.parse(old.retires_at), clock.now() + config.JWT_ACCESS_TTL * 1000 + CLOCK_SKEW_MS, 'retires when its last token has expired');
  t.notOk(JSON.stringify(listed.json()).includes('PRIVATE'), 'no key material in the listing');

  clock.advance(config.JWT_ACCESS_TTL * 1000 + CLOCK_SKEW_MS);
  t.strictSame((await jwksOf(app)).keys.map((key) => key.kid), [created.kid], 'the retired key leaves the JWKS');
  const refused = await me(app, oldToken);
  t.equal(refused.statusCode, 401);
  t.equal(refused.json().code, 'TOKEN_INVALID', 'a retired key verifies nothing');
  const relisted = (await app.inject({ method: 'GET', url: KEYS, headers: auth(fresh) })).json().keys;
  t.equal(relisted.find((key: { kid: string }) => key.kid === oldKid).status, 'retired');

});

t.test('rotation is for admins only, validates its body and changes nothing when refused', async (t) => {
  const { emails, env } = adminEnv();
  const { app } = await buildTestApp(t, { env });
  const admin = await registerAdmin(app, emails[0]!);
  const partner = await registerUser(app, { role: 'PARTNER' });
  const count = async () => (await jwksOf(app)).keys.length;

  const anonymous = await app.inject({ method: 'POST', url: KEYS, payload: {} });
  t.equal(anonymous.statusCode, 401);
  t.equal(anonymous.json().code, 'TOKEN_MISSING');
  const forbidden = await app.inject({ method: 'POST', url: KEYS, headers: auth(partner.accessToken), payload: {} });
  t.equal(forbidden.statusCode, 403);
  t.equal(forbidden.json().code, 'ROLE_REQUIRED');
  t.equal((await app.inject({ method: 'GET', url: KEYS, headers: auth(partner.accessToken) })).statusCode, 403, 'listing too');
  for (const payload of [{ algorithm: 'HS256' }, { algorithm: 'none' }, { algorithm: 'RS256', extra: 1 }, { algorithm: 256 }]) {
    const bad = await app.inject({ method: 'POST', url: KEYS, headers: auth(admin.accessToken), payload });
    t.equal(bad.statusCode, 400, JSON.stringify(payload));
    t.equal(bad.json().code, 'VALIDATION_ERROR');
  }
  t.equal(await count(), 1, 'no key was added by a refused request');

  const es256 = await app.inject({ method: 'POST', url: KEYS, headers: auth(admin.accessToken), payload: { algorithm: 'ES256' } });
  t.equal(es256.statusCode, 201);
  t.equal(es256.json().algorithm, 'ES256', 'an operator may rotate to another algorithm');
  t.equal(await count(), 2);
  await app.audit.flush();
  const rows = await withSql(app.config.DATABASE_URL, (sql) => sql`select actor, details from audit_logs where event_type = 'signing_key.created'`);
  t.equal(rows.length, 1, 'the rotation is audited');
  t.match(rows[0], { actor: `user:${admin.id}`, details: { kid: es256.json().kid, algorithm: 'ES256' } });
});

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

t.test('private keys at rest are sealed', async (t) => {
  const { app } = await buildTestApp(t);
  const rows = await withSql(app.config.DATABASE_URL, (sql) => sql`select private_key_sealed, public_jwk from signing_keys`);
  t.ok(rows.length >= 1);
  for (const row of rows) {
    t.notMatch(row.private_key_sealed, /PRIVATE KEY|MII/, 'no PEM or DER at rest');
    t.notOk('d' in row.public_jwk);
  }
});

t.test('a cached verification never skips the session check', async (t) => {
  const { app } = await buildTestApp(t);
  const user = await registerUser(app);
  t.equal((await me(app, user.accessToken)).statusCode, 200, 'verified once, now in the cache');
  await app.inject({ method: 'POST', url: '/api/auth/logout', headers: auth(user.accessToken), cookies: { [app.config.REFRESH_COOKIE_NAME]: user.refreshToken } });
  const after = await me(app, user.accessToken);
  t.equal(after.statusCode, 401);
  t.equal(after.json().code, 'SESSION_REVOKED');
});
