/**
 * /api/support: who may call it (ADMIN users, apps with auth-admin.support.read; 403 ROLE_REQUIRED
 * for other roles, 403 PERMISSION_REQUIRED for other apps, 401 without a usable token), 404 and
 * 400 answers, the exact shapes of the user and app reports, log-out-everywhere on the user's
 * behalf, and that no answer ever carries a password hash, secret hash or token.
 */
import type { LightMyRequestResponse } from 'fastify';
import { randomUUID } from 'node:crypto';
import t from 'tap';
import type { Test } from 'tap';
import { ERRORS } from '../../src/errors.js';
import { registerUser, uniqueEmail } from '../helpers/factories.js';
import { issueToken } from './v3-admin-helpers.js';
import {
  type AppWithToken,
  appWithToken,
  assertNoSecrets,
  authEventRows,
  bearer,
  call,
  eventByRequest,
  ISO,
  type Json,
  loginAs,
  passwordHashOf,
  registerWithRole,
  requestId,
  secretHashesOf,
  setupSupport,
  sidOf,
  SUPPORT_PERMISSION,
  supportGet,
  supportPost,
  UUID,
} from './support-helpers.js';

const USER_REPORT_KEYS = ['account', 'events', 'loginLock', 'sessions'];
const ACCOUNT_KEYS = ['createdAt', 'disabled', 'email', 'id', 'lastLoginAt', 'name', 'passwordChangedAt', 'role'];
const SESSION_KEYS = ['createdAt', 'expiresAt', 'id', 'ip', 'lastUsedAt', 'userAgent'];
const EVENT_KEYS = ['actor', 'count', 'ip', 'kind', 'meaning', 'method', 'occurredAt', 'reason', 'requestId', 'route', 'sessionId', 'status', 'userAgent'];
const APP_REPORT_KEYS = ['app', 'liveTokens', 'organizations', 'permissions', 'recentDenials', 'secrets'];
const EXPLANATION_KEYS = ['checks', 'code', 'decision', 'meaning', 'requirement', 'route', 'status'];

/** Our JSON error: exactly {error, code, requestId} with this status and code. */
function expectJsonError(t: Test, res: LightMyRequestResponse, status: number, code: string, label = '') {
  t.equal(res.statusCode, status, `${label}status ${status}${res.statusCode === status ? '' : `: ${res.body.slice(0, 200)}`}`);
  const body = res.json() as Json;
  t.equal(body.code, code, `${label}code ${code}`);
  t.equal(body.requestId, res.headers['x-request-id'], `${label}requestId is the x-request-id header`);
  t.type(body.error, 'string');
}

