/**
 * Brute force on accounts: the attacker's address is slowed down while the owner from another
 * address still logs in; a high account-wide ceiling locks the account for a while; counters are
 * shared by instances on the same Redis; every lock is recorded. Client credentials: the same
 * throttle, read inside the token store's issue round trip (Redis and in-process alike).
 */
import t from 'tap';
import postgres from 'postgres';
import { buildApp } from '../../src/app.js';
import { createManualClock } from '../../src/lib/clock.js';
import { buildTestApp } from '../helpers/app.js';
import { adminEnv, registerAdmin, registerUser } from '../helpers/factories.js';
import { commandsSentBy } from '../helpers/redis.js';

type App = Awaited<ReturnType<typeof buildTestApp>>['app'];
const attempt = (app: App, email: string, password: string, remoteAddress: string) =>
  app.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password }, remoteAddress });

// A lock runs from the attempt that earned it; a frozen clock keeps the short first ones (1 s)
// from running out on a loaded machine before the next request is made.
t.test('the attacking address is throttled; the owner elsewhere is not', async (t) => {
  const { app, databaseUrl } = await buildTestApp(t, { clock: createManualClock(), env: { LOGIN_THROTTLE_AFTER: '3' } });
  const owner = await registerUser(app);
  for (let i = 0; i < 3; i++) t.equal((await attempt(app, owner.email, 'not the password', '203.0.113.9')).statusCode, 401);
  const throttled = await attempt(app, owner.email, owner.password, '203.0.113.9');
  t.equal(throttled.statusCode, 429, 'even the right password is refused from the throttled address');
  t.equal(throttled.json().code, 'LOGIN_THROTTLED');
  t.equal(throttled.headers['retry-after'], '1', 'the first lock is short');
  t.equal((await attempt(app, owner.email, owner.password, '198.51.100.4')).statusCode, 200, 'the owner from elsewhere logs in');

  await app.authEvents.flush();
  const sql = postgres(databaseUrl!, { max: 1 });
  t.teardown(() => sql.end());
  const [event] = await sql`select actor, ip, user_id, reason, details from auth_events where kind = 'login.locked'`;
  t.match(event, { actor: 'system', ip: '203.0.113.9', user_id: owner.id, reason: 'LOGIN_THROTTLED', details: { scope: 'pair' } }, 'the lock is an auth event');
});

t.test('a burst of concurrent guesses gets no more passwords checked than a sequence would', async (t) => {
  const { app, databaseUrl } = await buildTestApp(t, { env: { LOGIN_THROTTLE_AFTER: '3', LOGIN_LOCK_AFTER: '5', LOGIN_LOCK_SECONDS: '600' } });
  const owner = await registerUser(app);
  const fromOne = await Promise.all(Array.from({ length: 12 }, () => attempt(app, owner.email, 'a guess', '203.0.113.50')));
  t.strictSame(fromOne.map((reply) => reply.statusCode).sort(), [...Array(3).fill(401), ...Array(9).fill(429)], 'one address: 3 checked, the rest refused');
  // From many addresses at once: the account-wide ceiling of 5 holds too (2 more after the 3 above).
  const fromMany = await Promise.all(Array.from({ length: 12 }, (_, i) => attempt(app, owner.email, 'a guess', `198.51.100.${100 + i}`)));
  t.equal(fromMany.filter((reply) => reply.statusCode === 401).length, 2, 'many addresses: only up to the account ceiling checked');
  t.ok(fromMany.every((reply) => [401, 429].includes(reply.statusCode)));
  t.equal((await attempt(app, owner.email, owner.password, '192.0.2.77')).statusCode, 429, 'the account is locked, even for the right password');

  await app.authEvents.flush();
  const sql = postgres(databaseUrl!, { max: 1 });
  t.teardown(() => sql.end());
  const failed = await sql`select coalesce(sum(count), 0)::int as n from auth_events where kind = 'denied' and reason = 'INVALID_CREDENTIALS' and user_id = ${owner.id}`;
  t.equal(failed[0]!.n, 5, 'five wrong passwords recorded: one per password checked');
});

