/**
 * POST /api/support/explain agrees with the real guard. For each case the explanation is asked
 * for first, then the real request is made with the same token, and explain's decision, status
 * and code must be the real answer's (ALLOW <-> 2xx; JSON API: body.code; API V3: body.error.code).
 * Each case also states the answer the spec expects, so both cannot be wrong the same way.
 * Then the by-account form ({userId|email, method, path}) and the list of checks it reports.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import t from 'tap';
import type { Test } from 'tap';
import { ERRORS, type ErrorCode } from '../../src/errors.js';
import { registerUser } from '../helpers/factories.js';
import { attackerKey, currentSigningKey, serviceClaims, serviceHeader, signJws, signLikeTheService } from '../helpers/jwt.js';
import {
  appWithToken,
  call,
  codeOf,
  expiredAccessToken,
  explain,
  type Json,
  loginAs,
  patchUser,
  registerWithRole,
  setupSupport,
  sidOf,
  supportPost,
} from './support-helpers.js';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Known bug: the V3 routes render shared codes as their V3 equivalents; explain does not. */

interface RouteCase {
  label: string;
  method: Method;
  path: string;
  /** The route pattern explain should report. */
  pattern: string;
  v3: boolean;
}

const ME: RouteCase = { label: 'GET /api/auth/me (any role)', method: 'GET', path: '/api/auth/me', pattern: '/api/auth/me', v3: false };
const ADMIN_USERS: RouteCase = { label: 'GET /api/admin/users (ADMIN)', method: 'GET', path: '/api/admin/users', pattern: '/api/admin/users', v3: false };
const V3_APPS: RouteCase = { label: 'GET /api/v3/auth/apps (ADMIN or auth-admin.apps.read)', method: 'GET', path: '/api/v3/auth/apps', pattern: '/api/v3/auth/apps', v3: true };
const V3_ME: RouteCase = { label: 'GET /api/v3/auth/me (app token only)', method: 'GET', path: '/api/v3/auth/me', pattern: '/api/v3/auth/me', v3: true };
const ROUTES = [ME, ADMIN_USERS, V3_APPS, V3_ME];

/** ALLOW, or the code the spec says the route answers (its status comes from the catalogue). */
type Expected = 'ALLOW' | ErrorCode;

interface Agreement {
  explanation: Json;
  real: LightMyRequestResponse;
}

/**
 * Explains, then makes the real request; asserts they agree and match `expected`.
 * `todo` marks the assertions a known bug breaks (they still run and report).
 */
async function agree(
  t: Test,
  app: FastifyInstance,
  staffToken: string,
  token: string,
  route: { method: Method; path: string; pattern: string | null },
  expected: Expected,
  todo?: string,
): Promise<Agreement> {
  const known = todo ? { todo } : {};
  const res = await explain(app, staffToken, { token, method: route.method, path: route.path });
  t.equal(res.statusCode, 200, `explain answers 200${res.statusCode === 200 ? '' : `: ${res.body.slice(0, 200)}`}`);
  const explanation = res.json() as Json;
  const real = await call(app, route.method, route.path, { token });
  const realAllowed = real.statusCode >= 200 && real.statusCode < 300;
  const realCode = realAllowed ? null : codeOf(real);

  t.equal(explanation.decision, realAllowed ? 'ALLOW' : 'DENY', `explain ${explanation.decision} <-> real ${real.statusCode} ${realCode ?? ''}`);
  t.equal(explanation.status, realAllowed ? 200 : real.statusCode, 'explain status is the real status');
  t.equal(explanation.code, realCode, `explain code ${String(explanation.code)} is the real code ${String(realCode)}`, known);

  t.equal(realAllowed ? 'ALLOW' : realCode, expected, `the real answer is ${expected}`);
  if (expected !== 'ALLOW') t.equal(real.statusCode, ERRORS[expected].status, `the real status is ${ERRORS[expected].status}`);
  t.equal(explanation.route, route.pattern, `explain names the route ${String(route.pattern)}`);
  t.equal(explanation.meaning, explanation.code ? ((ERRORS[explanation.code as ErrorCode] as { meaning?: string } | undefined)?.meaning ?? null) : null, 'meaning from the catalogue');
  assertChecks(t, explanation);
  return { explanation, real };
}

