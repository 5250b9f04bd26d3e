/**
 * Adversarial input to the JSON user API (register, login, admin users): malformed and oversized
 * JSON, wrong types, privilege-escalation fields, email spellings, injection-looking strings,
 * passwords and headers. Every row: exact status and code, no 5xx, nothing changed in Postgres
 * or Redis (see ./state.ts).
 *
 * BODY_LIMIT_BYTES is raised to 128 KiB here so that 10k-deep bodies reach the JSON parser and
 * the validator (at the default 16 KiB they are a 413, covered in v3-api.test.ts).
 */
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import t from 'tap';
import type { Test } from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { adminEnv, registerAdmin, registerUser, strongPassword, uniqueEmail } from '../helpers/factories.js';
import { bearer, type Case, fullWidth, nestedArrays, nestedObjects, rawJson, runCases, stateContext } from './state.js';

const L = '/api/auth/login';
const R = '/api/auth/register';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const post = (url: string, payload: unknown, headers: Record<string, string> = {}): InjectOptions => ({ method: 'POST', url, payload: payload as object, headers });
/** A register body for a fresh address plus `extra` fields. */
const fresh = (extra: Record<string, unknown> = {}) => post(R, { email: uniqueEmail('adv'), password: strongPassword(), ...extra });


t.test('user API: hostile requests change nothing', async (t) => {
  const { emails, env } = adminEnv(1);
  const built = await buildTestApp(t, { env: { ...env, BODY_LIMIT_BYTES: String(128 * 1024) } });
  const { app } = built;
  const ctx = stateContext(t, built);
  const admin = await registerAdmin(app, emails[0]!);
  const partner = await registerUser(app, { role: 'PARTNER' });
  const victim = await registerUser(app);
  const [local, domain] = victim.email.split('@') as [string, string];
  const wrongLogin = (email: string, headers: Record<string, string> = {}) => post(L, { email, password: 'not-the-password' }, headers);
  const takenAs = (email: string, extra: Record<string, unknown> = {}) => post(R, { email, password: strongPassword(), ...extra });
  const asPartner = bearer(partner.accessToken);
  const asAdmin = bearer(admin.accessToken);
  const patch = (id: string, payload: unknown, headers: Record<string, string>): InjectOptions => ({ method: 'PATCH', url: `/api/admin/users/${id}`, payload: payload as object, headers });
  const search = (query: string): InjectOptions => ({ method: 'GET', url: `/api/admin/users?${query}`, headers: asAdmin });
  const findsNobody = (t: Test, res: LightMyRequestResponse) => {
    t.equal(res.json().total, 0, 'the search matched no user');
    t.strictSame(res.json().users, [], 'no user listed');
  };

  t.test('malformed JSON', async (t) => {
    const cases: Case[] = [
      { name: 'truncated', request: rawJson('POST', L, '{"email":"a@example.test","password":"x'), status: 400, code: 'INVALID_JSON' },
      { name: 'trailing garbage', request: rawJson('POST', L, '{"email":"a@example.test","password":"x"} trailing'), status: 400, code: 'INVALID_JSON' },
      { name: 'two concatenated objects', request: rawJson('POST', R, `{"email":"${uniqueEmail()}","password":"${strongPassword()}"}{"role":"ADMIN"}`), status: 400, code: 'INVALID_JSON' },
      // RFC 8259 section 8.1 lets a parser ignore a BOM; it must then be an ordinary failed login.
      { name: 'byte order mark before a login', request: rawJson('POST', L, `\ufeff${JSON.stringify({ email: victim.email, password: 'not-the-password' })}`), status: 401, code: 'INVALID_CREDENTIALS' },
      { name: 'NaN as password', request: rawJson('POST', L, '{"email":"a@example.test","password":NaN}'), status: 400, code: 'INVALID_JSON' },
      { name: 'Infinity as email', request: rawJson('POST', L, '{"email":Infinity,"password":"x"}'), status: 400, code: 'INVALID_JSON' },
      { name: 'block comment', request: rawJson('POST', L, '{"email":"a@example.test", /* admin */ "password":"x"}'), status: 400, code: 'INVALID_JSON' },
      { name: 'line comment', request: rawJson('POST', L, '{"email":"a@example.test",\n// "role":"ADMIN"\n"password":"x"}'), status: 400, code: 'INVALID_JSON' },
      { name: 'single quotes', request: rawJson('POST', L, "{'email':'a@example.test','password':'x'}"), status: 400, code: 'INVALID_JSON' },
      { name: 'raw newline inside a string', request: rawJson('POST', L, '{"email":"a@example.test","password":"x\ny"}'), status: 400, code: 'INVALID_JSON' },
      { name: 'empty body', request: rawJson('POST', R, ''), status: 400, code: 'INVALID_JSON' },
      { name: '__proto__ at the bottom of 10k nested objects', request: rawJson('POST', R, nestedObjects(10_000, '{"__proto__":{"role":"ADMIN"}}')), status: 400, code: 'INVALID_JSON' },
    ];
    await runCases(t, ctx, 'json', cases);
  });

  t.test('wrong types and shapes', async (t) => {
    const cases: Case[] = [
      { name: 'password as a number', request: post(R, { email: uniqueEmail(), password: 12345678901 }), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'email as an array', request: post(R, { email: [uniqueEmail()], password: strongPassword() }), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'name as an object', request: fresh({ name: { first: 'a' } }), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'role as an array', request: fresh({ role: ['ADMIN'] }), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'role in lower case', request: fresh({ role: 'admin' }), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'null body', request: rawJson('POST', L, 'null'), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'array of credentials', request: rawJson('POST', R, JSON.stringify([{ email: uniqueEmail(), password: strongPassword() }])), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'password as a boolean', request: post(L, { email: victim.email, password: true }), status: 400, code: 'VALIDATION_ERROR' },
    ];
    await runCases(t, ctx, 'json', cases);
  });

  t.test('size and depth', async (t) => {
    const cases: Case[] = [
      { name: '200 KiB name', request: fresh({ name: 'n'.repeat(200 * 1024) }), status: 413, code: 'PAYLOAD_TOO_LARGE' },
      { name: '1 MiB password', request: post(L, { email: victim.email, password: 'p'.repeat(1024 * 1024) }), status: 413, code: 'PAYLOAD_TOO_LARGE' },
      { name: '10k nested arrays as the body', request: rawJson('POST', R, nestedArrays(10_000)), status: 400, code: 'VALIDATION_ERROR' },
      { name: '10k nested objects as the email', request: rawJson('POST', L, `{"email":${nestedObjects(10_000)},"password":"x"}`), status: 400, code: 'VALIDATION_ERROR' },
      { name: '10k nested arrays as the password', request: rawJson('POST', R, `{"email":"${uniqueEmail()}","password":${nestedArrays(10_000, '"x"')}}`), status: 400, code: 'VALIDATION_ERROR' },
      { name: '10k-element array as the email', request: post(L, { email: Array.from({ length: 10_000 }, () => 'a'), password: 'x' }), status: 400, code: 'VALIDATION_ERROR' },
    ];
    await runCases(t, ctx, 'json', cases);
  });

  t.test('privilege escalation through extra fields', async (t) => {
    const cases: Case[] = [
      { name: 'register: role ADMIN off the allowlist', request: fresh({ role: 'ADMIN' }), status: 403, code: 'ADMIN_REGISTRATION_DENIED' },
      { name: 'register: allowlisted admin email in upper case, taken', request: takenAs(emails[0]!.toUpperCase(), { role: 'ADMIN' }), status: 409, code: 'EMAIL_TAKEN' },
      { name: 'register: status', request: fresh({ status: 'ACTIVE' }), status: 400, code: 'VALIDATION_ERROR' },
      { name: "register: id of the victim's account", request: fresh({ id: victim.id }), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'register: disabled', request: fresh({ disabled: false }), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'register: isAdmin', request: fresh({ isAdmin: true }), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'register: password_hash', request: fresh({ password_hash: '$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA' }), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'login: role', request: post(L, { email: victim.email, password: victim.password, role: 'ADMIN' }), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'login: isAdmin', request: post(L, { email: victim.email, password: victim.password, isAdmin: true }), status: 400, code: 'VALIDATION_ERROR' },
    ];
    await runCases(t, ctx, 'json', cases);
  });

  t.test('PATCH /api/admin/users/:id', async (t) => {
    const cases: Case[] = [
      { name: 'partner: own role to ADMIN', request: patch(partner.id, { role: 'ADMIN' }, asPartner), status: 403, code: 'ROLE_REQUIRED' },
      { name: 'partner: disable the victim', request: patch(victim.id, { disabled: true }, asPartner), status: 403, code: 'ROLE_REQUIRED' },
      { name: 'partner: demote the admin', request: patch(admin.id, { role: 'CONSUMER' }, asPartner), status: 403, code: 'ROLE_REQUIRED' },
      { name: 'partner: password_hash (role checked before the body)', request: patch(victim.id, { password_hash: 'x' }, asPartner), status: 403, code: 'ROLE_REQUIRED' },
      { name: 'partner: invalid JSON (role checked before parsing)', request: { ...rawJson('PATCH', `/api/admin/users/${victim.id}`, '{"role":', asPartner) }, status: 403, code: 'ROLE_REQUIRED' },
      { name: 'partner: list users', request: { method: 'GET', url: "/api/admin/users?email=' OR 1=1--", headers: asPartner }, status: 403, code: 'ROLE_REQUIRED' },
      { name: 'admin: password_hash', request: patch(victim.id, { password_hash: 'x' }, asAdmin), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'admin: email', request: patch(victim.id, { email: 'evil@example.test' }, asAdmin), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'admin: id', request: patch(victim.id, { id: admin.id }, asAdmin), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'admin: isAdmin', request: patch(victim.id, { isAdmin: true }, asAdmin), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'admin: a valid role next to an unknown status (nothing applied)', request: patch(victim.id, { role: 'ADMIN', status: 'ACTIVE' }, asAdmin), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'admin: unknown role', request: patch(victim.id, { role: 'SUPERADMIN' }, asAdmin), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'admin: disabled as a string', request: patch(victim.id, { disabled: 'true' }, asAdmin), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'admin: empty patch', request: patch(victim.id, {}, asAdmin), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'admin: __proto__ role', request: rawJson('PATCH', `/api/admin/users/${victim.id}`, '{"name":"x","__proto__":{"role":"ADMIN"}}', asAdmin), status: 400, code: 'INVALID_JSON' },
      { name: 'admin: SQL in the id', request: patch(encodeURIComponent("' OR 1=1--"), { role: 'ADMIN' }, asAdmin), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'admin: unknown user id', request: patch('00000000-0000-4000-8000-000000000000', { role: 'ADMIN' }, asAdmin), status: 404, code: 'USER_NOT_FOUND' },
      { name: 'admin: demote the last admin', request: patch(admin.id, { role: 'CONSUMER' }, asAdmin), status: 409, code: 'LAST_ADMIN' },
    ];
    await runCases(t, ctx, 'json', cases);
  });

  t.test('email spellings: the taken address never gets a second account', async (t) => {
    const cases: Case[] = [
      { name: 'upper case', request: takenAs(victim.email.toUpperCase()), status: 409, code: 'EMAIL_TAKEN' },
      { name: 'mixed case and surrounding spaces', request: takenAs(`  ${local.toUpperCase()}@${domain.replace('e', 'E')}  `), status: 409, code: 'EMAIL_TAKEN' },
      { name: 'full-width letters and digits', request: takenAs(`${fullWidth(local)}@${fullWidth(domain)}`), status: 409, code: 'EMAIL_TAKEN' },
      { name: 'trailing BOM (whitespace)', request: takenAs(`${victim.email}\ufeff`), status: 409, code: 'EMAIL_TAKEN' },
      { name: 'full-width @ is not an address', request: takenAs(`${local}\uff20${domain}`), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'trailing dot on the domain', request: takenAs(`${victim.email}.`), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'zero-width space in the local part', request: takenAs(`${local.slice(0, 3)}\u200b${local.slice(3)}@${domain}`), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'right-to-left override', request: takenAs(`\u202e${victim.email}`), status: 400, code: 'VALIDATION_ERROR' },
      { name: '321-character address', request: takenAs(`${'a'.repeat(64)}@${'b'.repeat(252)}.test`), status: 400, code: 'VALIDATION_ERROR' },
      { name: '65-character local part', request: takenAs(`${'a'.repeat(65)}@example.test`), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'login: full-width upper-case spelling, wrong password', request: wrongLogin(fullWidth(victim.email.toUpperCase())), status: 401, code: 'INVALID_CREDENTIALS' },
      { name: 'login: zero-width spelling with the right password', request: post(L, { email: `\u200b${victim.email}`, password: victim.password }), status: 400, code: 'VALIDATION_ERROR' },
    ];
    await runCases(t, ctx, 'json', cases);
  });

  t.test('SQL- and NoSQL-looking strings', async (t) => {
    const cases: Case[] = [
      { name: 'login: quote tautology', request: post(L, { email: "x'OR'1'='1'--@example.test", password: "' OR '1'='1" }), status: 401, code: 'INVALID_CREDENTIALS' },
      { name: 'login: comment after the address', request: wrongLogin(`${victim.email}' --`), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'login: operator text as the email', request: wrongLogin('{"$gt":""}@example.test'), status: 401, code: 'INVALID_CREDENTIALS' },
      { name: 'login: operator text as the password', request: post(L, { email: victim.email, password: '{"$ne":null}' }), status: 401, code: 'INVALID_CREDENTIALS' },
      { name: 'register: DROP TABLE in the name (taken email)', request: takenAs(victim.email, { name: "Robert'); DROP TABLE users;--" }), status: 409, code: 'EMAIL_TAKEN' },
      { name: 'register: $set in the name (taken email)', request: takenAs(victim.email, { name: '{"$set":{"role":"ADMIN"}}' }), status: 409, code: 'EMAIL_TAKEN' },
      { name: 'search: quote tautology', request: search(`email=${encodeURIComponent("' OR 1=1--")}`), status: 200, code: null, check: findsNobody },
      { name: 'search: % wildcard', request: search('email=%25'), status: 200, code: null, check: findsNobody },
      { name: 'search: _ wildcard', request: search('email=_'), status: 200, code: null, check: findsNobody },
      { name: 'search: lone backslash', request: search('email=%5C'), status: 200, code: null, check: findsNobody },
      { name: 'search: email[$ne]', request: search('email[$ne]=x'), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'search: email twice', request: search('email=a&email=b'), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'search: SQL in perPage', request: search('perPage=1;DROP%20TABLE%20users'), status: 400, code: 'VALIDATION_ERROR' },
    ];
    await runCases(t, ctx, 'json', cases);
  });

  t.test('passwords', async (t) => {
    const cases: Case[] = [
      { name: 'register: 257 characters', request: fresh({ password: 'p'.repeat(257) }), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'login: 257 characters', request: post(L, { email: victim.email, password: 'p'.repeat(257) }), status: 400, code: 'VALIDATION_ERROR' },
      { name: 'register: NUL inside the password', request: fresh({ password: `${strongPassword()}\u0000tail` }), status: 400, code: 'VALIDATION_ERROR' },
      { name: "login: the victim's password + NUL + more", request: post(L, { email: victim.email, password: `${victim.password}\u0000x` }), status: 400, code: 'VALIDATION_ERROR' },
      { name: "login: NUL + the victim's password", request: post(L, { email: victim.email, password: `\u0000${victim.password}` }), status: 400, code: 'VALIDATION_ERROR' },
    ];
    await runCases(t, ctx, 'json', cases);
  });

  t.test('headers', async (t) => {
    const cases: Case[] = [
      {
        name: 'x-request-id with CRLF',
        request: { method: 'GET', url: '/api/auth/me', headers: { 'x-request-id': 'abc\r\nSet-Cookie: admin=1' } },
        status: 401,
        code: 'TOKEN_MISSING',
        check: (t, res) => {
          t.match(String(res.headers['x-request-id']), UUID, 'a generated, clean x-request-id');
          t.equal(res.json().requestId, res.headers['x-request-id']);
          t.notOk(res.headers['set-cookie'], 'no header smuggled in');
        },
      },
      { name: '17 KiB Authorization header', request: { method: 'GET', url: '/api/auth/me', headers: bearer('A'.repeat(17 * 1024)) }, status: 401, code: 'TOKEN_INVALID' },
      { name: '17 KiB user agent on a failed login', request: wrongLogin(victim.email, { 'user-agent': 'u'.repeat(17 * 1024) }), status: 401, code: 'INVALID_CREDENTIALS' },
    ];
    await runCases(t, ctx, 'json', cases);
  });
});
