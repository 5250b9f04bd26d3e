/**
 * auth_events: every 401/403 (user or app) is a "denied" row with who, what, why, where from and
 * the request id; every session-changing success has its own kind; a flood of identical denials
 * is folded into one counted row past AUTH_EVENT_FLOOD_THRESHOLD per minute; old rows are deleted.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { randomUUID } from 'node:crypto';
import t from 'tap';
import type { Test } from 'tap';
import { createManualClock } from '../../src/lib/clock.js';
import { refreshCookieOf, registerUser, uniqueEmail } from '../helpers/factories.js';
import { issueToken } from './v3-admin-helpers.js';
import {
  appWithToken,
  authEventRows,
  call,
  type EventRow,
  type Json,
  loginAs,
  patchUser,
  registerWithRole,
  requestId,
  setupSupport,
  sidOf,
  type Sql,
  supportPost,
} from './support-helpers.js';

const UA = 'auth-events-tests/1.0 (+https://example.test)';

/** A request with a fresh x-request-id, a user agent and an address; returns both. */
async function traced(
  app: FastifyInstance,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  options: { token?: string; payload?: unknown; ip?: string; cookies?: Record<string, string> } = {},
): Promise<{ res: LightMyRequestResponse; rid: string }> {
  const rid = requestId('ev');
  const res = await app.inject({
    method,
    url,
    headers: { 'x-request-id': rid, 'user-agent': UA, ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) },
    remoteAddress: options.ip ?? '198.51.100.23',
    ...(options.payload !== undefined ? { payload: options.payload as Json } : {}),
    ...(options.cookies ? { cookies: options.cookies } : {}),
  });
  return { res, rid };
}

/** Exactly one event of this kind for the request; asserts the request facts every event carries. */
async function oneEvent(t: Test, app: FastifyInstance, sql: Sql, rid: string, kind: string, ip = '198.51.100.23'): Promise<EventRow | undefined> {
  const rows = await authEventRows(app, sql, sql`request_id = ${rid} and kind = ${kind}`);
  t.equal(rows.length, 1, `one ${kind} event for the request`);
  const row = rows[0];
  if (!row) return undefined;
  t.equal(row.ip, ip, 'ip');
  t.equal(row.request_id, rid, 'request_id is the x-request-id');
  t.equal(row.count, 1, 'count 1');
  t.ok(Math.abs(row.occurred_at.getTime() - Date.now()) < 60_000, 'occurred_at is now');
  return row;
}

