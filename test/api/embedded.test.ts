/**
 * The embedded backends (PGlite in memory, the in-process session store) behave like Postgres and
 * Redis for every user-auth flow: register, login, /me, rotation, replay, reuse detection, logout.
 */
import type { LightMyRequestResponse } from 'fastify';
import t from 'tap';
import type { Test } from 'tap';
import { createManualClock } from '../../src/lib/clock.js';
import { buildTestApp } from '../helpers/app.js';
import { adminEnv, login, me, refresh, refreshCookieOf, registerAdmin, registerUser, strongPassword, uniqueEmail } from '../helpers/factories.js';

const SECOND = 1000;

// Every case starts and migrates its own PGlite instance: ~5 s each on an idle machine, and up to
// twice that while the rest of the suite shares the 2 cores; a CI run was cut off by tap's default
// budget at 68 s, in the tenth case.
t.setTimeout(180_000);

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const roleOf = (token: string): string => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')).role;

function expectCode(t: Test, response: LightMyRequestResponse, status: number, code: string) {
  t.equal(response.statusCode, status, `${status} ${code}`);
  t.equal(response.json().code, code);
}

function newRefreshToken(t: Test, response: LightMyRequestResponse): string {
  t.equal(response.statusCode, 200, 'refresh succeeds');
  return refreshCookieOf(response)!.value;
}

const embeddedApp = (t: Test, options: Parameters<typeof buildTestApp>[1] = {}) => buildTestApp(t, { ...options, embedded: true });

t.test('runs without Postgres or Redis', async (t) => {
  const { app, redis, databaseUrl, config } = await embeddedApp(t);
  t.equal(redis, null);
  t.equal(databaseUrl, undefined);
  t.equal(config.DATABASE_URL, undefined);
  t.equal(config.REDIS_URL, undefined);
  t.equal(app.kv.kind, 'memory', 'the in-process store');
});

t.test('register, login and /me', async (t) => {
  const { app } = await embeddedApp(t);
  const email = uniqueEmail();
  const password = strongPassword();
  const registered = await app.inject({ method: 'POST', url: '/api/auth/register', payload: { email: ` ${email.toUpperCase()} `, password, name: 'Em' } });
  t.equal(registered.statusCode, 201);
  t.strictSame(Object.keys(registered.json().user).sort(), ['email', 'id', 'name', 'role']);
  t.match(registered.json().user, { email, role: 'CONSUMER', name: 'Em' });
  t.ok(refreshCookieOf(registered), 'refresh cookie');

  expectCode(t, await app.inject({ method: 'POST', url: '/api/auth/register', payload: { email, password: strongPassword() } }), 409, 'EMAIL_TAKEN');
  expectCode(t, await login(app, email, `${password}x`), 401, 'INVALID_CREDENTIALS');
  expectCode(t, await login(app, uniqueEmail(), password), 401, 'INVALID_CREDENTIALS');

  const session = await login(app, email, password);
  t.equal(session.statusCode, 200);
  t.match(refreshCookieOf(session), { httpOnly: true, path: '/api/auth', sameSite: 'Strict', maxAge: 604800 });
  const profile = await me(app, session.json().accessToken);
  t.equal(profile.statusCode, 200);
  t.strictSame(profile.json(), { id: registered.json().user.id, email, name: 'Em', role: 'CONSUMER' });
});

t.test('a refused registration leaves no account', async (t) => {
  const { app } = await embeddedApp(t);
  const email = uniqueEmail();
  expectCode(t, await app.inject({ method: 'POST', url: '/api/auth/register', payload: { email, password: 'password1' } }), 400, 'PASSWORD_TOO_COMMON');
  expectCode(t, await app.inject({ method: 'POST', url: '/api/auth/register', payload: { email, password: strongPassword(), role: 'ADMIN' } }), 403, 'ADMIN_REGISTRATION_DENIED');
  t.equal((await app.inject({ method: 'POST', url: '/api/auth/register', payload: { email, password: strongPassword() } })).statusCode, 201);
});

t.test('refresh rotates, replays within the grace window, and 10 concurrent refreshes agree', async (t) => {
  const { app } = await embeddedApp(t);
  const user = await registerUser(app);
  const first = await refresh(app, user.refreshToken);
  const successor = newRefreshToken(t, first);
  t.not(successor, user.refreshToken);
  t.equal((await me(app, first.json().accessToken)).statusCode, 200);

  const replay = await refresh(app, user.refreshToken);
  t.equal(newRefreshToken(t, replay), successor, 'the predecessor replays the same successor');
  t.not(replay.json().accessToken, first.json().accessToken, 'with a fresh access token');

  const responses = await Promise.all(Array.from({ length: 10 }, () => refresh(app, successor)));
  t.strictSame(responses.map((response) => response.statusCode), Array(10).fill(200));
  t.equal(new Set(responses.map((response) => refreshCookieOf(response)?.value)).size, 1, 'one successor');
});

t.test('reuse after the grace window revokes the session', async (t) => {
  const clock = createManualClock();
  const { app } = await embeddedApp(t, { clock, env: { REFRESH_REUSE_GRACE_SECONDS: '5' } });
  const user = await registerUser(app);
  const rotated = await refresh(app, user.refreshToken);
  const current = newRefreshToken(t, rotated);
  clock.advance(5 * SECOND + 1);
  const reused = await refresh(app, user.refreshToken);
  expectCode(t, reused, 401, 'REFRESH_TOKEN_REUSED');
  t.equal(refreshCookieOf(reused)?.value, '', 'the cookie is cleared');
  expectCode(t, await refresh(app, current), 401, 'SESSION_REVOKED');
  expectCode(t, await me(app, rotated.json().accessToken), 401, 'SESSION_REVOKED');
});

