/** POST /api/auth/refresh (and /refresh-token): rotation, replay in the grace window, reuse detection, expiry. */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import t from 'tap';
import type { Test } from 'tap';
import { createManualClock } from '../../src/lib/clock.js';
import { buildTestApp } from '../helpers/app.js';
import { adminEnv, login, me, refresh, refreshCookieOf, registerAdmin, registerUser } from '../helpers/factories.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));

const refreshVia = (app: FastifyInstance, url: string, token: string) =>
  app.inject({ method: 'POST', url, cookies: { [app.config.REFRESH_COOKIE_NAME]: token } });

/** A successful refresh: returns the new cookie value and access token. */
function rotated(t: Test, response: LightMyRequestResponse) {
  t.equal(response.statusCode, 200, 'refresh succeeds');
  const cookie = refreshCookieOf(response);
  t.ok(cookie, 'a refresh cookie is set');
  t.match(cookie, { httpOnly: true, path: '/api/auth', sameSite: 'Strict' });
  t.strictSame(Object.keys(response.json()), ['accessToken']);
  return { refreshToken: cookie!.value, accessToken: response.json().accessToken as string, maxAge: cookie!.maxAge };
}

/** A failed refresh: status 401, the code, and the cookie cleared with the same path. */
function rejected(t: Test, response: LightMyRequestResponse, code: string) {
  t.equal(response.statusCode, 401, `401 ${code}`);
  t.equal(response.json().code, code);
  const cookie = refreshCookieOf(response);
  t.ok(cookie, 'the cookie is cleared');
  t.equal(cookie?.value, '', 'with an empty value');
  t.ok(cookie?.maxAge === 0 || (cookie?.expires !== undefined && cookie.expires.getTime() <= Date.now()), 'and Max-Age=0 or an Expires in the past');
  t.equal(cookie?.path, '/api/auth', 'on the path it was set on');
}

async function expectMe(t: Test, app: FastifyInstance, accessToken: string, status: number, code?: string) {
  const response = await me(app, accessToken);
  t.equal(response.statusCode, status, `/me -> ${status}`);
  if (code) t.equal(response.json().code, code);
  return response;
}

t.test('rotation: a new refresh token and a working access token, on both paths', async (t) => {
  const { app } = await buildTestApp(t);
  const user = await registerUser(app);
  const first = rotated(t, await refresh(app, user.refreshToken));
  t.not(first.refreshToken, user.refreshToken, 'the cookie value changes');
  t.equal(first.maxAge, 604800, 'Max-Age is the refresh TTL');
  t.not(first.accessToken, user.accessToken);
  t.equal(claimsOf(first.accessToken).sid, claimsOf(user.accessToken).sid, 'same session');
  await expectMe(t, app, first.accessToken, 200);

  const second = rotated(t, await refreshVia(app, '/api/auth/refresh-token', first.refreshToken));
  t.not(second.refreshToken, first.refreshToken, 'the alias rotates too');
  await expectMe(t, app, second.accessToken, 200);
});

t.test('the predecessor within the grace window replays the same successor and a fresh access token', async (t) => {
  const clock = createManualClock();
  const { app } = await buildTestApp(t, { clock, env: { REFRESH_REUSE_GRACE_SECONDS: '5' } });
  const user = await registerUser(app);
  const first = rotated(t, await refresh(app, user.refreshToken));
  clock.advance(5 * SECOND);
  const replay = rotated(t, await refresh(app, user.refreshToken));
  t.equal(replay.refreshToken, first.refreshToken, 'the same new cookie value');
  t.not(replay.accessToken, first.accessToken, 'a fresh access token');
  await expectMe(t, app, replay.accessToken, 200);
  const next = rotated(t, await refresh(app, first.refreshToken));
  t.not(next.refreshToken, first.refreshToken, 'the successor is still current and rotates');
});