t.test('denials: who, what, why, where from, which request', async (t) => {
  const { app, admin, sql } = await setupSupport(t);
  const consumer = await registerWithRole(app, 'CONSUMER');

  t.test('no token: TOKEN_MISSING, nobody known', async (t) => {
    const { res, rid } = await traced(app, 'GET', '/api/auth/me');
    t.equal(res.statusCode, 401);
    const row = await oneEvent(t, app, sql, rid, 'denied');
    t.match(row, { reason: 'TOKEN_MISSING', status: 401, method: 'GET', route: '/api/auth/me', user_agent: UA, user_id: null, session_id: null, app_id: null, email: null, actor: null });
  });

  t.test('the user agent is cut to 256 characters; X-Forwarded-For is not believed (TRUST_PROXY empty)', async (t) => {
    const rid = requestId('long-ua');
    const res = await app.inject({
      method: 'GET',
      url: '/api/auth/me',
      remoteAddress: '198.51.100.24',
      headers: { 'x-request-id': rid, 'user-agent': `UA-${'x'.repeat(1000)}`, 'x-forwarded-for': '10.9.8.7' },
    });
    t.equal(res.statusCode, 401);
    const row = await oneEvent(t, app, sql, rid, 'denied', '198.51.100.24');
    t.equal(row?.user_agent?.length, 256, 'user_agent is 256 characters');
    t.ok(row?.user_agent?.startsWith('UA-xxx'));
  });

  t.test('a route with parameters is recorded by its pattern', async (t) => {
    const { res, rid } = await traced(app, 'DELETE', `/api/auth/sessions/${randomUUID()}`);
    t.equal(res.statusCode, 401);
    t.match(await oneEvent(t, app, sql, rid, 'denied'), { reason: 'TOKEN_MISSING', method: 'DELETE', route: '/api/auth/sessions/:id' });
  });

  t.test('a known user on a forbidden route: ROLE_REQUIRED with the user and session', async (t) => {
    const { res, rid } = await traced(app, 'GET', '/api/admin/users?page=1', { token: consumer.accessToken });
    t.equal(res.statusCode, 403);
    const row = await oneEvent(t, app, sql, rid, 'denied');
    t.match(row, { reason: 'ROLE_REQUIRED', status: 403, method: 'GET', route: '/api/admin/users', user_agent: UA, user_id: consumer.id, session_id: sidOf(consumer.accessToken), email: null });
  });

  t.test('a revoked session: SESSION_REVOKED with the session it concerned', async (t) => {
    const session = await loginAs(app, consumer);
    t.equal((await call(app, 'POST', '/api/auth/logout', { token: session.accessToken })).statusCode, 200);
    const { res, rid } = await traced(app, 'GET', '/api/auth/sessions', { token: session.accessToken });
    t.equal(res.json().code, 'SESSION_REVOKED');
    const row = await oneEvent(t, app, sql, rid, 'denied');
    t.match(row, { reason: 'SESSION_REVOKED', status: 401, route: '/api/auth/sessions', user_id: consumer.id, session_id: session.sessionId });
  });

  t.test('a failed login of an unknown email: the email tried, normalised', async (t) => {
    const email = uniqueEmail('ghost');
    const { res, rid } = await traced(app, 'POST', '/api/auth/login', { payload: { email: `  ${email.toUpperCase()}`, password: 'whatever-it-is' } });
    t.equal(res.statusCode, 401);
    const row = await oneEvent(t, app, sql, rid, 'denied');
    t.match(row, { reason: 'INVALID_CREDENTIALS', status: 401, method: 'POST', route: '/api/auth/login', email, user_id: null, session_id: null });
  });

  t.test('a failed login of a known email: the user', async (t) => {
    const { res, rid } = await traced(app, 'POST', '/api/auth/login', { payload: { email: consumer.email, password: 'not-the-password' } });
    t.equal(res.statusCode, 401);
    t.match(await oneEvent(t, app, sql, rid, 'denied'), { reason: 'INVALID_CREDENTIALS', user_id: consumer.id, email: null });
  });

  t.test('a disabled account logging in: ACCOUNT_DISABLED', async (t) => {
    const user = await registerUser(app);
    await patchUser(app, admin.accessToken, user.id, { disabled: true });
    const { res, rid } = await traced(app, 'POST', '/api/auth/login', { payload: { email: user.email, password: user.password } });
    t.equal(res.statusCode, 403);
    t.match(await oneEvent(t, app, sql, rid, 'denied'), { reason: 'ACCOUNT_DISABLED', status: 403, user_id: user.id });
  });

  t.test('refresh-token reuse: REFRESH_TOKEN_REUSED with the session', async (t) => {
    const user = await registerUser(app);
    const cookie = app.config.REFRESH_COOKIE_NAME;
    const first = await app.inject({ method: 'POST', url: '/api/auth/refresh', cookies: { [cookie]: user.refreshToken } });
    t.equal(first.statusCode, 200);
    const second = await app.inject({ method: 'POST', url: '/api/auth/refresh', cookies: { [cookie]: refreshCookieOf(first, cookie)!.value } });
    t.equal(second.statusCode, 200);
    const { res, rid } = await traced(app, 'POST', '/api/auth/refresh', { cookies: { [cookie]: user.refreshToken } });
    t.equal(res.json().code, 'REFRESH_TOKEN_REUSED', 'a token two generations old is reuse');
    t.match(await oneEvent(t, app, sql, rid, 'denied'), { reason: 'REFRESH_TOKEN_REUSED', status: 401, route: '/api/auth/refresh', user_id: user.id, session_id: sidOf(user.accessToken) });
  });

  t.test('an app token without the permission: the app and token', async (t) => {
    const plain = await appWithToken(app, admin.accessToken, ['orders.orders.read']);
    const { res, rid } = await traced(app, 'GET', '/api/v3/auth/apps', { token: plain.token });
    t.equal(res.statusCode, 403);
    const row = await oneEvent(t, app, sql, rid, 'denied');
    t.match(row, { reason: 'V3_AUTH_PERMISSION_DENIED', status: 403, route: '/api/v3/auth/apps', app_id: plain.app_id, user_id: null });
    t.match(row?.token_id, /^[0-9a-f-]{36}$/, 'the token it concerned');
  });

  t.test('a user token on a V3 route is recorded in the V3 code the client saw', async (t) => {
    const { res, rid } = await traced(app, 'GET', '/api/v3/auth/me', { token: consumer.accessToken });
    t.equal(res.json().error.code, 'V3_AUTH_PERMISSION_DENIED');
    t.match(await oneEvent(t, app, sql, rid, 'denied'), { reason: 'V3_AUTH_PERMISSION_DENIED', status: 403, user_id: consumer.id });
  });

  t.test('only 401 and 403 are denials: not 400, 404 or 200', async (t) => {
    const notFound = await traced(app, 'GET', '/api/nowhere', { token: consumer.accessToken });
    t.equal(notFound.res.statusCode, 404);
    const invalid = await traced(app, 'POST', '/api/auth/login', { payload: { email: 'nope' } });
    t.equal(invalid.res.statusCode, 400);
    const fine = await traced(app, 'GET', '/api/auth/me', { token: consumer.accessToken });
    t.equal(fine.res.statusCode, 200);
    for (const rid of [notFound.rid, invalid.rid, fine.rid]) t.strictSame(await authEventRows(app, sql, sql`request_id = ${rid}`), [], `no event for ${rid}`);
  });
});

