/** POST /api/auth/login: credentials, the refresh cookie, disabled accounts, re-hashing, the access token. */
import type { FastifyInstance } from 'fastify';
import t, { type Test } from 'tap';
import postgres from 'postgres';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { buildTestApp, testEnv } from '../helpers/app.js';
import { adminEnv, login, me, refreshCookieOf, registerAdmin, registerUser, strongPassword, uniqueEmail } from '../helpers/factories.js';

/** Header and claims of a JWT, decoded without verifying (the server verifies; we check what it minted). */
function decodeJwt(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const [header, claims] = token.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')));
  return { header, claims };
}

async function storedPasswordHash(databaseUrl: string, email: string): Promise<string> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ password_hash: string }[]>`select password_hash from users where email = ${email}`;
    return row!.password_hash;
  } finally {
    await sql.end();
  }
}

const patchUser = (app: FastifyInstance, adminToken: string, id: string, body: Record<string, unknown>) =>
  app.inject({ method: 'PATCH', url: `/api/admin/users/${id}`, headers: { authorization: `Bearer ${adminToken}` }, payload: body });

t.test('200 with the public user, an access token and a refresh cookie with the right attributes', async (t) => {
  const { app } = await buildTestApp(t);
  const user = await registerUser(app, { name: 'Grace' });
  const response = await login(app, user.email.toUpperCase(), user.password);
  t.equal(response.statusCode, 200);
  const body = response.json();
  t.strictSame(Object.keys(body).sort(), ['accessToken', 'user']);
  t.strictSame(body.user, { id: user.id, email: user.email, name: 'Grace', role: 'CONSUMER' });
  t.equal((await me(app, body.accessToken)).statusCode, 200, 'the access token works');

  const cookie = refreshCookieOf(response);
  t.ok(cookie, 'refresh_token cookie');
  t.not(cookie!.value, user.refreshToken, 'a new session, a new refresh token');
  t.match(cookie, { httpOnly: true, path: '/api/auth', sameSite: 'Strict', maxAge: 604800 });
  t.notOk(cookie!.secure, 'not Secure outside production by default');
  const header = String(response.headers['set-cookie']);
  t.match(header, /; HttpOnly/i);
  t.match(header, /; SameSite=Strict/i);
  t.match(header, /; Path=\/api\/auth/);
  t.match(header, /; Max-Age=604800/);
  t.notMatch(header, /; Secure/i);
});

t.test('Max-Age follows JWT_REFRESH_TTL; COOKIE_SECURE and REFRESH_COOKIE_NAME are honoured', async (t) => {
  const { app } = await buildTestApp(t, {
    env: { JWT_REFRESH_TTL: '2h', COOKIE_SECURE: 'true', REFRESH_COOKIE_NAME: '__Secure-refresh_token' },
  });
  const user = await registerUser(app);
  const response = await login(app, user.email, user.password);
  t.equal(response.statusCode, 200);
  t.notOk(refreshCookieOf(response, 'refresh_token'), 'not under the default name');
  const cookie = refreshCookieOf(response, '__Secure-refresh_token');
  t.ok(cookie, 'named by REFRESH_COOKIE_NAME');
  t.match(cookie, { secure: true, httpOnly: true, path: '/api/auth', sameSite: 'Strict', maxAge: 7200 });
  t.match(String(response.headers['set-cookie']), /; Secure/i);
});

t.test('unknown email and wrong password look the same: 401 INVALID_CREDENTIALS', async (t) => {
  const { app } = await buildTestApp(t);
  const user = await registerUser(app);
  const unknown = await login(app, uniqueEmail(), user.password);
  const wrong = await login(app, user.email, `${user.password}x`);
  for (const response of [unknown, wrong]) {
    t.equal(response.statusCode, 401);
    t.match(response.json(), { error: 'Invalid email or password', code: 'INVALID_CREDENTIALS' });
    t.notOk(refreshCookieOf(response), 'no cookie');
  }
  t.strictSame(Object.keys(unknown.json()).sort(), Object.keys(wrong.json()).sort(), 'identical body shape');
  const { requestId: _a, ...unknownRest } = unknown.json();
  const { requestId: _b, ...wrongRest } = wrong.json();
  t.strictSame(unknownRest, wrongRest, 'identical apart from the request id');
});