t.test('10 concurrent refreshes with one token all succeed with the same new cookie', async (t) => {
  const { app } = await buildTestApp(t);
  const user = await registerUser(app);
  const responses = await Promise.all(Array.from({ length: 10 }, () => refresh(app, user.refreshToken)));
  t.strictSame(responses.map((response) => response.statusCode), Array(10).fill(200), 'all 200');
  const values = new Set(responses.map((response) => refreshCookieOf(response)?.value));
  t.equal(values.size, 1, 'one successor, not a forked session');
  const [successor] = values;
  t.not(successor, user.refreshToken);
  rotated(t, await refresh(app, successor!));
});

t.test('the predecessor after the grace window is reuse: the whole session is revoked', async (t) => {
  const clock = createManualClock();
  const { app } = await buildTestApp(t, { clock, env: { REFRESH_REUSE_GRACE_SECONDS: '5' } });
  const user = await registerUser(app);
  const current = rotated(t, await refresh(app, user.refreshToken));
  clock.advance(5 * SECOND + 1);
  rejected(t, await refresh(app, user.refreshToken), 'REFRESH_TOKEN_REUSED');
  rejected(t, await refresh(app, current.refreshToken), 'SESSION_REVOKED');
  const stale = await expectMe(t, app, current.accessToken, 401, 'SESSION_REVOKED');
  t.match(stale.headers['www-authenticate'], /error="invalid_token"/);
  await expectMe(t, app, user.accessToken, 401, 'SESSION_REVOKED');
});

t.test('a token two generations old is reuse, even inside the grace window', async (t) => {
  const { app } = await buildTestApp(t);
  const user = await registerUser(app);
  const other = await login(app, user.email, user.password);
  const first = rotated(t, await refresh(app, user.refreshToken));
  const second = rotated(t, await refresh(app, first.refreshToken));
  rejected(t, await refresh(app, user.refreshToken), 'REFRESH_TOKEN_REUSED');
  rejected(t, await refresh(app, second.refreshToken), 'SESSION_REVOKED');
  await expectMe(t, app, second.accessToken, 401, 'SESSION_REVOKED');
  await expectMe(t, app, other.json().accessToken, 200);
  rotated(t, await refresh(app, refreshCookieOf(other)!.value));
});

t.test('no cookie -> 401 REFRESH_TOKEN_MISSING', async (t) => {
  const { app } = await buildTestApp(t);
  rejected(t, await refresh(app, undefined), 'REFRESH_TOKEN_MISSING');
  rejected(t, await refreshVia(app, '/api/auth/refresh', ''), 'REFRESH_TOKEN_MISSING');
});

t.test('tampered, truncated or garbage cookies are invalid and revoke nothing', async (t) => {
  const { app } = await buildTestApp(t);
  const user = await registerUser(app);
  const token = user.refreshToken;
  const flip = (index: number) => token.slice(0, index) + (token[index] === 'A' ? 'B' : 'A') + token.slice(index + 1);
  const forgeries: Record<string, string> = {
    'a changed user id byte': flip(5),
    'a changed session id byte': flip(30),
    'a changed random byte': flip(60),
    'a changed MAC byte': flip(100),
    truncated: token.slice(0, -1),
    'one character longer': `${token}A`,
    'without its prefix': token.slice(3),
    garbage: 'garbage',
    'the right length of junk': `rt_${'x'.repeat(token.length - 3)}`,
  };
  for (const [label, forged] of Object.entries(forgeries)) {
    t.test(label, async (t) => rejected(t, await refresh(app, forged), 'REFRESH_TOKEN_INVALID'));
  }
  t.test('the session still works afterwards', async (t) => {
    await expectMe(t, app, user.accessToken, 200);
    rotated(t, await refresh(app, token));
  });
});

