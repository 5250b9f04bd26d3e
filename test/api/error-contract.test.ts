/**
 * The JSON error contract: every error is exactly {error, code, requestId} (+ details on a 400
 * validation failure) with requestId equal to the x-request-id header; framework failures (bad
 * JSON, size, media type, unknown route) use the same shape and a catalogued code; hostile input
 * never produces a 5xx.
 */
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import t from 'tap';
import type { Test } from 'tap';
import { ERRORS, type ErrorCode } from '../../src/errors.js';
import { buildTestApp } from '../helpers/app.js';
import { adminEnv, registerAdmin, registerUser, strongPassword, uniqueEmail } from '../helpers/factories.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Asserts the one error shape; returns the body. `extra` ({todo: 'BUG: ...'}) goes on every
 * assertion, so a known bug still runs and shows its actual output without failing the suite
 * (a subtest-level todo in tap 21 would skip the body entirely).
 */
function assertError(t: Test, res: LightMyRequestResponse, status: number, code?: ErrorCode, extra: { todo?: string } = {}) {
  let body: Record<string, any> = {};
  try {
    body = res.json();
  } catch {
    t.fail(`body is JSON (got ${res.body.slice(0, 80)})`, extra);
  }
  t.equal(res.statusCode, status, `status ${status}`, extra);
  if (code) t.equal(body.code, code, `code ${code}`, extra);
  t.ok(Object.hasOwn(ERRORS, String(body.code)), `code ${String(body.code)} is catalogued`, extra);
  t.equal(ERRORS[body.code as ErrorCode]?.status, res.statusCode, 'status agrees with the catalogue', extra);
  const expectedKeys = ['code', 'error', 'requestId', ...(body.details ? ['details'] : [])].sort();
  t.strictSame(Object.keys(body).sort(), expectedKeys, 'exactly error, code, requestId (+details)', extra);
  if (body.details) t.equal(res.statusCode, 400, 'details only on a 400', extra);
  t.ok(typeof body.error === 'string' && body.error.length > 0, 'error is a sentence', extra);
  t.ok(res.headers['x-request-id'], 'x-request-id header present', extra);
  t.equal(body.requestId, res.headers['x-request-id'], 'requestId equals the x-request-id header', extra);
  return body;
}

const json = (url: string, payload: string, extra: Partial<InjectOptions> = {}): InjectOptions => ({
  method: 'POST',
  url,
  payload,
  ...extra,
  headers: { 'content-type': 'application/json', ...(extra.headers ?? {}) },
});

t.test('request ids', async (t) => {
  const { app } = await buildTestApp(t);
  const get404 = (headers: Record<string, string> = {}) => app.inject({ method: 'GET', url: '/no/such/route', headers });

  const generated = await get404();
  t.match(generated.headers['x-request-id'], UUID, 'a UUID is generated when none is sent');
  t.equal(assertError(t, generated, 404, 'NOT_FOUND').requestId, generated.headers['x-request-id']);
  t.not((await get404()).headers['x-request-id'], generated.headers['x-request-id'], 'each request gets its own');

  const echoed = await get404({ 'x-request-id': 'abc-123' });
  t.equal(echoed.headers['x-request-id'], 'abc-123');
  t.equal(echoed.json().requestId, 'abc-123');
  const ok = await app.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': 'abc-123' } });
  t.equal(ok.headers['x-request-id'], 'abc-123', 'echoed on success too');
  const longest = 'a'.repeat(128);
  t.equal((await get404({ 'x-request-id': longest })).headers['x-request-id'], longest, '128 characters is allowed');

  for (const hostile of ['abc 123', 'a\r\nSet-Cookie: x=1', '<script>alert(1)</script>', 'a"b', 'id;drop', 'ümlaut', 'a'.repeat(129)]) {
    const res = await get404({ 'x-request-id': hostile });
    t.match(res.headers['x-request-id'], UUID, `${JSON.stringify(hostile.slice(0, 20))} is replaced by a generated id`);
    t.equal(res.json().requestId, res.headers['x-request-id']);
    t.notOk(res.headers['set-cookie'], 'no header smuggled in');
  }
});