t.test('who may call each support endpoint', async (t) => {
  const { app, admin } = await setupSupport(t);
  const partner = await registerWithRole(app, 'PARTNER');
  const consumer = await registerWithRole(app, 'CONSUMER');
  const subject = await registerUser(app);
  const staffApp = await appWithToken(app, admin.accessToken, [SUPPORT_PERMISSION]);
  const otherApp = await appWithToken(app, admin.accessToken, ['orders.orders.read']);

  interface Endpoint {
    name: string;
    request: (token: string | undefined) => Promise<LightMyRequestResponse>;
    shape: (t: Test, body: Json) => void;
  }
  const endpoints: Endpoint[] = [
    {
      name: 'GET /api/support/users/lookup?email=',
      request: (token) => supportGet(app, token, '/users/lookup', { query: { email: subject.email } }),
      shape: (t, body) => {
        t.strictSame(Object.keys(body).sort(), USER_REPORT_KEYS);
        t.equal(body.account.id, subject.id);
      },
    },
    {
      name: 'GET /api/support/users/:id',
      request: (token) => supportGet(app, token, `/users/${subject.id}`),
      shape: (t, body) => {
        t.strictSame(Object.keys(body).sort(), USER_REPORT_KEYS);
        t.equal(body.account.email, subject.email);
      },
    },
    {
      name: 'POST /api/support/explain',
      request: (token) => supportPost(app, token, '/explain', { userId: subject.id, method: 'GET', path: '/api/auth/me' }),
      shape: (t, body) => {
        t.strictSame(Object.keys(body).sort(), EXPLANATION_KEYS);
        t.equal(body.decision, 'ALLOW');
      },
    },
    {
      name: 'GET /api/support/apps/:id',
      request: (token) => supportGet(app, token, `/apps/${otherApp.app_id}`),
      shape: (t, body) => {
        t.strictSame(Object.keys(body).sort(), APP_REPORT_KEYS);
        t.equal(body.app.id, otherApp.app_id);
      },
    },
    {
      name: 'POST /api/support/users/:id/revoke-sessions',
      request: (token) => supportPost(app, token, `/users/${subject.id}/revoke-sessions`),
      shape: (t, body) => {
        t.strictSame(Object.keys(body).sort(), ['message', 'revoked']);
        t.type(body.revoked, 'number');
      },
    },
  ];

  for (const endpoint of endpoints) {
    t.test(endpoint.name, async (t) => {
      const byAdmin = await endpoint.request(admin.accessToken);
      t.equal(byAdmin.statusCode, 200, `ADMIN user: 200${byAdmin.statusCode === 200 ? '' : `: ${byAdmin.body.slice(0, 200)}`}`);
      endpoint.shape(t, byAdmin.json());

      expectJsonError(t, await endpoint.request(partner.accessToken), 403, 'ROLE_REQUIRED', 'PARTNER: ');
      expectJsonError(t, await endpoint.request(consumer.accessToken), 403, 'ROLE_REQUIRED', 'CONSUMER: ');
      const missing = await endpoint.request(undefined);
      expectJsonError(t, missing, 401, 'TOKEN_MISSING', 'no token: ');
      t.equal(missing.headers['www-authenticate'], 'Bearer realm="portcullis"', 'no token: a bare challenge');
      expectJsonError(t, await endpoint.request('not-a-real-token'), 401, 'TOKEN_INVALID', 'garbage token: ');
      expectJsonError(t, await endpoint.request(`${admin.accessToken.slice(0, -4)}AAAA`), 401, 'TOKEN_INVALID', 'tampered ADMIN token: ');

      const byStaffApp = await endpoint.request(staffApp.token);
      t.equal(byStaffApp.statusCode, 200, `app with ${SUPPORT_PERMISSION}: 200${byStaffApp.statusCode === 200 ? '' : `: ${byStaffApp.body.slice(0, 200)}`}`);
      endpoint.shape(t, byStaffApp.json());
      expectJsonError(t, await endpoint.request(otherApp.token), 403, 'PERMISSION_REQUIRED', `app without ${SUPPORT_PERMISSION}: `);
    });
  }
});

t.test('404 for unknown users and apps, 400 for bad emails, ids and bodies', async (t) => {
  const { app, admin } = await setupSupport(t);
  const token = admin.accessToken;
  const unknownId = randomUUID();

  expectJsonError(t, await supportGet(app, token, '/users/lookup', { query: { email: uniqueEmail('nobody') } }), 404, 'USER_NOT_FOUND', 'lookup of an unknown email: ');
  expectJsonError(t, await supportGet(app, token, `/users/${unknownId}`), 404, 'USER_NOT_FOUND', 'unknown user id: ');
  expectJsonError(t, await supportPost(app, token, `/users/${unknownId}/revoke-sessions`), 404, 'USER_NOT_FOUND', 'revoke-sessions of an unknown user: ');
  expectJsonError(t, await supportPost(app, token, '/explain', { userId: unknownId, method: 'GET', path: '/api/auth/me' }), 404, 'USER_NOT_FOUND', 'explain for an unknown user id: ');
  expectJsonError(t, await supportPost(app, token, '/explain', { email: uniqueEmail('nobody'), method: 'GET', path: '/api/auth/me' }), 404, 'USER_NOT_FOUND', 'explain for an unknown email: ');
  const noApp = await supportGet(app, token, `/apps/${unknownId}`);
  expectJsonError(t, noApp, 404, 'NOT_FOUND', 'unknown app: ');
  t.equal(noApp.json().error, 'App not found');

  expectJsonError(t, await supportGet(app, token, '/users/lookup', { query: { email: 'not-an-email' } }), 400, 'VALIDATION_ERROR', 'bad email: ');
  expectJsonError(t, await supportGet(app, token, '/users/lookup'), 400, 'VALIDATION_ERROR', 'no email: ');
  expectJsonError(t, await supportGet(app, token, '/users/not-a-uuid'), 400, 'VALIDATION_ERROR', 'bad user id: ');
  expectJsonError(t, await supportGet(app, token, '/apps/not-a-uuid'), 400, 'VALIDATION_ERROR', 'bad app id: ');
  expectJsonError(t, await supportPost(app, token, '/users/1234/revoke-sessions'), 400, 'VALIDATION_ERROR', 'bad id to revoke: ');
  expectJsonError(t, await supportPost(app, token, '/explain', {}), 400, 'VALIDATION_ERROR', 'empty explain body: ');
  expectJsonError(t, await supportPost(app, token, '/explain', { userId: 'nope', method: 'GET', path: '/api/auth/me' }), 400, 'VALIDATION_ERROR', 'explain with a bad user id: ');
  expectJsonError(t, await supportPost(app, token, '/explain', { email: 'nope', method: 'GET', path: '/api/auth/me' }), 400, 'VALIDATION_ERROR', 'explain with a bad email: ');
  expectJsonError(t, await supportPost(app, token, '/explain', { token: 'x', method: 'FETCH', path: '/api/auth/me' }), 400, 'VALIDATION_ERROR', 'explain with an unknown method: ');
  expectJsonError(t, await supportPost(app, token, '/explain', { token: 'x', userId: randomUUID(), method: 'GET', path: '/api/auth/me' }), 400, 'VALIDATION_ERROR', 'explain with a token and a user: ');
});

