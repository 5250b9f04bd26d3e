/** POST /logout, POST /logout-all, GET /sessions, DELETE /sessions/:id, and request ids. */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { randomUUID } from 'node:crypto';
import t from 'tap';
import type { Test } from 'tap';
import { createManualClock } from '../../src/lib/clock.js';
import { buildTestApp } from '../helpers/app.js';
import { login, me, refresh, refreshCookieOf, registerUser } from '../helpers/factories.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const sidOf = (token: string): string => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')).sid;

const logout = (app: FastifyInstance, options: { cookie?: string; token?: string } = {}) =>
  app.inject({
    method: 'POST',
    url: '/api/auth/logout',
    ...(options.cookie ? { cookies: { refresh_token: options.cookie } } : {}),
    ...(options.token ? { headers: bearer(options.token) } : {}),
  });

const listSessions = (app: FastifyInstance, token: string) => app.inject({ method: 'GET', url: '/api/auth/sessions', headers: bearer(token) });

const deleteSession = (app: FastifyInstance, token: string, id: string) =>
  app.inject({ method: 'DELETE', url: `/api/auth/sessions/${id}`, headers: bearer(token) });

/** Logs in again as the user; returns the new session's tokens. */
async function newSession(t: Test, app: FastifyInstance, email: string, password: string, userAgent = 'lightMyRequest') {
  const response = await app.inject({ method: 'POST', url: '/api/auth/login', headers: { 'user-agent': userAgent }, payload: { email, password } });
  t.equal(response.statusCode, 200, 'login');
  return { accessToken: response.json().accessToken as string, refreshToken: refreshCookieOf(response)!.value };
}

function assertCleared(t: Test, response: LightMyRequestResponse) {
  const cookie = refreshCookieOf(response);
  t.equal(cookie?.value, '', 'refresh cookie cleared');
  t.ok(cookie?.maxAge === 0 || (cookie?.expires && cookie.expires.getTime() <= Date.now()), 'already expired');
  t.equal(cookie?.path, '/api/auth', 'on the same path');
}

async function expectRevoked(t: Test, app: FastifyInstance, accessToken: string) {
  const response = await me(app, accessToken);
  t.equal(response.statusCode, 401, '/me -> 401');
  t.equal(response.json().code, 'SESSION_REVOKED');
  t.match(response.headers['www-authenticate'], /^Bearer realm="portcullis", error="invalid_token"/);
}

t.test('logout with the refresh cookie ends that session only', async (t) => {
  const { app } = await buildTestApp(t);
  const user = await registerUser(app);
  const other = await newSession(t, app, user.email, user.password);
  const response = await logout(app, { cookie: user.refreshToken });
  t.equal(response.statusCode, 200);
  t.strictSame(response.json(), { message: 'Logged out successfully' });
  assertCleared(t, response);
  await expectRevoked(t, app, user.accessToken);
  t.equal((await refresh(app, user.refreshToken)).json().code, 'SESSION_REVOKED', 'its refresh token is dead too');
  t.equal((await me(app, other.accessToken)).statusCode, 200, 'the other session lives');
});

t.test('logout with only a bearer token ends that session', async (t) => {
  const { app } = await buildTestApp(t);
  const user = await registerUser(app);
  const other = await newSession(t, app, user.email, user.password);
  const response = await logout(app, { token: user.accessToken });
  t.equal(response.statusCode, 200);
  assertCleared(t, response);
  await expectRevoked(t, app, user.accessToken);
  t.equal((await refresh(app, user.refreshToken)).json().code, 'SESSION_REVOKED');
  t.equal((await me(app, other.accessToken)).statusCode, 200, 'the other session lives');
});

t.test('a cookie that names no session does not stop a live bearer token from logging out', async (t) => {
  const { app } = await buildTestApp(t);
  const user = await registerUser(app);
  const response = await logout(app, { cookie: 'garbage', token: user.accessToken });
  t.equal(response.statusCode, 200);
  await expectRevoked(t, app, user.accessToken);
});