t.test('unknown emails are throttled the same way (no enumeration through locks)', async (t) => {
  const { app } = await buildTestApp(t, { clock: createManualClock(), env: { LOGIN_THROTTLE_AFTER: '2' } });
  for (let i = 0; i < 2; i++) t.equal((await attempt(app, 'nobody@example.test', 'guess', '203.0.113.9')).statusCode, 401);
  t.equal((await attempt(app, 'nobody@example.test', 'guess', '203.0.113.9')).json().code, 'LOGIN_THROTTLED');
});

t.test('a success resets the count of consecutive failures', async (t) => {
  const { app } = await buildTestApp(t, { env: { LOGIN_THROTTLE_AFTER: '3' } });
  const owner = await registerUser(app);
  const ip = '203.0.113.10';
  for (let i = 0; i < 2; i++) await attempt(app, owner.email, 'wrong', ip);
  t.equal((await attempt(app, owner.email, owner.password, ip)).statusCode, 200);
  for (let i = 0; i < 2; i++) t.equal((await attempt(app, owner.email, 'wrong', ip)).statusCode, 401);
  t.equal((await attempt(app, owner.email, owner.password, ip)).statusCode, 200, 'not locked: the count restarted');
});

t.test('the account-wide ceiling locks the account from every address', async (t) => {
  const { app } = await buildTestApp(t, { env: { LOGIN_THROTTLE_AFTER: '100', LOGIN_LOCK_AFTER: '5', LOGIN_LOCK_SECONDS: '600' } });
  const owner = await registerUser(app);
  for (let i = 0; i < 5; i++) t.equal((await attempt(app, owner.email, 'wrong', `203.0.113.${20 + i}`)).statusCode, 401);
  const locked = await attempt(app, owner.email, owner.password, '198.51.100.7');
  t.equal(locked.statusCode, 429);
  t.equal(locked.json().code, 'LOGIN_THROTTLED');
  t.ok(Number(locked.headers['retry-after']) > 590, 'for LOGIN_LOCK_SECONDS');
  const other = await registerUser(app);
  t.equal((await attempt(app, other.email, other.password, '198.51.100.7')).statusCode, 200, 'other accounts are unaffected');
});

t.test('counters are shared by instances on the same Redis', async (t) => {
  const clock = createManualClock();
  const { app, config } = await buildTestApp(t, { clock, env: { LOGIN_THROTTLE_AFTER: '2' } });
  const second = await buildApp(config, { clock });
  t.teardown(() => second.close());
  const owner = await registerUser(app);
  await attempt(app, owner.email, 'wrong', '203.0.113.30');
  await attempt(second, owner.email, 'wrong', '203.0.113.30');
  t.equal((await attempt(app, owner.email, owner.password, '203.0.113.30')).json().code, 'LOGIN_THROTTLED');
  t.equal((await attempt(second, owner.email, owner.password, '203.0.113.30')).json().code, 'LOGIN_THROTTLED');
});

t.test('the delay doubles with each failure past the threshold (in-process store, manual clock)', async (t) => {
  const clock = createManualClock();
  const { app } = await buildTestApp(t, { embedded: true, clock, env: { LOGIN_THROTTLE_AFTER: '2', LOGIN_THROTTLE_MAX_SECONDS: '4' } });
  const owner = await registerUser(app);
  const ip = '203.0.113.40';
  const retryAfterFailing = async () => {
    const failed = await attempt(app, owner.email, 'wrong', ip);
    t.equal(failed.statusCode, 401);
    const blocked = await attempt(app, owner.email, 'wrong', ip);
    return blocked.statusCode === 429 ? Number(blocked.headers['retry-after']) : 0;
  };
  await attempt(app, owner.email, 'wrong', ip);
  t.equal(await retryAfterFailing(), 1, '2nd failure: 1 s');
  clock.advance(1001);
  t.equal(await retryAfterFailing(), 2, '3rd failure: 2 s');
  clock.advance(2001);
  t.equal(await retryAfterFailing(), 4, '4th failure: 4 s');
  clock.advance(4001);
  t.equal(await retryAfterFailing(), 4, 'capped at LOGIN_THROTTLE_MAX_SECONDS');
});