t.test('successes: each session-changing success has its kind', async (t) => {
  const { app, admin, sql } = await setupSupport(t);

  t.test('user.registered', async (t) => {
    const email = uniqueEmail('new');
    const { res, rid } = await traced(app, 'POST', '/api/auth/register', { payload: { email, password: `Pw-${randomUUID()}`, role: 'PARTNER' } });
    t.equal(res.statusCode, 201);
    const body = res.json() as Json;
    const row = await oneEvent(t, app, sql, rid, 'user.registered');
    t.match(row, { user_id: body.user.id, session_id: sidOf(body.accessToken), user_agent: UA, reason: null, status: null, details: { role: 'PARTNER' } });
  });

  t.test('login.succeeded', async (t) => {
    const user = await registerUser(app);
    const { res, rid } = await traced(app, 'POST', '/api/auth/login', { payload: { email: user.email, password: user.password } });
    t.equal(res.statusCode, 200);
    t.match(await oneEvent(t, app, sql, rid, 'login.succeeded'), { user_id: user.id, session_id: sidOf(res.json().accessToken), user_agent: UA, reason: null });
  });

  t.test('session.refreshed', async (t) => {
    const user = await registerUser(app);
    const { res, rid } = await traced(app, 'POST', '/api/auth/refresh', { cookies: { [app.config.REFRESH_COOKIE_NAME]: user.refreshToken } });
    t.equal(res.statusCode, 200);
    t.match(await oneEvent(t, app, sql, rid, 'session.refreshed'), { user_id: user.id, session_id: sidOf(user.accessToken), user_agent: UA });
  });

  t.test('session.logged_out', async (t) => {
    const user = await registerUser(app);
    const { res, rid } = await traced(app, 'POST', '/api/auth/logout', { token: user.accessToken });
    t.equal(res.statusCode, 200);
    t.match(await oneEvent(t, app, sql, rid, 'session.logged_out'), { user_id: user.id, session_id: sidOf(user.accessToken) });
    const again = await traced(app, 'POST', '/api/auth/logout', { token: user.accessToken });
    t.equal(again.res.statusCode, 200, 'a second logout still answers 200');
    t.strictSame(await authEventRows(app, sql, sql`request_id = ${again.rid} and kind = 'session.logged_out'`), [], 'but ends nothing, so records nothing');
  });

  t.test('sessions.revoked_all', async (t) => {
    const user = await registerUser(app);
    await loginAs(app, user);
    const { res, rid } = await traced(app, 'POST', '/api/auth/logout-all', { token: user.accessToken });
    t.equal(res.statusCode, 200);
    t.match(await oneEvent(t, app, sql, rid, 'sessions.revoked_all'), { user_id: user.id, session_id: sidOf(user.accessToken), actor: `user:${user.id}`, details: { revoked: 2 } });
  });

  t.test('session.revoked (DELETE /api/auth/sessions/:id)', async (t) => {
    const user = await registerUser(app);
    const other = await loginAs(app, user);
    const { res, rid } = await traced(app, 'DELETE', `/api/auth/sessions/${other.sessionId}`, { token: user.accessToken });
    t.equal(res.statusCode, 200);
    t.match(await oneEvent(t, app, sql, rid, 'session.revoked'), { user_id: user.id, session_id: other.sessionId, actor: `user:${user.id}` });
  });

  t.test('user.role_changed, user.disabled, user.enabled: with the acting admin', async (t) => {
    const user = await registerWithRole(app, 'CONSUMER');
    const role = await traced(app, 'PATCH', `/api/admin/users/${user.id}`, { token: admin.accessToken, payload: { role: 'PARTNER' } });
    t.equal(role.res.statusCode, 200);
    t.match(await oneEvent(t, app, sql, role.rid, 'user.role_changed'), { user_id: user.id, actor: `user:${admin.id}`, details: { from: 'CONSUMER', to: 'PARTNER' } });
    const disable = await traced(app, 'PATCH', `/api/admin/users/${user.id}`, { token: admin.accessToken, payload: { disabled: true } });
    t.equal(disable.res.statusCode, 200);
    t.match(await oneEvent(t, app, sql, disable.rid, 'user.disabled'), { user_id: user.id, actor: `user:${admin.id}` });
    const enable = await traced(app, 'PATCH', `/api/admin/users/${user.id}`, { token: admin.accessToken, payload: { disabled: false } });
    t.equal(enable.res.statusCode, 200);
    t.match(await oneEvent(t, app, sql, enable.rid, 'user.enabled'), { user_id: user.id, actor: `user:${admin.id}` });
    const same = await traced(app, 'PATCH', `/api/admin/users/${user.id}`, { token: admin.accessToken, payload: { role: 'PARTNER', disabled: false } });
    t.equal(same.res.statusCode, 200);
    t.strictSame(await authEventRows(app, sql, sql`request_id = ${same.rid}`), [], 'a patch that changes nothing records nothing');
  });

  t.test('app.token_issued', async (t) => {
    const created = await appWithToken(app, admin.accessToken, ['orders.orders.read']);
    const rid = requestId('token');
    const res = await issueToken(app, created, { requestId: rid });
    t.equal(res.statusCode, 200);
    const row = await oneEvent(t, app, sql, rid, 'app.token_issued', '127.0.0.1');
    t.match(row, { app_id: created.app_id, user_id: null, details: { organization_id: res.json().data.organization_id } });
    t.match(row?.token_id, /^[0-9a-f-]{36}$/, 'the token id');
  });

  t.test('sessions.revoked_by_support', async (t) => {
    const user = await registerUser(app);
    const rid = requestId('support');
    const res = await supportPost(app, admin.accessToken, `/users/${user.id}/revoke-sessions`, {}, { headers: { 'x-request-id': rid }, remoteAddress: '198.51.100.23' });
    t.equal(res.statusCode, 200);
    t.match(await oneEvent(t, app, sql, rid, 'sessions.revoked_by_support'), { user_id: user.id, actor: `user:${admin.id}`, details: { revoked: 1 } });
  });

  t.test('no event carries a token or a hash', async (t) => {
    const rows = await authEventRows(app, sql);
    t.ok(rows.length > 10, 'the events of this test');
    const raw = JSON.stringify(rows);
    t.notOk(raw.includes(admin.accessToken), 'no access token');
    t.notOk(raw.includes(admin.refreshToken), 'no refresh token');
    t.notOk(raw.includes('$argon2'), 'no password hash');
  });
});