t.test('logout with nothing, or twice, still answers 200', async (t) => {
  const { app } = await buildTestApp(t);
  const user = await registerUser(app);
  const nothing = await logout(app);
  t.equal(nothing.statusCode, 200);
  t.strictSame(nothing.json(), { message: 'Logged out successfully' });
  t.equal((await me(app, user.accessToken)).statusCode, 200, 'and ends nobody\'s session');
  t.equal((await logout(app, { cookie: user.refreshToken })).statusCode, 200);
  const again = await logout(app, { cookie: user.refreshToken, token: user.accessToken });
  t.equal(again.statusCode, 200, 'already logged out');
  t.strictSame(again.json(), { message: 'Logged out successfully' });
  t.equal((await logout(app, { cookie: 'garbage' })).statusCode, 200, 'a garbage cookie');
});

t.test('logout-all revokes every session of the caller and no one else\'s', async (t) => {
  const { app } = await buildTestApp(t);
  const user = await registerUser(app);
  const second = await newSession(t, app, user.email, user.password);
  const third = await newSession(t, app, user.email, user.password);
  const stranger = await registerUser(app);

  const response = await app.inject({ method: 'POST', url: '/api/auth/logout-all', headers: bearer(second.accessToken) });
  t.equal(response.statusCode, 200);
  t.match(response.json(), { message: String, revoked: 3 });
  assertCleared(t, response);
  for (const token of [user.accessToken, second.accessToken, third.accessToken]) await expectRevoked(t, app, token);
  for (const token of [user.refreshToken, second.refreshToken, third.refreshToken]) {
    t.equal((await refresh(app, token)).json().code, 'SESSION_REVOKED');
  }
  t.equal((await me(app, stranger.accessToken)).statusCode, 200, 'another user is untouched');
  t.equal((await refresh(app, stranger.refreshToken)).statusCode, 200);
});

t.test('logout-all without a token -> 401 TOKEN_MISSING with a bare Bearer challenge', async (t) => {
  const { app } = await buildTestApp(t);
  const response = await app.inject({ method: 'POST', url: '/api/auth/logout-all' });
  t.equal(response.statusCode, 401);
  t.equal(response.json().code, 'TOKEN_MISSING');
  t.equal(response.headers['www-authenticate'], 'Bearer realm="portcullis"', 'no error attribute when nothing was sent');
  const invalid = await app.inject({ method: 'POST', url: '/api/auth/logout-all', headers: bearer('not.a.jwt') });
  t.equal(invalid.statusCode, 401);
  t.equal(invalid.json().code, 'TOKEN_INVALID');
  t.match(invalid.headers['www-authenticate'], /error="invalid_token"/);
});

t.test('GET /sessions lists the caller\'s active sessions, marking the current one', async (t) => {
  const clock = createManualClock(Date.UTC(2030, 0, 1));
  const { app } = await buildTestApp(t, { clock });
  const user = await registerUser(app);
  clock.advance(60_000);
  const laptop = await newSession(t, app, user.email, user.password, 'Laptop/1.0');
  clock.advance(60_000);
  const phone = await newSession(t, app, user.email, user.password, 'Phone/2.0');
  await registerUser(app);
  t.equal((await logout(app, { cookie: phone.refreshToken })).statusCode, 200, 'a revoked session is not listed');
  clock.advance(60_000);
  t.equal((await refresh(app, laptop.refreshToken)).statusCode, 200, 'refresh stamps lastUsedAt');

  const response = await listSessions(app, laptop.accessToken);
  t.equal(response.statusCode, 200);
  const { sessions } = response.json() as { sessions: Array<Record<string, unknown>> };
  t.equal(sessions.length, 2, 'the register and laptop sessions');
  for (const session of sessions) {
    t.strictSame(Object.keys(session).sort(), ['createdAt', 'current', 'expiresAt', 'id', 'ip', 'lastUsedAt', 'userAgent']);
    t.match(session.id, UUID);
    t.equal(session.ip, '127.0.0.1');
  }
  const current = sessions.filter((session) => session.current);
  t.equal(current.length, 1, 'exactly one is current');
  t.match(current[0], {
    id: sidOf(laptop.accessToken),
    userAgent: 'Laptop/1.0',
    createdAt: '2030-01-01T00:01:00.000Z',
    lastUsedAt: '2030-01-01T00:03:00.000Z',
    expiresAt: '2030-01-08T00:03:00.000Z',
  });
  const first = sessions.find((session) => session.id === sidOf(user.accessToken));
  t.match(first, { current: false, createdAt: '2030-01-01T00:00:00.000Z', lastUsedAt: '2030-01-01T00:00:00.000Z', expiresAt: '2030-01-08T00:00:00.000Z' });
  t.notOk(sessions.some((session) => session.id === sidOf(phone.accessToken)), 'not the logged-out one');

  const unauthenticated = await app.inject({ method: 'GET', url: '/api/auth/sessions' });
  t.equal(unauthenticated.statusCode, 401);
  t.equal(unauthenticated.json().code, 'TOKEN_MISSING');
});