t.test('every error status renders the same shape', async (t) => {
  const { app } = await buildTestApp(t);
  const user = await registerUser(app);
  const auth = { authorization: `Bearer ${user.accessToken}` };

  assertError(t, await app.inject({ method: 'GET', url: '/nope' }), 404, 'NOT_FOUND');
  assertError(t, await app.inject({ method: 'DELETE', url: '/api/auth/login' }), 404, 'NOT_FOUND');
  assertError(t, await app.inject({ method: 'POST', url: '/api/nope', payload: { a: 1 } }), 404, 'NOT_FOUND');
  assertError(t, await app.inject({ method: 'GET', url: '/api/auth/me' }), 401, 'TOKEN_MISSING');
  assertError(t, await app.inject({ method: 'GET', url: '/api/admin/users', headers: auth }), 403, 'ROLE_REQUIRED');
  const taken = await app.inject({ method: 'POST', url: '/api/auth/register', payload: { email: user.email, password: strongPassword() } });
  assertError(t, taken, 409, 'EMAIL_TAKEN');
  assertError(t, await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: user.email, password: 'wrong-password' } }), 401, 'INVALID_CREDENTIALS');
  assertError(t, await app.inject({ method: 'POST', url: '/api/auth/refresh' }), 401, 'REFRESH_TOKEN_MISSING');

  for (const payload of ['{"email":', '{"email": "a@b.cd",}', "{'email':'a@b.cd'}", '']) {
    const res = await app.inject(json('/api/auth/login', payload));
    const body = assertError(t, res, 400, 'INVALID_JSON');
    t.equal(body.details, undefined, `${JSON.stringify(payload)}: no details on a parse error`);
  }

  const big = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: 'a@example.test', password: 'x'.repeat(16 * 1024) } });
  assertError(t, big, 413, 'PAYLOAD_TOO_LARGE');
  const bigRegister = await app.inject(json('/api/auth/register', JSON.stringify({ email: uniqueEmail(), password: strongPassword(), name: 'n'.repeat(20_000) })));
  assertError(t, bigRegister, 413, 'PAYLOAD_TOO_LARGE');

  for (const type of ['application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'image/png']) {
    const res = await app.inject({ method: 'POST', url: '/api/auth/login', payload: 'email=a@example.test', headers: { 'content-type': type } });
    assertError(t, res, 415, 'UNSUPPORTED_MEDIA_TYPE');
  }
  const plain = await app.inject({ method: 'POST', url: '/api/auth/login', payload: 'hello', headers: { 'content-type': 'text/plain' } });
  t.ok(plain.statusCode >= 400 && plain.statusCode < 500, 'text/plain is refused with a 4xx');
  assertError(t, plain, 415, 'UNSUPPORTED_MEDIA_TYPE');
});

t.test('validation details name every bad field', async (t) => {
  const { emails, env } = adminEnv(1);
  const { app } = await buildTestApp(t, { env });
  const fieldsOf = (res: LightMyRequestResponse) => {
    const body = assertError(t, res, 400, 'VALIDATION_ERROR');
    t.ok(Array.isArray(body.details), 'details present');
    for (const detail of body.details ?? []) t.strictSame(Object.keys(detail).sort(), ['field', 'message']);
    return ((body.details ?? []) as { field: string }[]).map((d) => d.field).sort();
  };

  const twoBad = await app.inject({ method: 'POST', url: '/api/auth/register', payload: { email: 'not-an-email', password: 12345 } });
  t.strictSame(fieldsOf(twoBad), ['body/email', 'body/password'], 'two bad fields, two details');
  const missing = await app.inject({ method: 'POST', url: '/api/auth/login', payload: {} });
  t.strictSame(fieldsOf(missing), ['body/email', 'body/password'], 'missing fields are named');
  const extra = await app.inject({ method: 'POST', url: '/api/auth/register', payload: { email: uniqueEmail(), password: strongPassword(), isAdmin: true } });
  t.strictSame(fieldsOf(extra), ['body/isAdmin'], 'an unknown field is named, not dropped');
  const nested = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: { $ne: null }, password: ['x'] } });
  t.strictSame(fieldsOf(nested), ['body/email', 'body/password']);
  const admin = await registerAdmin(app, emails[0]!);
  const headers = { authorization: `Bearer ${admin.accessToken}` };
  const query = await app.inject({ method: 'GET', url: '/api/admin/users', query: { page: 'abc', perPage: '0', sort: 'x' }, headers });
  t.strictSame(fieldsOf(query), ['querystring/page', 'querystring/perPage', 'querystring/sort']);
  const params = await app.inject({ method: 'DELETE', url: '/api/auth/sessions/not-a-uuid', headers });
  t.strictSame(fieldsOf(params), ['params/id']);
});

type Row = [label: string, url: string, raw: string, expected?: ErrorCode | null, todo?: string];
const L = '/api/auth/login';
const R = '/api/auth/register';
const pw = () => JSON.stringify(strongPassword());