t.test('client credentials: the guessing address is throttled per client_id, the real client elsewhere is not', async (t) => {
  const { emails, env } = adminEnv(1);
  const { app, databaseUrl } = await buildTestApp(t, { env: { ...env, LOGIN_THROTTLE_AFTER: '3' } });
  const admin = await registerAdmin(app, emails[0]!);
  const created = await app.inject({
    method: 'POST',
    url: '/api/v3/auth/apps',
    headers: { authorization: `Bearer ${admin.accessToken}` },
    payload: { app_code: `bf-${Date.now()}`, app_name: 'Brute force target', organizations: ['HQ'], permissions: [] },
  });
  const { app_id, client_id, client_secret } = created.json().data;
  const token = (secret: string, remoteAddress: string) =>
    app.inject({ method: 'POST', url: '/api/v3/auth/token', payload: { client_id, client_secret: secret }, remoteAddress });

  for (let i = 0; i < 3; i++) t.equal((await token('pcs_guess', '203.0.113.60')).json().error.code, 'V3_AUTH_INVALID_CLIENT');
  const throttled = await token(client_secret, '203.0.113.60');
  t.equal(throttled.statusCode, 429, 'even the right secret is refused from the guessing address');
  t.equal(throttled.json().error.code, 'V3_AUTH_RATE_LIMITED');
  t.ok(Number(throttled.headers['retry-after']) >= 1);
  t.equal((await token(client_secret, '198.51.100.60')).statusCode, 200, 'the real client from its own address');

  await app.audit.flush();
  const sql = postgres(databaseUrl!, { max: 1 });
  t.teardown(() => sql.end());
  const locks = await sql`select ip, details from audit_logs where app_id = ${app_id} and event_type = 'client.locked'`;
  t.equal(locks.length, 1, 'the lock is audited');
  t.match(locks[0], { ip: '203.0.113.60', details: { scope: 'pair' } });
});

/** A new app with one organization, and a token request for it (from 127.0.0.1 unless given). */
async function tokenTarget(app: App, adminEmail: string) {
  const admin = await registerAdmin(app, adminEmail);
  const created = await app.inject({
    method: 'POST',
    url: '/api/v3/auth/apps',
    headers: { authorization: `Bearer ${admin.accessToken}` },
    payload: { app_code: `bf-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`, app_name: 'Brute force target', organizations: ['HQ'], permissions: [] },
  });
  const { client_id, client_secret } = created.json().data as { client_id: string; client_secret: string };
  const token = (secret: string, remoteAddress = '127.0.0.1') =>
    app.inject({ method: 'POST', url: '/api/v3/auth/token', payload: { client_id, client_secret: secret }, remoteAddress });
  return { clientSecret: client_secret, token };
}

t.test('client credentials, embedded: locked before the secret, Retry-After, a success resets the count, the lock ends by the clock', async (t) => {
  const clock = createManualClock(Date.now());
  const { emails, env } = adminEnv(1);
  const { app } = await buildTestApp(t, { embedded: true, clock, env: { ...env, LOGIN_THROTTLE_AFTER: '3' } });
  const { clientSecret, token } = await tokenTarget(app, emails[0]!);
  const ip = '203.0.113.61';

  for (let i = 0; i < 2; i++) t.equal((await token('pcs_guess', ip)).statusCode, 401);
  t.equal((await token(clientSecret, ip)).statusCode, 200, 'below the threshold');
  for (let i = 0; i < 2; i++) t.equal((await token('pcs_guess', ip)).statusCode, 401);
  t.equal((await token(clientSecret, ip)).statusCode, 200, 'not locked: the success restarted the count');

  for (let i = 0; i < 3; i++) t.equal((await token('pcs_guess', ip)).statusCode, 401);
  const throttled = await token(clientSecret, ip);
  t.equal(throttled.statusCode, 429, 'even the right secret is refused');
  t.equal(throttled.json().error.code, 'V3_AUTH_RATE_LIMITED');
  t.equal(throttled.headers['retry-after'], '1', 'the first lock of a pair is one second');
  t.equal((await token('pcs_guess', ip)).statusCode, 429, 'a guess while locked is refused too, not counted');
  clock.advance(1000);
  t.equal((await token(clientSecret, ip)).statusCode, 200, 'issued once the lock has ended');
});