t.test('the user report: account, active sessions, recent events newest first with meanings', async (t) => {
  const { app, admin, sql } = await setupSupport(t);
  const user = await registerUser(app, { name: 'Dana Support' });
  const sessionA = await loginAs(app, user, { userAgent: 'Browser A/1.0', ip: '198.51.100.11' });
  const sessionB = await loginAs(app, user, { userAgent: 'Browser B/2.0', ip: '198.51.100.12' });
  // Denials the support person should read about: a forbidden route and a wrong password.
  const forbiddenRid = requestId('forbidden');
  const forbidden = await call(app, 'GET', '/api/admin/users', { token: sessionA.accessToken, headers: { 'x-request-id': forbiddenRid, 'user-agent': 'support-tests/1.0' }, remoteAddress: '198.51.100.11' });
  t.equal(forbidden.statusCode, 403);
  const wrongRid = requestId('wrong-password');
  const wrong = await app.inject({ method: 'POST', url: '/api/auth/login', headers: { 'x-request-id': wrongRid }, payload: { email: user.email, password: 'not the password at all' } });
  t.equal(wrong.statusCode, 401);
  // The registration's session ends: two remain.
  const out = await app.inject({ method: 'POST', url: '/api/auth/logout', headers: bearer(user.accessToken) });
  t.equal(out.statusCode, 200);
  await app.authEvents.flush();
  await app.loginStamps.flush();

  const [row] = await sql<{ created_at: Date; last_login_at: Date | null; password_changed_at: Date }[]>`
    select created_at, last_login_at, password_changed_at from users where id = ${user.id}`;

  const res = await supportGet(app, admin.accessToken, '/users/lookup', { query: { email: `  ${user.email.toUpperCase()} ` } });
  t.equal(res.statusCode, 200, 'looked up by email, case and spaces aside');
  const report = res.json() as Json;
  t.strictSame(Object.keys(report).sort(), USER_REPORT_KEYS);

  t.test('account', async (t) => {
    t.strictSame(Object.keys(report.account).sort(), ACCOUNT_KEYS);
    t.match(report.account, { id: user.id, email: user.email, name: 'Dana Support', role: 'CONSUMER', disabled: false });
    t.equal(report.account.createdAt, row!.created_at.toISOString(), 'createdAt');
    t.equal(report.account.lastLoginAt, row!.last_login_at?.toISOString(), 'lastLoginAt is the last successful login');
    t.ok(Date.parse(report.account.lastLoginAt) >= Date.parse(report.account.createdAt), 'last login after creation');
    t.equal(report.account.passwordChangedAt, row!.password_changed_at.toISOString(), 'passwordChangedAt');
    for (const key of ['createdAt', 'lastLoginAt', 'passwordChangedAt']) t.match(report.account[key], ISO, `${key} is an ISO date-time`);
  });

  t.test('active sessions only, with created, last used, expires, ip and user agent', async (t) => {
    t.equal(report.sessions.length, 2, 'the logged-out session is not listed');
    const byId = new Map((report.sessions as Json[]).map((session) => [session.id, session]));
    t.notOk(byId.has(sidOf(user.accessToken)), 'not the ended session');
    for (const [session, agent, ip] of [[sessionA, 'Browser A/1.0', '198.51.100.11'], [sessionB, 'Browser B/2.0', '198.51.100.12']] as const) {
      const listed = byId.get(session.sessionId);
      t.ok(listed, `session ${agent} listed`);
      if (!listed) continue;
      t.strictSame(Object.keys(listed).sort(), SESSION_KEYS);
      t.equal(listed.userAgent, agent, 'user agent of the login');
      t.equal(listed.ip, ip, 'address of the login');
      for (const key of ['createdAt', 'lastUsedAt', 'expiresAt']) t.match(listed[key], ISO, `${key} is an ISO date-time`);
      t.ok(Date.parse(listed.lastUsedAt) >= Date.parse(listed.createdAt), 'last used at or after creation');
      t.ok(Date.parse(listed.expiresAt) > Date.now(), 'expires in the future');
    }
  });

  t.test('recent events, newest first, with reason codes and their meaning', async (t) => {
    const events = report.events as Json[];
    for (const event of events) t.strictSame(Object.keys(event).sort(), EVENT_KEYS, `keys of ${event.kind}`);
    const times = events.map((event) => Date.parse(event.occurredAt));
    t.strictSame(times, [...times].sort((a, b) => b - a), 'newest first');
    const kinds = events.map((event) => event.kind);
    for (const kind of ['user.registered', 'login.succeeded', 'denied', 'session.logged_out']) t.ok(kinds.includes(kind), `${kind} is listed`);
    t.equal(kinds.filter((kind) => kind === 'login.succeeded').length, 2, 'both logins');
    t.ok(kinds.indexOf('session.logged_out') < kinds.lastIndexOf('login.succeeded'), 'the logout is listed before (newer than) the logins');
    t.equal(kinds[kinds.length - 1], 'user.registered', 'registration is the oldest');

    const forbiddenEvent = events.find((event) => event.requestId === forbiddenRid);
    t.match(forbiddenEvent, { kind: 'denied', reason: 'ROLE_REQUIRED', status: 403, meaning: ERRORS.ROLE_REQUIRED.meaning, method: 'GET', route: '/api/admin/users', sessionId: sessionA.sessionId, ip: '198.51.100.11', userAgent: 'support-tests/1.0', count: 1 }, 'the forbidden request, with its meaning');
    const wrongEvent = events.find((event) => event.requestId === wrongRid);
    t.match(wrongEvent, { kind: 'denied', reason: 'INVALID_CREDENTIALS', status: 401, meaning: ERRORS.INVALID_CREDENTIALS.meaning, method: 'POST', route: '/api/auth/login' }, 'the failed login, with its meaning');
    const login = events.find((event) => event.kind === 'login.succeeded' && event.sessionId === sessionB.sessionId);
    t.match(login, { reason: null, meaning: null, userAgent: 'Browser B/2.0', ip: '198.51.100.12' }, 'a success has no reason and says where from');
  });

  t.test('role and disabled follow admin changes, with the events that explain them', async (t) => {
    const changed = await registerUser(app);
    const roleRid = requestId('role');
    t.equal((await call(app, 'PATCH', `/api/admin/users/${changed.id}`, { token: admin.accessToken, payload: { role: 'PARTNER' }, headers: { 'x-request-id': roleRid } })).statusCode, 200);
    const disableRid = requestId('disable');
    t.equal((await call(app, 'PATCH', `/api/admin/users/${changed.id}`, { token: admin.accessToken, payload: { disabled: true }, headers: { 'x-request-id': disableRid } })).statusCode, 200);
    await app.authEvents.flush();
    const after = (await supportGet(app, admin.accessToken, `/users/${changed.id}`)).json() as Json;
    t.match(after.account, { role: 'PARTNER', disabled: true, lastLoginAt: null });
    t.strictSame(after.sessions, [], 'a disabled account has no active session');
    t.match((after.events as Json[]).find((event) => event.requestId === roleRid), { kind: 'user.role_changed', actor: `user:${admin.id}` });
    t.match((after.events as Json[]).find((event) => event.requestId === disableRid), { kind: 'user.disabled', actor: `user:${admin.id}` });
    t.equal(after.events[0].kind, 'user.disabled', 'the newest first');
  });

  t.test("the account's login counter: the one wrong password since the last success, no lock", async (t) => {
    t.strictSame(report.loginLock, { failures: 1, lockedUntil: null });
  });

  t.test('the same report by id', async (t) => {
    const byId = await supportGet(app, admin.accessToken, `/users/${user.id}`);
    t.equal(byId.statusCode, 200);
    t.strictSame(byId.json().account, report.account);
    t.strictSame((byId.json().sessions as Json[]).map((session) => session.id).sort(), (report.sessions as Json[]).map((session) => session.id).sort());
  });

  t.test('never a password hash or a token', async (t) => {
    const secrets = [user.accessToken, user.refreshToken, sessionA.accessToken, sessionA.refreshToken, sessionB.accessToken, sessionB.refreshToken, await passwordHashOf(sql, user.id)];
    assertNoSecrets(t, res, secrets, 'lookup');
    assertNoSecrets(t, await supportGet(app, admin.accessToken, `/users/${user.id}`), secrets, 'report by id');
    assertNoSecrets(t, await supportGet(app, admin.accessToken, `/users/${admin.id}`), [admin.accessToken, admin.refreshToken, await passwordHashOf(sql, admin.id)], "the admin's own report");
  });
});