t.test('a token two generations old is reuse; forged tokens revoke nothing', async (t) => {
  const { app } = await embeddedApp(t);
  const user = await registerUser(app);
  const forged = `${user.refreshToken.slice(0, 60)}${user.refreshToken[60] === 'A' ? 'B' : 'A'}${user.refreshToken.slice(61)}`;
  expectCode(t, await refresh(app, forged), 401, 'REFRESH_TOKEN_INVALID');
  expectCode(t, await refresh(app, 'garbage'), 401, 'REFRESH_TOKEN_INVALID');
  expectCode(t, await refresh(app, undefined), 401, 'REFRESH_TOKEN_MISSING');
  const first = newRefreshToken(t, await refresh(app, user.refreshToken));
  const second = newRefreshToken(t, await refresh(app, first));
  expectCode(t, await refresh(app, user.refreshToken), 401, 'REFRESH_TOKEN_REUSED');
  expectCode(t, await refresh(app, second), 401, 'SESSION_REVOKED');
});

t.test('refresh and absolute expiry follow the injected clock', async (t) => {
  const clock = createManualClock();
  const { app } = await embeddedApp(t, { clock, env: { SESSION_ABSOLUTE_TTL: '1h', JWT_REFRESH_TTL: '45m' } });
  const user = await registerUser(app);
  const other = refreshCookieOf(await login(app, user.email, user.password))!.value;
  clock.advance(40 * 60 * SECOND);
  const rotated = await refresh(app, other);
  t.equal(refreshCookieOf(rotated)!.maxAge, 20 * 60, 'capped by the absolute lifetime');
  clock.advance(5 * 60 * SECOND);
  expectCode(t, await refresh(app, user.refreshToken), 401, 'REFRESH_TOKEN_EXPIRED');
  clock.advance(15 * 60 * SECOND);
  expectCode(t, await refresh(app, refreshCookieOf(rotated)!.value), 401, 'SESSION_EXPIRED');
  // The access token was capped at the session's end, so it has expired by then too.
  expectCode(t, await me(app, rotated.json().accessToken), 401, 'TOKEN_EXPIRED');
});

t.test('logout, logout-all and sessions', async (t) => {
  const { app } = await embeddedApp(t);
  const user = await registerUser(app);
  const second = await login(app, user.email, user.password);
  const third = await login(app, user.email, user.password);
  const stranger = await registerUser(app);

  const out = await app.inject({ method: 'POST', url: '/api/auth/logout', cookies: { refresh_token: user.refreshToken } });
  t.strictSame(out.json(), { message: 'Logged out successfully' });
  t.equal(refreshCookieOf(out)?.value, '', 'cookie cleared');
  const revoked = await me(app, user.accessToken);
  expectCode(t, revoked, 401, 'SESSION_REVOKED');
  t.match(revoked.headers['www-authenticate'], /error="invalid_token"/);
  expectCode(t, await refresh(app, user.refreshToken), 401, 'SESSION_REVOKED');

  const listed = await app.inject({ method: 'GET', url: '/api/auth/sessions', headers: bearer(second.json().accessToken) });
  t.equal(listed.statusCode, 200);
  const sessions = listed.json().sessions as Array<{ current: boolean }>;
  t.equal(sessions.length, 2, 'the two live sessions');
  t.equal(sessions.filter((session) => session.current).length, 1);

  const all = await app.inject({ method: 'POST', url: '/api/auth/logout-all', headers: bearer(third.json().accessToken) });
  t.equal(all.statusCode, 200);
  t.equal(all.json().revoked, 2);
  expectCode(t, await me(app, second.json().accessToken), 401, 'SESSION_REVOKED');
  expectCode(t, await me(app, third.json().accessToken), 401, 'SESSION_REVOKED');
  t.equal((await me(app, stranger.accessToken)).statusCode, 200, 'another user is untouched');
});

t.test('an admin role change reaches live sessions: stale token, refreshed role', async (t) => {
  const admins = adminEnv(1);
  const { app } = await embeddedApp(t, { env: admins.env });
  const admin = await registerAdmin(app, admins.emails[0]!);
  const user = await registerUser(app);
  const patch = (body: Record<string, unknown>) =>
    app.inject({ method: 'PATCH', url: `/api/admin/users/${user.id}`, headers: bearer(admin.accessToken), payload: body });
  t.equal((await patch({ role: 'PARTNER' })).statusCode, 200);
  expectCode(t, await me(app, user.accessToken), 401, 'TOKEN_STALE');
  const refreshed = await refresh(app, user.refreshToken);
  t.equal(refreshed.statusCode, 200);
  t.equal(roleOf(refreshed.json().accessToken), 'PARTNER');
  t.equal((await me(app, refreshed.json().accessToken)).json().role, 'PARTNER');

  t.equal((await patch({ disabled: true })).statusCode, 200);
  expectCode(t, await me(app, refreshed.json().accessToken), 403, 'ACCOUNT_DISABLED');
  expectCode(t, await login(app, user.email, user.password), 403, 'ACCOUNT_DISABLED');
});

t.test('bootstrap creates one admin, then 409', async (t) => {
  const { app } = await embeddedApp(t);
  const bodies = Array.from({ length: 5 }, () => ({ email: uniqueEmail('admin'), password: strongPassword(), name: 'Admin' }));
  const responses = await Promise.all(bodies.map((payload) => app.inject({ method: 'POST', url: '/api/auth/bootstrap', payload })));
  t.strictSame(responses.map((response) => response.statusCode).sort(), [201, 409, 409, 409, 409]);
  const winner = bodies[responses.findIndex((response) => response.statusCode === 201)]!;
  t.equal((await login(app, winner.email, winner.password)).json().user.role, 'ADMIN');
});