/** Every check has {check, passed, code?, detail?}; on a DENY only the last failed, with the code; on ALLOW all passed. */
function assertChecks(t: Test, explanation: Json) {
  const checks = explanation.checks as Json[];
  t.ok(Array.isArray(checks) && checks.length > 0, 'the checks are listed');
  for (const check of checks) {
    t.type(check.check, 'string');
    t.type(check.passed, 'boolean');
    t.ok(Object.keys(check).every((key) => ['check', 'passed', 'code', 'detail'].includes(key)), 'only check, passed, code, detail');
  }
  const failed = checks.filter((check) => !check.passed);
  if (explanation.decision === 'ALLOW') {
    t.equal(failed.length, 0, 'ALLOW: every check passed');
    t.equal(explanation.status, 200);
    t.equal(explanation.code, null);
  } else {
    t.equal(failed.length, 1, 'DENY: exactly one check failed');
    t.equal(checks[checks.length - 1], failed[0], 'the failing check is the last one');
    t.equal(failed[0]?.code, explanation.code, 'the failing check carries the code');
    t.notOk(checks.slice(0, -1).some((check) => 'code' in check), 'passing checks carry no code');
  }
}

t.test('explain by token agrees with the real guard', async (t) => {
  const { app, admin, sql } = await setupSupport(t);
  const partner = await registerWithRole(app, 'PARTNER');
  const consumer = await registerWithRole(app, 'CONSUMER');
  const reader = await appWithToken(app, admin.accessToken, ['auth-admin.apps.read']);
  const plain = await appWithToken(app, admin.accessToken, ['orders.orders.read']);
  const staff = admin.accessToken;

  // The spec's table: principal x route requirement.
  const table: { who: string; token: string; expect: [Expected, Expected, Expected, Expected] }[] = [
    { who: 'ADMIN user', token: admin.accessToken, expect: ['ALLOW', 'ALLOW', 'ALLOW', 'V3_AUTH_PERMISSION_DENIED'] },
    { who: 'PARTNER user', token: partner.accessToken, expect: ['ALLOW', 'ROLE_REQUIRED', 'V3_AUTH_PERMISSION_DENIED', 'V3_AUTH_PERMISSION_DENIED'] },
    { who: 'CONSUMER user', token: consumer.accessToken, expect: ['ALLOW', 'ROLE_REQUIRED', 'V3_AUTH_PERMISSION_DENIED', 'V3_AUTH_PERMISSION_DENIED'] },
    { who: 'app with auth-admin.apps.read', token: reader.token, expect: ['TOKEN_INVALID', 'TOKEN_INVALID', 'ALLOW', 'ALLOW'] },
    { who: 'app without auth-admin.apps.read', token: plain.token, expect: ['TOKEN_INVALID', 'TOKEN_INVALID', 'V3_AUTH_PERMISSION_DENIED', 'ALLOW'] },
  ];
  for (const row of table) {
    ROUTES.forEach((route, i) => {
      t.test(`${row.who} on ${route.label}: ${row.expect[i]}`, async (t) => {
        await agree(t, app, staff, row.token, route, row.expect[i]!);
      });
    });
  }

  // Tokens that fail before any role or permission is looked at: the same refusal on every route,
  // in the vocabulary of the route's wire format (the V3 envelope maps the shared codes).
  const adminSubject = { sub: admin.id, sid: sidOf(admin.accessToken), role: 'ADMIN' };
  const expired = expiredAccessToken(app, adminSubject);
  // Well-formed ADMIN claims of a live session, refused for the key alone.
  const otherKey = signJws(serviceHeader(currentSigningKey(app)), serviceClaims(app, adminSubject), attackerKey('RS256').privateKey);
  const unknownKid = signLikeTheService(app, serviceClaims(app, adminSubject), { kid: 'no-such-key' });
  const ended = await loginAs(app, admin);
  const logout = await app.inject({ method: 'POST', url: '/api/auth/logout', headers: { authorization: `Bearer ${ended.accessToken}` } });
  t.equal(logout.statusCode, 200, 'the second ADMIN session is logged out');
  const disabled = await registerWithRole(app, 'PARTNER');
  await patchUser(app, admin.accessToken, disabled.id, { disabled: true });
  const promoted = await registerWithRole(app, 'CONSUMER');
  await patchUser(app, admin.accessToken, promoted.id, { role: 'PARTNER' });
  const suspended = await appWithToken(app, admin.accessToken, ['auth-admin.apps.read']);
  const suspend = await call(app, 'POST', `/api/v3/auth/apps/${suspended.app_id}/suspend`, { token: admin.accessToken, payload: {} });
  t.equal(suspend.statusCode, 200, 'the app is suspended');

  const failures: { who: string; token: string; json: Expected; v3: Expected }[] = [
    { who: 'an expired user token (ADMIN)', token: expired, json: 'TOKEN_EXPIRED', v3: 'V3_AUTH_TOKEN_EXPIRED' },
    { who: 'a logged-out session (ADMIN)', token: ended.accessToken, json: 'SESSION_REVOKED', v3: 'V3_AUTH_TOKEN_REVOKED' },
    { who: 'a disabled account (PARTNER)', token: disabled.accessToken, json: 'ACCOUNT_DISABLED', v3: 'V3_AUTH_PERMISSION_DENIED' },
    { who: 'a token older than a role change', token: promoted.accessToken, json: 'TOKEN_STALE', v3: 'V3_AUTH_TOKEN_REVOKED' },
    { who: 'a garbage token', token: 'garbage.token.value', json: 'TOKEN_INVALID', v3: 'V3_AUTH_TOKEN_INVALID' },
    { who: 'ADMIN claims signed by another key under the real kid', token: otherKey, json: 'TOKEN_INVALID', v3: 'V3_AUTH_TOKEN_INVALID' },
    { who: 'ADMIN claims under a kid of no key of the ring', token: unknownKid, json: 'TOKEN_INVALID', v3: 'V3_AUTH_TOKEN_INVALID' },
    { who: "a suspended app's token", token: suspended.token, json: 'V3_AUTH_APP_SUSPENDED', v3: 'V3_AUTH_APP_SUSPENDED' },
  ];
  for (const failure of failures) {
    for (const route of ROUTES) {
      const expected = route.v3 ? failure.v3 : failure.json;
      t.test(`${failure.who} on ${route.label}: ${expected}`, async (t) => {
        await agree(t, app, staff, failure.token, route, expected);
      });
    }
  }

  t.test('the failing step of each refusal', async (t) => {
    const step = async (token: string, path: string) => {
      const checks = ((await explain(app, staff, { token, method: 'GET', path })).json().checks as Json[]) ?? [];
      return checks.find((check) => !check.passed);
    };
    t.match(await step(expired, ME.path), { check: /token valid/, code: 'TOKEN_EXPIRED' }, 'expired: the token is not valid');
    t.match(await step(otherKey, ME.path), { check: /token valid/, code: 'TOKEN_INVALID' }, 'another key: the token is not valid');
    t.match(await step(unknownKid, ME.path), { check: /token valid/, code: 'TOKEN_INVALID' }, 'unknown kid: the token is not valid');
    t.match(await step(ended.accessToken, ME.path), { check: 'session alive', code: 'SESSION_REVOKED' }, 'logged out: the session is not alive');
    t.match(await step(disabled.accessToken, ME.path), { check: 'account enabled', code: 'ACCOUNT_DISABLED' }, 'disabled: the account is not enabled');
    t.match(await step(promoted.accessToken, ME.path), { check: 'token role current', code: 'TOKEN_STALE' }, 'role changed: the token is stale');
    t.match(await step(consumer.accessToken, ADMIN_USERS.path), { check: /role sufficient/, code: 'ROLE_REQUIRED' }, 'a CONSUMER: the role is not enough');
    t.match(await step(plain.token, V3_APPS.path), { check: /permission granted \(auth-admin\.apps\.read\)/, code: 'V3_AUTH_PERMISSION_DENIED' }, 'the app lacks the permission');
    t.match(await step(suspended.token, V3_ME.path), { check: 'app active', code: 'V3_AUTH_APP_SUSPENDED' }, 'the app is suspended');
  });

  t.test('a route that does not exist: DENY 404 NOT_FOUND', async (t) => {
    const res = await explain(app, staff, { token: admin.accessToken, method: 'GET', path: '/api/no-such-route' });
    t.equal(res.statusCode, 200);
    t.match(res.json(), { decision: 'DENY', status: 404, code: 'NOT_FOUND', route: null, requirement: 'no such route', checks: [{ check: 'route exists', passed: false, code: 'NOT_FOUND' }] });
    const { explanation } = await agree(t, app, staff, admin.accessToken, { method: 'GET', path: '/api/no-such-route', pattern: null }, 'NOT_FOUND');
    t.equal(explanation.checks.length, 1);
    const wrongMethod = await explain(app, staff, { token: admin.accessToken, method: 'DELETE', path: '/api/auth/me' });
    t.match(wrongMethod.json(), { decision: 'DENY', status: 404, code: 'NOT_FOUND' }, 'a known path with another method is no route either');
  });

  t.test('public routes: ALLOW', async (t) => {
    const { explanation } = await agree(t, app, staff, consumer.accessToken, { method: 'GET', path: '/health/live', pattern: '/health/live' }, 'ALLOW');
    t.match(explanation, { decision: 'ALLOW', requirement: 'public: no token needed', checks: [{ check: 'route is public', passed: true }] });
    const login = await explain(app, staff, { token: 'anything', method: 'POST', path: '/api/auth/login' });
    t.match(login.json(), { decision: 'ALLOW', status: 200, code: null, route: '/api/auth/login' }, 'POST /api/auth/login needs no token');
  });

  t.test('patterns, query strings and requirements in words', async (t) => {
    await agree(t, app, staff, admin.accessToken, { method: 'GET', path: `/api/v3/auth/apps/${reader.app_id}`, pattern: '/api/v3/auth/apps/:app_id' }, 'ALLOW');
    await agree(t, app, staff, partner.accessToken, { method: 'GET', path: '/api/admin/users?page=1&perPage=5', pattern: '/api/admin/users' }, 'ROLE_REQUIRED');
    const words = async (path: string) => (await explain(app, staff, { token: admin.accessToken, method: 'GET', path })).json().requirement as string;
    t.equal(await words('/api/auth/me'), 'a user access token (any role)');
    t.equal(await words('/api/admin/users'), 'a user access token with role ADMIN');
    t.equal(await words('/api/v3/auth/apps'), 'an ADMIN user token, or an app token with auth-admin.apps.read');
    t.equal(await words('/api/v3/auth/me'), 'an API V3 app access token');
    t.equal(await words('/api/support/users/lookup'), 'an ADMIN user token, or an app token with auth-admin.support.read');
  });

  t.test('more routes: support itself, HEAD, another method, an unknown V3 path', async (t) => {
    const supportApp = { method: 'GET' as const, path: `/api/support/apps/${reader.app_id}`, pattern: '/api/support/apps/:id' };
    await agree(t, app, staff, plain.token, supportApp, 'PERMISSION_REQUIRED');
    await agree(t, app, staff, consumer.accessToken, supportApp, 'ROLE_REQUIRED');
    await agree(t, app, staff, reader.token, supportApp, 'PERMISSION_REQUIRED');
    await agree(t, app, staff, admin.accessToken, { method: 'DELETE', path: '/api/auth/me', pattern: null }, 'NOT_FOUND');
    await agree(t, app, staff, admin.accessToken, { method: 'GET', path: '/api/v3/auth/nothing-here', pattern: null }, 'V3_AUTH_NOT_FOUND');

    // HEAD answers carry no body: compare decision and status.
    for (const [token, path, status] of [[consumer.accessToken, '/api/admin/users', 403], [admin.accessToken, '/api/admin/users', 200], [consumer.accessToken, '/api/auth/me', 200]] as const) {
      const explained = (await explain(app, staff, { token, method: 'HEAD', path })).json() as Json;
      const real = await app.inject({ method: 'HEAD', url: path, headers: { authorization: `Bearer ${token}` } });
      t.equal(real.statusCode, status, `real HEAD ${path}: ${status}`);
      t.equal(explained.status, real.statusCode, `explain HEAD ${path}: ${status}`);
      t.equal(explained.decision, status === 200 ? 'ALLOW' : 'DENY');
      t.equal(explained.route, path);
    }
  });

  t.test('explain changes nothing, records no denial and never echoes the token', async (t) => {
    const rids: string[] = [];
    for (const token of [consumer.accessToken, expired, plain.token, suspended.token]) {
      const rid = `explain-${rids.length}-${Date.now()}`;
      rids.push(rid);
      const res = await supportPost(app, staff, '/explain', { token, method: 'GET', path: '/api/admin/users' }, { headers: { 'x-request-id': rid } });
      t.equal(res.statusCode, 200);
      t.equal(res.json().decision, 'DENY');
      t.notOk(res.body.includes(token), 'the explained token is not in the answer');
      t.notOk(res.body.includes(token.split('.').pop()!), 'not even its signature');
    }
    await app.authEvents.flush();
    const recorded = await sql`select kind, request_id from auth_events where request_id in ${sql(rids)}`;
    t.strictSame([...recorded], [], 'explaining a refusal is not itself a denial of the explained principal');
    t.equal((await call(app, 'GET', '/api/auth/me', { token: consumer.accessToken })).statusCode, 200, 'the explained session still works');
    const tooLong = `${consumer.accessToken}${'A'.repeat(8200)}`;
    const invalid = await supportPost(app, staff, '/explain', { token: tooLong, method: 'GET', path: '/api/auth/me' });
    t.equal(invalid.statusCode, 400, 'an over-long token is a validation error');
    t.notOk(invalid.body.includes(consumer.accessToken), 'whose answer does not echo it');
  });
});