t.test("the user report shows an account-wide login lock, from every address, until it ends", async (t) => {
  const { app, admin } = await setupSupport(t, { env: { LOGIN_THROTTLE_AFTER: '100', LOGIN_LOCK_AFTER: '3', LOGIN_LOCK_SECONDS: '600' } });
  const user = await registerUser(app);
  for (let i = 0; i < 3; i++) {
    const wrong = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: user.email, password: 'a guess' }, remoteAddress: `203.0.113.${70 + i}` });
    t.equal(wrong.statusCode, 401);
  }
  const before = Date.now();
  const report = (await supportGet(app, admin.accessToken, `/users/${user.id}`)).json() as Json;
  t.equal(report.loginLock.failures, 3, 'three failures from three addresses');
  const until = Date.parse(report.loginLock.lockedUntil);
  t.ok(until > before + 590_000 && until <= before + 600_000 + 1000, `locked for LOGIN_LOCK_SECONDS: ${report.loginLock.lockedUntil}`);
  const refused = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: user.email, password: user.password }, remoteAddress: '198.51.100.99' });
  t.equal(refused.json().code, 'LOGIN_THROTTLED', 'which is what a login meets');
  t.strictSame((await supportGet(app, admin.accessToken, `/users/${admin.id}`)).json().loginLock, { failures: 0, lockedUntil: null }, "another account's counter is its own");
});