const NASTY: Row[] = [
  ['null body', L, 'null', 'VALIDATION_ERROR'],
  ['array body', R, '[]', 'VALIDATION_ERROR'],
  ['array of credentials', L, '[{"email":"a@example.test","password":"x"}]', 'VALIDATION_ERROR'],
  ['string body', L, '"a@example.test"', 'VALIDATION_ERROR'],
  ['number body', R, '42', 'VALIDATION_ERROR'],
  ['operator object as email', L, '{"email":{"$ne":null},"password":{"$gt":""}}', 'VALIDATION_ERROR'],
  ['nested object as email', R, `{"email":{"email":{"email":"a@example.test"}},"password":${pw()}}`, 'VALIDATION_ERROR'],
  ['email as array', L, '{"email":["a@example.test"],"password":"x"}', 'VALIDATION_ERROR'],
  ['10k-character email', L, JSON.stringify({ email: `${'a'.repeat(10_000)}@example.test`, password: 'x' }), 'VALIDATION_ERROR'],
  ['10k-character password', R, JSON.stringify({ email: uniqueEmail(), password: 'p'.repeat(10_000) }), 'VALIDATION_ERROR'],
  ['huge number as email', R, `{"email":1e400,"password":${pw()}}`, 'VALIDATION_ERROR'],
  ['boolean password', L, '{"email":"a@example.test","password":true}', 'VALIDATION_ERROR'],
  ['unicode email, unknown account', L, JSON.stringify({ email: 'üser@exämple.test', password: 'pässwörd-ñ' }), 'INVALID_CREDENTIALS'],
  ['emoji email, short password', R, JSON.stringify({ email: '😀@example.test', password: 'short' }), 'PASSWORD_TOO_SHORT'],
  ['bidi and zero-width characters', L, JSON.stringify({ email: '\u202eadmin\u200b@example.test', password: 'x' }), 'VALIDATION_ERROR'],
  ['lone surrogate in email', L, '{"email":"a\\ud800b@example.test","password":"x"}', 'INVALID_CREDENTIALS'],
  ['quote in email (SQL-ish)', L, JSON.stringify({ email: "admin'--@example.test", password: "' or '1'='1" }), 'INVALID_CREDENTIALS'],
  ['__proto__ key', R, `{"__proto__":{"role":"ADMIN"},"email":"${uniqueEmail()}","password":${pw()}}`, 'INVALID_JSON'],
  ['constructor.prototype key', L, '{"constructor":{"prototype":{"role":"ADMIN"}},"email":"a@example.test","password":"x"}', 'INVALID_JSON'],
  ['self-promotion to ADMIN', R, JSON.stringify({ email: uniqueEmail(), password: strongPassword(), role: 'ADMIN' }), 'ADMIN_REGISTRATION_DENIED'],
  ['duplicate role key, last one ADMIN', R, `{"email":"${uniqueEmail()}","password":${pw()},"role":"CONSUMER","role":"ADMIN"}`, 'ADMIN_REGISTRATION_DENIED'],
  ['5000 nested arrays', L, `${'['.repeat(5000)}${']'.repeat(5000)}`, 'VALIDATION_ERROR'],
  ['byte order mark before JSON', L, '\ufeff{"email":"a@example.test","password":"x"}', null],
  ['NUL byte in login email', L, JSON.stringify({ email: 'a\u0000b@example.test', password: 'x' }), 'VALIDATION_ERROR'],
  ['NUL byte in register email', R, JSON.stringify({ email: `a\u0000${uniqueEmail()}`, password: strongPassword() }), 'VALIDATION_ERROR'],
  ['NUL byte in register name', R, JSON.stringify({ email: uniqueEmail(), password: strongPassword(), name: 'a\u0000b' }), 'VALIDATION_ERROR'],
];

t.test('hostile bodies to register and login: always a catalogued 4xx, never a 5xx', async (t) => {
  const { app } = await buildTestApp(t);
  for (const [label, url, raw, expected, todo] of NASTY) {
    t.test(label, async (t) => {
      const extra = todo ? { todo } : {};
      const res = await app.inject(json(url, raw));
      t.ok(res.statusCode >= 400 && res.statusCode < 500, `4xx (got ${res.statusCode} ${res.json().code})`, extra);
      assertError(t, res, res.statusCode, expected ?? undefined, extra);
    });
  }
  t.equal(({} as Record<string, unknown>).role, undefined, 'Object.prototype not polluted');
});

// Regression: U+0000 used to pass the schemas and reach Postgres (22021), answering 500.
t.test('NUL bytes in admin inputs are a 4xx, not a 500', async (t) => {
  const extra = {};
  const { emails, env } = adminEnv(1);
  const { app } = await buildTestApp(t, { env });
  const admin = await registerAdmin(app, emails[0]!);
  const headers = { authorization: `Bearer ${admin.accessToken}` };
  const search = await app.inject({ method: 'GET', url: '/api/admin/users?email=%00', headers });
  assertError(t, search, 400, 'VALIDATION_ERROR', extra);
  const patch = await app.inject({ method: 'PATCH', url: `/api/admin/users/${admin.id}`, headers, payload: { name: 'a\u0000b' } });
  assertError(t, patch, 400, 'VALIDATION_ERROR', extra);
});

// Regression: router errors used to bypass the error handler (Fastify's own body, no requestId).
t.test('router-level failures use the same shape', async (t) => {
  const extra = {};
  const { app } = await buildTestApp(t);
  const badUrl = await app.inject({ method: 'GET', url: '/api/auth/%zz' });
  assertError(t, badUrl, 400, 'VALIDATION_ERROR', extra);
  const longParam = await app.inject({ method: 'DELETE', url: `/api/auth/sessions/${'a'.repeat(300)}` });
  t.ok(longParam.statusCode >= 400 && longParam.statusCode < 500, `4xx (got ${longParam.statusCode})`);
  assertError(t, longParam, longParam.statusCode, undefined, extra);
});