t.test('explain by account: the account as it stands, for its next request', async (t) => {
  const { app, admin } = await setupSupport(t);
  const staff = admin.accessToken;
  const consumer = await registerWithRole(app, 'CONSUMER');
  const disabled = await registerUser(app);
  await patchUser(app, admin.accessToken, disabled.id, { disabled: true });
  const loggedOut = await registerUser(app);
  const out = await call(app, 'POST', '/api/auth/logout-all', { token: loggedOut.accessToken });
  t.equal(out.statusCode, 200, 'the user logged out everywhere');

  const byAccount = async (who: { userId: string } | { email: string }, path: string, firstCheck = 'account exists') => {
    const res = await supportPost(app, staff, '/explain', { ...who, method: 'GET', path });
    t.equal(res.statusCode, 200, `explain answers 200${res.statusCode === 200 ? '' : `: ${res.body.slice(0, 200)}`}`);
    const explanation = res.json() as Json;
    assertChecks(t, explanation);
    t.equal((explanation.checks as Json[])[0]?.check, firstCheck, `the first check is "${firstCheck}"`);
    return explanation;
  };
  const checkNames = (explanation: Json) => (explanation.checks as Json[]).map((check) => [check.check, check.passed, check.code ?? null]);

  t.test('a disabled account: ACCOUNT_DISABLED', async (t) => {
    const explanation = await byAccount({ userId: disabled.id }, '/api/auth/me');
    t.match(explanation, { decision: 'DENY', status: 403, code: 'ACCOUNT_DISABLED', meaning: ERRORS.ACCOUNT_DISABLED.meaning, route: '/api/auth/me' });
    t.strictSame(checkNames(explanation), [['account exists', true, null], ['account enabled', false, 'ACCOUNT_DISABLED']]);
    const real = await call(app, 'GET', '/api/auth/me', { token: disabled.accessToken });
    t.equal(real.statusCode, explanation.status, 'the real request of its old session: the same status');
    t.equal(codeOf(real), explanation.code, 'and the same code');
    t.match(await byAccount({ email: disabled.email.toUpperCase() }, '/api/auth/me'), { code: 'ACCOUNT_DISABLED' }, 'by email too (normalised)');
    const onV3 = await byAccount({ userId: disabled.id }, '/api/v3/auth/apps');
    const realV3 = await call(app, 'GET', '/api/v3/auth/apps', { token: disabled.accessToken });
    t.equal(codeOf(realV3), 'V3_AUTH_PERMISSION_DENIED', 'a V3 route refuses the disabled account with V3_AUTH_PERMISSION_DENIED');
    t.equal(onV3.status, realV3.statusCode, 'explain on a V3 route: the same status');
    t.equal(onV3.code, codeOf(realV3), 'explain on a V3 route: the same code');
  });

  t.test('no active session: SESSION_EXPIRED', async (t) => {
    const explanation = await byAccount({ userId: loggedOut.id }, '/api/auth/me');
    t.match(explanation, { decision: 'DENY', status: 401, code: 'SESSION_EXPIRED', meaning: ERRORS.SESSION_EXPIRED.meaning });
    t.strictSame(checkNames(explanation), [['account exists', true, null], ['account enabled', true, null], ['active session', false, 'SESSION_EXPIRED']]);
    const real = await call(app, 'GET', '/api/auth/me', { token: loggedOut.accessToken });
    t.equal(real.statusCode, 401, 'its old token is refused with a 401 as well');
    const onV3 = await byAccount({ userId: loggedOut.id }, '/api/v3/auth/apps');
    t.equal(onV3.status, 401);
    t.equal(onV3.code, 'V3_AUTH_TOKEN_EXPIRED', 'on a V3 route, in the V3 code a fresh token of an ended session would get');
  });

  t.test('a CONSUMER on /api/admin/users: ROLE_REQUIRED', async (t) => {
    const explanation = await byAccount({ userId: consumer.id }, '/api/admin/users');
    t.match(explanation, { decision: 'DENY', status: 403, code: 'ROLE_REQUIRED', route: '/api/admin/users', requirement: 'a user access token with role ADMIN' });
    t.strictSame(checkNames(explanation), [
      ['account exists', true, null],
      ['account enabled', true, null],
      ['active session', true, null],
      ['role sufficient (needs ADMIN)', false, 'ROLE_REQUIRED'],
    ]);
    const real = await call(app, 'GET', '/api/admin/users', { token: consumer.accessToken });
    t.equal(real.statusCode, 403, 'the real request agrees');
    t.equal(codeOf(real), 'ROLE_REQUIRED');
    t.match(await byAccount({ email: consumer.email }, '/api/auth/me'), { decision: 'ALLOW' }, 'while /api/auth/me is allowed (by email)');
    t.match(await byAccount({ userId: consumer.id }, '/api/v3/auth/apps'), { decision: 'DENY', status: 403, code: 'V3_AUTH_PERMISSION_DENIED' }, 'a V3 admin route answers in V3 codes');
  });

  t.test('an ADMIN: ALLOW, every check passed', async (t) => {
    const explanation = await byAccount({ userId: admin.id }, '/api/admin/users');
    t.match(explanation, { decision: 'ALLOW', status: 200, code: null, meaning: null, route: '/api/admin/users' });
    t.strictSame(checkNames(explanation), [
      ['account exists', true, null],
      ['account enabled', true, null],
      ['active session', true, null],
      ['role sufficient', true, null],
    ]);
    t.equal((await call(app, 'GET', '/api/admin/users', { token: admin.accessToken })).statusCode, 200, 'the real request agrees');
    t.match(await byAccount({ email: admin.email }, '/api/v3/auth/me'), { decision: 'DENY', status: 403, code: 'V3_AUTH_PERMISSION_DENIED' }, 'no user reaches an app-only route');
  });

  t.test('unknown routes and public routes by account', async (t) => {
    t.match(await byAccount({ userId: consumer.id }, '/api/nowhere', 'route exists'), { decision: 'DENY', status: 404, code: 'NOT_FOUND', route: null });
    t.match(await byAccount({ userId: disabled.id }, '/health/live', 'route is public'), { decision: 'ALLOW', route: '/health/live' }, 'a public route is allowed even for a disabled account');
  });
});