t.test('the app report: status, secrets without the secret, live tokens, organizations, permissions, recent denials', async (t) => {
  const { app, admin, sql } = await setupSupport(t);
  const created = await appWithToken(app, admin.accessToken, ['orders.orders.read']);
  const firstSecret = created.client_secret;
  const rotated = await call(app, 'POST', `/api/v3/auth/apps/${created.app_id}/rotate-secret`, { token: admin.accessToken, payload: { grace_hours: 24 } });
  t.equal(rotated.statusCode, 200, 'rotated once');
  const secondSecret = rotated.json().data.client_secret as string;
  const fresh = { client_id: created.client_id, client_secret: secondSecret };
  const tokens: string[] = [];
  for (let i = 0; i < 2; i++) {
    const issued = await issueToken(app, fresh);
    t.equal(issued.statusCode, 200, `token ${i + 1} issued`);
    tokens.push(issued.json().data.access_token as string);
  }
  // First token (before rotation) still lives: revoke it so the count is the two new ones.
  t.equal((await call(app, 'POST', '/api/v3/auth/token/revoke', { token: created.token, payload: {} })).statusCode, 200, 'the first token is revoked');

  const wrongRid = requestId('wrong-secret');
  const wrong = await issueToken(app, { client_id: created.client_id, client_secret: `${secondSecret.slice(0, -4)}zzzz` }, { requestId: wrongRid });
  t.equal(wrong.statusCode, 401, 'a wrong secret is refused');
  t.equal(wrong.json().error.code, 'V3_AUTH_INVALID_CLIENT');
  const deniedRid = requestId('no-permission');
  const denied = await call(app, 'GET', '/api/v3/auth/apps', { token: tokens[0]!, headers: { 'x-request-id': deniedRid } });
  t.equal(denied.statusCode, 403, 'the app token lacks auth-admin.apps.read');
  await app.authEvents.flush();

  const res = await supportGet(app, admin.accessToken, `/apps/${created.app_id}`);
  t.equal(res.statusCode, 200);
  const report = res.json() as Json;
  t.strictSame(Object.keys(report).sort(), APP_REPORT_KEYS);

  t.test('status and identity', async (t) => {
    t.strictSame(report.app, { id: created.app_id, code: created.app_code, name: 'Test app', status: 'ACTIVE', clientId: created.client_id });
  });

  t.test('secrets: version, status, grace_until, never the secret', async (t) => {
    const secrets = report.secrets as Json[];
    t.equal(secrets.length, 2, 'two versions after one rotation');
    for (const secret of secrets) t.strictSame(Object.keys(secret).sort(), ['createdAt', 'graceUntil', 'revokedAt', 'status', 'version']);
    t.match(secrets[0], { version: 2, status: 'ACTIVE', graceUntil: null, revokedAt: null }, 'newest first: the active one');
    t.match(secrets[1], { version: 1, status: 'GRACE', revokedAt: null }, 'the old one is in its grace period');
    t.match(secrets[1]!.graceUntil, ISO);
    const hoursLeft = (Date.parse(secrets[1]!.graceUntil) - Date.now()) / 3_600_000;
    t.ok(hoursLeft > 23.9 && hoursLeft <= 24, `grace_until is 24 hours out (${hoursLeft.toFixed(3)})`);
  });

  t.test('live tokens, organizations, permissions', async (t) => {
    t.equal(report.liveTokens, 2, 'the two live tokens (the revoked one is not counted)');
    t.equal(report.organizations.length, 1);
    t.match(report.organizations[0], { id: UUID, code: 'HQ', isDefault: true });
    t.strictSame(report.permissions, ['orders.orders.read']);
  });

  t.test('recent denials', async (t) => {
    const denials = report.recentDenials as Json[];
    for (const event of denials) t.equal(event.kind, 'denied', 'only denials');
    const forbidden = denials.find((event) => event.requestId === deniedRid);
    t.match(forbidden, { reason: 'V3_AUTH_PERMISSION_DENIED', status: 403, method: 'GET', route: '/api/v3/auth/apps', meaning: ERRORS.V3_AUTH_PERMISSION_DENIED.meaning }, 'a denied app token');

    // The wrong secret: token.denied goes to the app's audit log...
    await app.audit.flush();
    const [audit] = await sql<{ app_id: string | null; details: Json }[]>`
      select app_id, details from audit_logs where event_type = 'token.denied' and request_id = ${wrongRid}`;
    t.match(audit, { app_id: created.app_id, details: { reason: 'V3_AUTH_INVALID_CLIENT' } }, 'token.denied is in audit_logs for the app');
    // ... and the 401 is an auth event recorded by the error handler. The client_id names the app,
    // so the denial should be the app's, and appear among its recent denials.
    const event = await eventByRequest(app, sql, wrongRid, 'denied');
    t.match(event, { reason: 'V3_AUTH_INVALID_CLIENT', status: 401, method: 'POST', route: '/api/v3/auth/token', ip: '127.0.0.1', user_id: null }, 'the wrong secret is an auth event');
    // Regression: a refused client secret used to be recorded without its app.
    t.equal(event?.app_id, created.app_id, 'the auth event names the app of the client_id');
    t.ok(denials.some((denial) => denial.requestId === wrongRid), 'the wrong secret is among the recent denials');
  });

  t.test('never a secret, a secret hash or a token', async (t) => {
    const secrets = [firstSecret, secondSecret, created.token, ...tokens, ...(await secretHashesOf(sql, created.app_id)), admin.accessToken];
    t.equal((await secretHashesOf(sql, created.app_id)).length, 2, 'both secret hashes are searched for');
    assertNoSecrets(t, res, secrets, 'app report');
  });

  t.test('a suspended app reads SUSPENDED', async (t) => {
    t.equal((await call(app, 'POST', `/api/v3/auth/apps/${created.app_id}/suspend`, { token: admin.accessToken, payload: {} })).statusCode, 200);
    const after = await supportGet(app, admin.accessToken, `/apps/${created.app_id}`);
    t.equal(after.json().app.status, 'SUSPENDED');
  });
});