t.test('login.locked after LOGIN_THROTTLE_AFTER failures', async (t) => {
  const { app, sql } = await setupSupport(t, { env: { LOGIN_THROTTLE_AFTER: '2' } });
  const user = await registerUser(app);
  const ip = '203.0.113.45';
  const rids: string[] = [];
  for (let i = 0; i < 2; i++) {
    const { res, rid } = await traced(app, 'POST', '/api/auth/login', { payload: { email: user.email, password: 'wrong-password' }, ip });
    t.equal(res.statusCode, 401, `failure ${i + 1}`);
    rids.push(rid);
  }
  const locked = await authEventRows(app, sql, sql`kind = 'login.locked'`);
  t.equal(locked.length, 1, 'one lock event');
  t.match(locked[0], { reason: 'LOGIN_THROTTLED', user_id: user.id, email: null, actor: 'system', ip, user_agent: UA, request_id: rids[1], details: { scope: 'pair' } });
  t.type(locked[0]?.details.retry_after_seconds, 'number');
  const throttled = await traced(app, 'POST', '/api/auth/login', { payload: { email: user.email, password: user.password }, ip });
  t.equal(throttled.res.statusCode, 429, 'the next attempt is throttled');

  const ghost = uniqueEmail('ghost');
  for (let i = 0; i < 2; i++) await traced(app, 'POST', '/api/auth/login', { payload: { email: ghost, password: 'wrong-password' }, ip });
  t.match(await authEventRows(app, sql, sql`kind = 'login.locked' and email = ${ghost}`), [{ user_id: null, email: ghost, reason: 'LOGIN_THROTTLED' }], 'an unknown email is locked and recorded by the email tried');
});