t.test('a disabled account: 403 ACCOUNT_DISABLED only with the right password', async (t) => {
  const admins = adminEnv(1);
  const { app } = await buildTestApp(t, { env: admins.env });
  const admin = await registerAdmin(app, admins.emails[0]!);
  const user = await registerUser(app);
  const patched = await patchUser(app, admin.accessToken, user.id, { disabled: true });
  t.equal(patched.statusCode, 200, 'admin disables the user');
  t.equal(patched.json().disabled, true);

  const right = await login(app, user.email, user.password);
  t.equal(right.statusCode, 403);
  t.equal(right.json().code, 'ACCOUNT_DISABLED');
  t.notOk(refreshCookieOf(right), 'no session for a disabled account');

  const wrong = await login(app, user.email, `${user.password}x`);
  t.equal(wrong.statusCode, 401, 'a wrong password does not reveal the account state');
  t.equal(wrong.json().code, 'INVALID_CREDENTIALS');

  t.equal((await patchUser(app, admin.accessToken, user.id, { disabled: false })).statusCode, 200);
  t.equal((await login(app, user.email, user.password)).statusCode, 200, 'enabled again, login works');
});

t.test('a hash made with older argon2 parameters is upgraded on login', async (t) => {
  const { app, databaseUrl } = await buildTestApp(t);
  const user = await registerUser(app);
  t.match(await storedPasswordHash(databaseUrl!, user.email), /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/, 'made with the test parameters');

  const upgraded = await buildApp(loadConfig({ ...testEnv(), DATABASE_URL: databaseUrl!, ARGON2_MEMORY_KIB: '2048', ARGON2_TIME_COST: '2' }));
  t.teardown(() => upgraded.close());
  const response = await login(upgraded, user.email, user.password);
  t.equal(response.statusCode, 200, 'the old hash still verifies');
  t.match(await storedPasswordHash(databaseUrl!, user.email), /^\$argon2id\$v=19\$m=2048,t=2,p=1\$/, 're-hashed with the new parameters');
  t.equal((await login(upgraded, user.email, user.password)).statusCode, 200, 'the new hash verifies');

  const failed = await login(upgraded, user.email, `${user.password}x`);
  t.equal(failed.statusCode, 401);
});

t.test('a wrong password never re-hashes', async (t) => {
  const { app, databaseUrl } = await buildTestApp(t);
  const user = await registerUser(app);
  const before = await storedPasswordHash(databaseUrl!, user.email);
  const other = await buildApp(loadConfig({ ...testEnv(), DATABASE_URL: databaseUrl!, ARGON2_MEMORY_KIB: '2048', ARGON2_TIME_COST: '2' }));
  t.teardown(() => other.close());
  t.equal((await login(other, user.email, strongPassword())).statusCode, 401);
  t.equal(await storedPasswordHash(databaseUrl!, user.email), before);
});

/** A registered user, a Postgres connection to the test's database, and a reader of the user's last_login_at. */
async function stampedUser(t: Test) {
  const { app, databaseUrl } = await buildTestApp(t);
  const user = await registerUser(app);
  const sql = postgres(databaseUrl!, { max: 1, onnotice: () => {} });
  t.teardown(() => sql.end());
  const stamp = async () => (await sql<{ last_login_at: Date | null }[]>`select last_login_at from users where id = ${user.id}`)[0]!.last_login_at;
  return { app, user, sql, stamp };
}

t.test('a successful login stamps last_login_at; a failed one changes nothing', async (t) => {
  const { app, user, stamp } = await stampedUser(t);
  t.equal(await stamp(), null, 'registering is not a login');
  t.equal((await login(app, user.email, `${user.password}x`)).statusCode, 401);
  t.equal(await stamp(), null, 'a wrong password stamps nothing');
  await app.loginStamps.flush();
  t.equal(await stamp(), null, 'nothing was waiting to be written');
  const before = Date.now();
  t.equal((await login(app, user.email, user.password)).statusCode, 200);
  t.equal(app.loginStamps.buffer.pending, 1, 'the stamp waits in the batch, off the login path');
  await app.loginStamps.flush();
  const first = await stamp();
  t.type(first, Date, 'stamped once written');
  t.ok(first!.getTime() >= before - 5 && first!.getTime() <= Date.now(), 'with the time of the login');
  await new Promise((resolve) => setTimeout(resolve, 5));
  t.equal((await login(app, user.email, user.password)).statusCode, 200);
  await app.loginStamps.flush();
  t.ok((await stamp())!.getTime() > first!.getTime(), 'the next login moves it forward');
});