t.test('revoke-sessions ends every session of the user and is recorded with the acting admin', async (t) => {
  const { app, admin, sql } = await setupSupport(t);
  const user = await registerUser(app);
  const other = await loginAs(app, user, { userAgent: 'Phone/3.0' });
  const bystander = await registerUser(app);

  const before = await supportGet(app, admin.accessToken, `/users/${user.id}`);
  t.equal(before.json().sessions.length, 2, 'two sessions before');

  const rid = requestId('revoke');
  const res = await supportPost(app, admin.accessToken, `/users/${user.id}/revoke-sessions`, {}, { headers: { 'x-request-id': rid }, remoteAddress: '192.0.2.50' });
  t.equal(res.statusCode, 200);
  t.strictSame(res.json(), { message: 'Every session of the user was ended', revoked: 2 });
  assertNoSecrets(t, res, [user.accessToken, user.refreshToken, other.accessToken, other.refreshToken]);

  for (const [label, token] of [['registration session', user.accessToken], ['second session', other.accessToken]] as const) {
    const after = await call(app, 'GET', '/api/auth/me', { token });
    t.equal(after.statusCode, 401, `${label}: /api/auth/me -> 401`);
    t.equal(after.json().code, 'SESSION_REVOKED', `${label}: SESSION_REVOKED`);
  }
  const refreshed = await app.inject({ method: 'POST', url: '/api/auth/refresh', cookies: { [app.config.REFRESH_COOKIE_NAME]: other.refreshToken } });
  t.equal(refreshed.statusCode, 401, 'the refresh token is dead too');
  t.equal(refreshed.json().code, 'SESSION_REVOKED');
  t.equal((await call(app, 'GET', '/api/auth/me', { token: bystander.accessToken })).statusCode, 200, "another user's session is untouched");
  t.equal((await call(app, 'GET', '/api/auth/me', { token: admin.accessToken })).statusCode, 200, "the admin's session is untouched");
  t.strictSame((await supportGet(app, admin.accessToken, `/users/${user.id}`)).json().sessions, [], 'no active session in the report');

  const event = await eventByRequest(app, sql, rid, 'sessions.revoked_by_support');
  t.match(event, { user_id: user.id, actor: `user:${admin.id}`, ip: '192.0.2.50', request_id: rid, details: { revoked: 2 }, count: 1 }, 'recorded with the acting admin');
  const report = await supportGet(app, admin.accessToken, `/users/${user.id}`);
  t.match((report.json().events as Json[]).find((listed) => listed.requestId === rid), { kind: 'sessions.revoked_by_support', actor: `user:${admin.id}`, ip: '192.0.2.50', reason: null }, "in the user's report");

  t.test('by an app with the support permission: the actor is the app', async (t) => {
    const staffApp: AppWithToken = await appWithToken(app, admin.accessToken, [SUPPORT_PERMISSION]);
    const again = await loginAs(app, user);
    const appRid = requestId('revoke-by-app');
    const byApp = await supportPost(app, staffApp.token, `/users/${user.id}/revoke-sessions`, {}, { headers: { 'x-request-id': appRid } });
    t.equal(byApp.statusCode, 200);
    t.equal(byApp.json().revoked, 1);
    t.equal((await call(app, 'GET', '/api/auth/me', { token: again.accessToken })).json().code, 'SESSION_REVOKED');
    t.match(await eventByRequest(app, sql, appRid, 'sessions.revoked_by_support'), { user_id: user.id, actor: `app:${staffApp.app_id}` });
  });

  t.test('nothing to revoke: 200 with 0, still recorded', async (t) => {
    const emptyRid = requestId('revoke-none');
    const none = await supportPost(app, admin.accessToken, `/users/${user.id}/revoke-sessions`, {}, { headers: { 'x-request-id': emptyRid } });
    t.equal(none.statusCode, 200);
    t.equal(none.json().revoked, 0);
    t.match(await eventByRequest(app, sql, emptyRid, 'sessions.revoked_by_support'), { details: { revoked: 0 } });
    t.equal((await authEventRows(app, sql, sql`kind = 'sessions.revoked_by_support' and user_id = ${user.id}`)).length, 3, 'one event per call');
  });
});