/** Ten identical denials (GET /api/auth/me, no token, one address). */
async function flood(app: FastifyInstance, ip: string, times = 10) {
  for (let i = 0; i < times; i++) {
    const res = await app.inject({ method: 'GET', url: '/api/auth/me', remoteAddress: ip, headers: { 'user-agent': UA } });
    if (res.statusCode !== 401) throw new Error(`expected 401, got ${res.statusCode}`);
  }
}

function assertFolded(t: Test, rows: EventRow[], total: number, threshold: number) {
  const single = rows.filter((row) => row.count === 1);
  const folded = rows.filter((row) => row.details.folded === true);
  t.equal(single.length, threshold, `${threshold} rows of count 1`);
  t.equal(folded.length, 1, 'one folded row');
  t.equal(folded[0]?.count, total - threshold, `the folded row counts ${total - threshold}`);
  t.equal(rows.reduce((sum, row) => sum + row.count, 0), total, `counts add up to ${total}`);
  t.match(folded[0], { kind: 'denied', reason: 'TOKEN_MISSING', status: 401, method: 'GET', route: '/api/auth/me', user_agent: UA });
  t.match(folded[0]?.details.window_start, /^\d{4}-\d{2}-\d{2}T/, 'with the start of its window');
  for (const row of single) t.notOk(row.details.folded, 'the first rows are plain');
}