// Regression: parse() accepted non-canonical base64url, so the digest differed and the store saw reuse.
t.test(
  'a non-canonical encoding of a real token (unused low bits of the last character) is invalid, not reuse',
  async (t) => {
    const { app } = await buildTestApp(t);
    const user = await registerUser(app);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(user.refreshToken.at(-1)!);
    const variant = user.refreshToken.slice(0, -1) + alphabet[last ^ 1];
    t.strictSame(Buffer.from(variant.slice(3), 'base64url'), Buffer.from(user.refreshToken.slice(3), 'base64url'), 'same bytes');
    rejected(t, await refresh(app, variant), 'REFRESH_TOKEN_INVALID');
    await expectMe(t, app, user.accessToken, 200);
  },
);

t.test('a refresh token past JWT_REFRESH_TTL -> 401 REFRESH_TOKEN_EXPIRED', async (t) => {
  const clock = createManualClock();
  const { app } = await buildTestApp(t, { clock });
  const user = await registerUser(app);
  const other = await login(app, user.email, user.password);
  clock.advance(604800 * SECOND - 1);
  rotated(t, await refresh(app, refreshCookieOf(other)!.value));
  clock.advance(1);
  rejected(t, await refresh(app, user.refreshToken), 'REFRESH_TOKEN_EXPIRED');
});

t.test('rotation never extends the absolute session lifetime', async (t) => {
  const clock = createManualClock();
  const { app } = await buildTestApp(t, { clock, env: { SESSION_ABSOLUTE_TTL: '1h', JWT_REFRESH_TTL: '45m' } });
  const user = await registerUser(app);
  const started = await login(app, user.email, user.password);
  t.equal(refreshCookieOf(started)!.maxAge, 45 * 60, 'at first the refresh TTL');

  clock.advance(40 * MINUTE);
  const first = rotated(t, await refresh(app, refreshCookieOf(started)!.value));
  t.equal(first.maxAge, 20 * 60, 'Max-Age shrinks to the remaining absolute lifetime');

  clock.advance(15 * MINUTE);
  const second = rotated(t, await refresh(app, first.refreshToken));
  t.equal(second.maxAge, 5 * 60);
  const claims = claimsOf(second.accessToken);
  t.equal(claims.exp - claims.iat, 5 * 60, 'the access token ends with the session');

  clock.advance(5 * MINUTE);
  rejected(t, await refresh(app, second.refreshToken), 'SESSION_EXPIRED');
  // The access token was capped at the session's end, so it has expired by then too.
  await expectMe(t, app, second.accessToken, 401, 'TOKEN_EXPIRED');
});

t.test('refresh after logout -> 401 SESSION_REVOKED', async (t) => {
  const { app } = await buildTestApp(t);
  const user = await registerUser(app);
  const current = rotated(t, await refresh(app, user.refreshToken));
  const logout = await app.inject({ method: 'POST', url: '/api/auth/logout', cookies: { refresh_token: current.refreshToken } });
  t.equal(logout.statusCode, 200);
  rejected(t, await refresh(app, current.refreshToken), 'SESSION_REVOKED');
  rejected(t, await refresh(app, user.refreshToken), 'SESSION_REVOKED');
});

t.test('a refreshed access token carries the role from the session after an admin changes it', async (t) => {
  const admins = adminEnv(1);
  const { app } = await buildTestApp(t, { env: admins.env });
  const admin = await registerAdmin(app, admins.emails[0]!);
  const user = await registerUser(app);
  t.equal(claimsOf(user.accessToken).role, 'CONSUMER');
  const patched = await app.inject({
    method: 'PATCH',
    url: `/api/admin/users/${user.id}`,
    headers: { authorization: `Bearer ${admin.accessToken}` },
    payload: { role: 'PARTNER' },
  });
  t.equal(patched.statusCode, 200);
  const stale = await expectMe(t, app, user.accessToken, 401, 'TOKEN_STALE');
  t.match(stale.headers['www-authenticate'], /error="invalid_token"/);

  const next = rotated(t, await refresh(app, user.refreshToken));
  t.equal(claimsOf(next.accessToken).role, 'PARTNER');
  const fresh = await expectMe(t, app, next.accessToken, 200);
  t.equal(fresh.json().role, 'PARTNER');
});