t.test('DELETE /sessions/:id', async (t) => {
  const { app } = await buildTestApp(t);
  const user = await registerUser(app);
  const other = await newSession(t, app, user.email, user.password);
  const stranger = await registerUser(app);

  t.test('revokes one of the caller\'s sessions', async (t) => {
    const response = await deleteSession(app, user.accessToken, sidOf(other.accessToken));
    t.equal(response.statusCode, 200);
    t.strictSame(response.json(), { message: 'Session revoked' });
    await expectRevoked(t, app, other.accessToken);
    t.equal((await me(app, user.accessToken)).statusCode, 200, 'the caller\'s own session lives');
    const again = await deleteSession(app, user.accessToken, sidOf(other.accessToken));
    t.equal(again.statusCode, 404, 'an already revoked session');
    t.equal(again.json().code, 'SESSION_NOT_FOUND');
  });

  t.test('another user\'s session -> 404, and it still works', async (t) => {
    const response = await deleteSession(app, user.accessToken, sidOf(stranger.accessToken));
    t.equal(response.statusCode, 404);
    t.equal(response.json().code, 'SESSION_NOT_FOUND');
    t.equal((await me(app, stranger.accessToken)).statusCode, 200);
    t.equal((await refresh(app, stranger.refreshToken)).statusCode, 200);
  });

  t.test('an unknown uuid -> 404; a non-uuid -> 400', async (t) => {
    const unknown = await deleteSession(app, user.accessToken, randomUUID());
    t.equal(unknown.statusCode, 404);
    t.equal(unknown.json().code, 'SESSION_NOT_FOUND');
    const bad = await deleteSession(app, user.accessToken, 'not-a-uuid');
    t.equal(bad.statusCode, 400);
    t.equal(bad.json().code, 'VALIDATION_ERROR');
  });

  t.test('the caller\'s own current session', async (t) => {
    t.equal((await deleteSession(app, user.accessToken, sidOf(user.accessToken))).statusCode, 200);
    await expectRevoked(t, app, user.accessToken);
  });
});

t.test('x-request-id is echoed, in the header and in error bodies, or generated', async (t) => {
  const { app } = await buildTestApp(t);
  const sent = await app.inject({ method: 'GET', url: '/api/auth/me', headers: { 'x-request-id': 'req-abc.123' } });
  t.equal(sent.statusCode, 401);
  t.equal(sent.headers['x-request-id'], 'req-abc.123');
  t.equal(sent.json().requestId, 'req-abc.123');

  const generated = await app.inject({ method: 'GET', url: '/api/auth/me' });
  t.match(generated.headers['x-request-id'], UUID);
  t.equal(generated.json().requestId, generated.headers['x-request-id']);

  const ok = await login(app, 'nobody@example.test', 'whatever-password');
  t.match(ok.headers['x-request-id'], UUID, 'on every response');
  t.equal(ok.json().requestId, ok.headers['x-request-id']);

  const unsafe = await app.inject({ method: 'GET', url: '/api/auth/me', headers: { 'x-request-id': 'bad id\twith spaces' } });
  t.match(unsafe.headers['x-request-id'], UUID, 'an unsafe value is replaced');
});