t.test('client credentials, Redis: every issuance is one Redis round trip, the failure count and its reset inside it', async (t) => {
  const { emails, env } = adminEnv(1);
  // Allowlisted address: no rate-limit counter, so only the token path's commands are seen.
  const { app, redis } = await buildTestApp(t, { env: { ...env, LOGIN_THROTTLE_AFTER: '3', RATE_LIMIT_ALLOWLIST: '127.0.0.1' } });
  t.ok(redis, 'Redis-backed app');
  if (app.kv.kind !== 'redis') return;
  const client = app.kv.client;
  const { clientSecret, token } = await tokenTarget(app, emails[0]!);
  t.equal((await token(clientSecret)).statusCode, 200, 'loads the scripts');
  t.equal((await token('pcs_guess')).statusCode, 401);
  t.equal((await token(clientSecret)).statusCode, 200);

  t.strictSame(await commandsSentBy(client, () => token(clientSecret)), ['evalsha'], 'issue: one script, the lock read inside it');
  t.strictSame(await commandsSentBy(client, () => token('pcs_guess')), ['evalsha'], 'a wrong secret: the issue script counts it itself');
  t.strictSame(await commandsSentBy(client, () => token(clientSecret)), ['evalsha'], 'the first success after failures clears them inside it too');
  t.strictSame(await commandsSentBy(client, () => token(clientSecret)), ['evalsha'], 'and the next is one round trip as ever');
});

t.test('login, Redis: the lock check and the count are one script; a right password clears the count alongside the session write', async (t) => {
  const { app } = await buildTestApp(t, { env: { LOGIN_THROTTLE_AFTER: '3', RATE_LIMIT_ALLOWLIST: '127.0.0.1' } });
  if (app.kv.kind !== 'redis') {
    t.fail('Redis-backed app');
    return;
  }
  const client = app.kv.client;
  const owner = await registerUser(app);
  const login = (password: string) => attempt(app, owner.email, password, '127.0.0.1');
  t.equal((await login(owner.password)).statusCode, 200, 'loads the scripts');
  t.equal((await login('wrong')).statusCode, 401, 'loads the scripts');

  t.strictSame(await commandsSentBy(client, () => login('wrong')), ['evalsha'], 'a wrong password: one script, checked and counted');
  t.strictSame(await commandsSentBy(client, () => login(owner.password)), ['evalsha', 'del', 'evalsha'], 'a right one: the attempt, then the reset with the session script');
});

for (const embedded of [false, true]) {
  t.test(`client credentials, ${embedded ? 'embedded' : 'Redis'}: a burst of concurrent wrong secrets gets no more checked than a sequence would`, async (t) => {
    const { emails, env } = adminEnv(1);
    const { app } = await buildTestApp(t, { embedded, env: { ...env, LOGIN_THROTTLE_AFTER: '3' } });
    const { clientSecret, token } = await tokenTarget(app, emails[0]!);
    const burst = await Promise.all(Array.from({ length: 10 }, () => token('pcs_guess', '203.0.113.62')));
    t.strictSame(burst.map((reply) => reply.statusCode).sort(), [...Array(3).fill(401), ...Array(7).fill(429)], '3 checked, 7 refused by the lock');
    t.equal((await token(clientSecret, '203.0.113.62')).statusCode, 429, 'the address stays locked');
    t.equal((await token(clientSecret, '198.51.100.62')).statusCode, 200, 'the real client elsewhere is not');
  });
}