t.test('a flood of identical denials is folded past AUTH_EVENT_FLOOD_THRESHOLD', async (t) => {
  t.test('emitted on close: 3 rows of count 1 and one row of count 7', async (t) => {
    const { app, sql } = await setupSupport(t, { env: { AUTH_EVENT_FLOOD_THRESHOLD: '3' } });
    const ip = '203.0.113.77';
    await flood(app, ip);
    await app.inject({ method: 'GET', url: '/api/auth/me', remoteAddress: '203.0.113.78' });
    const before = await authEventRows(app, sql, sql`ip = ${ip}`);
    t.equal(before.length, 3, 'flush alone writes the rows under the threshold; the fold waits for its minute');
    await app.authEvents.close();
    const rows = await authEventRows(app, sql, sql`ip = ${ip}`);
    t.equal(rows.length, 4, 'four rows for ten requests');
    assertFolded(t, rows, 10, 3);
    t.equal((await authEventRows(app, sql, sql`ip = '203.0.113.78'`)).length, 1, 'another address is its own key');
    await app.authEvents.close();
    t.equal((await authEventRows(app, sql, sql`ip = ${ip}`)).length, 4, 'closing again writes nothing more (app.close() at teardown closes it once more)');
  });

  t.test('emitted when its minute ends (manual clock)', async (t) => {
    const clock = createManualClock();
    const { app, sql } = await setupSupport(t, { clock, env: { AUTH_EVENT_FLOOD_THRESHOLD: '3' } });
    const ip = '203.0.113.88';
    const start = clock.now();
    await flood(app, ip);
    t.equal((await authEventRows(app, sql, sql`ip = ${ip}`)).length, 3, 'within the minute: only the first three');
    clock.advance(61_000);
    await flood(app, ip, 1);
    const rows = await authEventRows(app, sql, sql`ip = ${ip}`);
    const firstMinute = rows.filter((row) => row.details.folded === true || row.occurred_at.getTime() < start + 60_000);
    assertFolded(t, firstMinute, 10, 3);
    t.equal(new Date(firstMinute.find((row) => row.details.folded)!.details.window_start as string).getTime(), start, 'window_start is the first denial');
    const nextMinute = rows.filter((row) => !firstMinute.includes(row));
    t.equal(nextMinute.length, 1, 'the next minute starts a new count');
    t.equal(nextMinute[0]?.count, 1);
  });

  t.test('different reasons, subjects or routes are different keys', async (t) => {
    const { app, sql } = await setupSupport(t, { env: { AUTH_EVENT_FLOOD_THRESHOLD: '2' } });
    const ip = '203.0.113.99';
    const consumer = await registerWithRole(app, 'CONSUMER');
    for (let i = 0; i < 2; i++) {
      await app.inject({ method: 'GET', url: '/api/auth/me', remoteAddress: ip });
      await app.inject({ method: 'GET', url: '/api/auth/sessions', remoteAddress: ip });
      await app.inject({ method: 'GET', url: '/api/admin/users', remoteAddress: ip, headers: { authorization: `Bearer ${consumer.accessToken}` } });
      await app.inject({ method: 'GET', url: '/api/admin/users', remoteAddress: ip, headers: { authorization: 'Bearer garbage' } });
    }
    await app.authEvents.close();
    const rows = await authEventRows(app, sql, sql`ip = ${ip}`);
    t.equal(rows.length, 8, 'at the threshold nothing is folded');
    t.notOk(rows.some((row) => row.details.folded), 'no folded row');
  });

  t.test('at or under the threshold: no folded row', async (t) => {
    const { app, sql } = await setupSupport(t, { env: { AUTH_EVENT_FLOOD_THRESHOLD: '3' } });
    const ip = '203.0.113.101';
    await flood(app, ip, 3);
    await app.authEvents.close();
    const rows = await authEventRows(app, sql, sql`ip = ${ip}`);
    t.equal(rows.length, 3);
    t.ok(rows.every((row) => row.count === 1 && !row.details.folded));
  });
});

t.test('retention: deleteOlderThan(days) removes only older rows', async (t) => {
  const { app, sql } = await setupSupport(t);
  await app.inject({ method: 'GET', url: '/api/auth/me', remoteAddress: '203.0.113.120' });
  await app.authEvents.flush();
  const mark = (label: string) => `retention-${label}-${randomUUID()}`;
  const old = mark('100d');
  const older = mark('91d');
  const recent = mark('89d');
  await sql`insert into auth_events (occurred_at, kind, reason, status, request_id) values
    (now() - interval '100 days', 'denied', 'TOKEN_MISSING', 401, ${old}),
    (now() - interval '91 days', 'login.succeeded', null, null, ${older}),
    (now() - interval '89 days', 'denied', 'TOKEN_MISSING', 401, ${recent})`;
  const deleted = await app.authEvents.deleteOlderThan(90);
  t.equal(deleted, 2, 'two rows were older than 90 days');
  const left = async (rid: string) => (await sql`select 1 from auth_events where request_id = ${rid}`).length;
  t.equal(await left(old), 0, 'the 100-day-old row is gone');
  t.equal(await left(older), 0, 'the 91-day-old row is gone');
  t.equal(await left(recent), 1, 'the 89-day-old row stays');
  t.equal((await authEventRows(app, sql, sql`ip = '203.0.113.120'`)).length, 1, "today's row stays");
  t.equal(app.config.AUTH_EVENT_RETENTION_DAYS, 90, 'the default retention the hourly cleanup uses');
});