t.test('login stamps: the latest of a batch wins, an older stamp never overwrites a newer one, a failed batch is retried', async (t) => {
  const { app, user, sql, stamp } = await stampedUser(t);
  const at = (iso: string) => new Date(iso);
  app.loginStamps.record(user.id, at('2026-01-02T00:00:00.000Z'));
  app.loginStamps.record(user.id, at('2026-01-03T00:00:00.000Z'));
  app.loginStamps.record(user.id, at('2026-01-01T00:00:00.000Z'));
  await app.loginStamps.flush();
  t.strictSame(await stamp(), at('2026-01-03T00:00:00.000Z'), 'the latest of the batch');
  app.loginStamps.record(user.id, at('2026-01-02T12:00:00.000Z'));
  await app.loginStamps.flush();
  t.strictSame(await stamp(), at('2026-01-03T00:00:00.000Z'), 'a late, older stamp does not go back in time');

  await sql`alter table users rename column last_login_at to last_login_at_away`;
  app.loginStamps.record(user.id, at('2026-01-04T00:00:00.000Z'));
  await app.loginStamps.flush();
  t.equal(app.loginStamps.buffer.pending, 1, 'a failed write keeps the stamp');
  await sql`alter table users rename column last_login_at_away to last_login_at`;
  await app.loginStamps.flush();
  t.equal(app.loginStamps.buffer.pending, 0);
  t.strictSame(await stamp(), at('2026-01-04T00:00:00.000Z'), 'written on the retry');
});

t.test('a malformed stored hash is a failed login (401), not a 500', async (t) => {
  const { app, databaseUrl } = await buildTestApp(t);
  const user = await registerUser(app);
  const sql = postgres(databaseUrl!, { max: 1, onnotice: () => {} });
  try {
    await sql`update users set password_hash = 'garbage' where id = ${user.id}`;
  } finally {
    await sql.end();
  }
  const response = await login(app, user.email, user.password);
  t.equal(response.statusCode, 401);
  t.equal(response.json().code, 'INVALID_CREDENTIALS');
});

t.test('the access token is an at+jwt RS256 JWT with a published kid and the expected claims, valid for 900 s', async (t) => {
  const { app, config } = await buildTestApp(t);
  const user = await registerUser(app, { role: 'PARTNER' });
  const response = await login(app, user.email, user.password);
  const token: string = response.json().accessToken;
  t.equal(token.split('.').length, 3);
  const { header, claims } = decodeJwt(token);
  t.equal(header.typ, 'at+jwt');
  t.equal(header.alg, 'RS256');
  t.ok(app.signingKeys.find(header.kid as string, Date.now()), 'kid names a key of the ring');
  for (const claim of ['sub', 'sid', 'role', 'iat', 'exp', 'iss', 'aud', 'jti']) t.ok(claim in claims, `has ${claim}`);
  t.equal(claims.sub, user.id);
  t.equal(claims.role, 'PARTNER');
  t.equal(claims.iss, config.ISSUER);
  t.equal(claims.aud, config.JWT_AUDIENCE);
  t.match(claims.sid, /^[0-9a-f-]{36}$/);
  t.equal((claims.exp as number) - (claims.iat as number), 900);
  t.ok(Math.abs((claims.iat as number) - Date.now() / 1000) < 60, 'iat is now');
  const other = decodeJwt((await login(app, user.email, user.password)).json().accessToken).claims;
  t.not(other.jti, claims.jti, 'jti is unique');
  t.not(other.sid, claims.sid, 'each login is its own session');
  t.notOk(JSON.stringify(claims).includes(user.email), 'no email in the token');
});

t.test('login input is validated like register', async (t) => {
  const { app } = await buildTestApp(t);
  const user = await registerUser(app);
  const extra = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: user.email, password: user.password, role: 'ADMIN' } });
  t.equal(extra.statusCode, 400);
  t.equal(extra.json().code, 'VALIDATION_ERROR');
  const numeric = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: user.email, password: 12345678 } });
  t.equal(numeric.statusCode, 400);
  t.equal(numeric.json().code, 'VALIDATION_ERROR');
});
