/**
 * Redis over maxmemory (noeviction): what would grow it answers 503 with Retry-After, never a
 * 500, and changes nothing; what ends access (a logout, an app's suspension, a demotion) still lands. The
 * request rate limit cannot count either: it fails closed like a Redis outage, except on the
 * routes that only end access.
 */
import t from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { adminEnv, me, refresh, registerAdmin, registerUser } from '../helpers/factories.js';
import { patchUser } from '../api/support-helpers.js';
import { startRedisToFill } from '../helpers/redis-server.js';
import { bearer, createApp, reactivateApp, setupV3, suspendApp, tokenFor } from '../api/v3-helpers.js';

t.test('over maxmemory: a login gets 503 and writes nothing, a logout still revokes', async (t) => {
  const store = await startRedisToFill(t);
  // The harness's address is allowlisted, so the session store is what meets the full Redis.
  const { app } = await buildTestApp(t, { env: { REDIS_URL: store.url, RATE_LIMIT_ALLOWLIST: '127.0.0.1' } });
  const user = await registerUser(app);
  const other = await registerUser(app);
  const keysBefore = (await store.redis.keys('*')).sort();

  await store.fill();
  const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: user.email, password: user.password } });
  t.equal(login.statusCode, 503, `a new session cannot be stored: unavailable, not a 500 ${login.body}`);
  t.equal(login.json().code, 'SERVICE_UNAVAILABLE');
  t.equal(login.headers['retry-after'], '5');
  t.notOk(login.headers['set-cookie'], 'no refresh cookie for a session that does not exist');
  t.strictSame((await store.redis.keys('*')).sort(), keysBefore, 'nothing was written');

  t.equal((await me(app, user.accessToken)).statusCode, 200, 'existing sessions keep working');
  const logout = await app.inject({ method: 'POST', url: '/api/auth/logout', cookies: { [app.config.REFRESH_COOKIE_NAME]: user.refreshToken } });
  t.equal(logout.statusCode, 200, `logout lands while Redis is full ${logout.body}`);
  t.equal((await me(app, user.accessToken)).json().code, 'SESSION_REVOKED', 'and the access token stops at once');
  t.equal((await me(app, other.accessToken)).statusCode, 200, 'other sessions are untouched');

  await store.free();
  const again = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: user.email, password: user.password } });
  t.equal(again.statusCode, 200, 'with memory again the login works');
});

t.test("over maxmemory: an admin's role change still reaches the live sessions", async (t) => {
  const store = await startRedisToFill(t);
  const { emails, env } = adminEnv(1);
  const { app } = await buildTestApp(t, { env: { ...env, REDIS_URL: store.url, RATE_LIMIT_ALLOWLIST: '127.0.0.1' } });
  const admin = await registerAdmin(app, emails[0]!);
  const partner = await registerUser(app, { role: 'PARTNER' });
  t.equal((await me(app, partner.accessToken)).json().role, 'PARTNER');

  await store.fill();
  const demoted = await patchUser(app, admin.accessToken, partner.id, { role: 'CONSUMER' });
  t.equal(demoted.statusCode, 200, `a demotion lands while Redis is full ${demoted.body}`);
  const stale = await me(app, partner.accessToken);
  t.equal(stale.statusCode, 401, 'the PARTNER access token stops at once');
  t.equal(stale.json().code, 'TOKEN_STALE');

  await store.free();
  const renewed = await refresh(app, partner.refreshToken);
  t.equal(renewed.statusCode, 200, renewed.body);
  t.equal((await me(app, renewed.json().accessToken)).json().role, 'CONSUMER', 'the session carries the new role');
});

t.test('over maxmemory the rate limit cannot count: 503 with Retry-After, except where access only ends', async (t) => {
  const store = await startRedisToFill(t);
  const { app, admin } = await setupV3(t, { env: { REDIS_URL: store.url } });
  const user = await registerUser(app);
  const other = await registerUser(app);
  const third = await registerUser(app);
  const integration = await createApp(app, admin.accessToken);
  const supported = await registerUser(app);
  const other2 = await createApp(app, admin.accessToken);
  const v3Token = (await tokenFor(t, app, other2)).access_token as string;
  const oauthToken = (await tokenFor(t, app, other2)).access_token as string;
  await store.fill();
  const response = await me(app, user.accessToken);
  t.equal(response.statusCode, 503, response.body);
  t.equal(response.json().code, 'SERVICE_UNAVAILABLE');
  t.equal(response.headers['retry-after'], '5');

  const cookie = { [app.config.REFRESH_COOKIE_NAME]: user.refreshToken };
  t.equal((await app.inject({ method: 'POST', url: '/api/auth/logout', cookies: cookie })).statusCode, 200, 'logout is not held up by the counter');
  t.equal((await app.inject({ method: 'POST', url: '/api/auth/logout-all', headers: bearer(other.accessToken) })).statusCode, 200, 'nor logging out everywhere');
  const sid = JSON.parse(Buffer.from(third.accessToken.split('.')[1]!, 'base64url').toString('utf8')).sid as string;
  t.equal((await app.inject({ method: 'DELETE', url: `/api/auth/sessions/${sid}`, headers: bearer(third.accessToken) })).statusCode, 200, 'nor ending one session');
  const suspended = await suspendApp(app, admin.accessToken, integration.app_id);
  t.equal(suspended.statusCode, 200, `nor suspending an app ${suspended.body}`);
  t.match(await app.appTokens.getSnapshot(integration.app_id), { status: 'SUSPENDED' }, 'whose snapshot refuses its tokens at once');
  t.equal((await reactivateApp(app, admin.accessToken, integration.app_id)).statusCode, 503, 'reactivating grants access: it waits for the counter');
  const support = await app.inject({ method: 'POST', url: `/api/support/users/${supported.id}/revoke-sessions`, headers: bearer(admin.accessToken), payload: {} });
  t.equal(support.statusCode, 200, `nor support ending a user's sessions ${support.body}`);
  t.equal((await app.inject({ method: 'POST', url: '/api/v3/auth/token/revoke', headers: bearer(v3Token), payload: {} })).statusCode, 200, 'nor an app revoking its token');
  const basic = `Basic ${Buffer.from(`${other2.client_id}:${other2.client_secret}`).toString('base64')}`;
  const rfc7009 = await app.inject({ method: 'POST', url: '/oauth2/revoke', payload: `token=${oauthToken}`, headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic } });
  t.equal(rfc7009.statusCode, 200, `nor RFC 7009 revocation ${rfc7009.body}`);

  await store.free();
  for (const ended of [user, other, third, supported]) t.equal((await me(app, ended.accessToken)).json().code, 'SESSION_REVOKED');
  for (const token of [v3Token, oauthToken]) t.equal((await app.inject({ method: 'GET', url: '/api/v3/auth/me', headers: bearer(token) })).statusCode, 401, 'the revoked app tokens are refused');
  t.equal((await me(app, admin.accessToken)).statusCode, 200, 'served again once Redis has memory');
});
