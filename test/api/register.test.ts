/** POST /api/auth/register: accounts, roles, password policy, and strict input handling. */
import type { FastifyInstance } from 'fastify';
import t from 'tap';
import type { Test } from 'tap';
import { adminEnv, login, refreshCookieOf, strongPassword, uniqueEmail } from '../helpers/factories.js';
import { buildTestApp } from '../helpers/app.js';

const REGISTER = '/api/auth/register';

const register = (app: FastifyInstance, payload: Record<string, unknown>) => app.inject({ method: 'POST', url: REGISTER, payload });

/** Asserts the error body and that no account exists for `email` afterwards (registering it then succeeds). */
async function assertRejectedWithoutAccount(
  t: Test,
  app: FastifyInstance,
  response: Awaited<ReturnType<typeof register>>,
  expected: { status: number; code: string },
  email: string,
) {
  t.equal(response.statusCode, expected.status, 'status');
  t.equal(response.json().code, expected.code, 'code');
  t.notOk(refreshCookieOf(response), 'no refresh cookie on failure');
  const later = await register(app, { email, password: strongPassword() });
  t.equal(later.statusCode, 201, 'no account was created: the address is still free');
}

t.test('201 with the access token, the public user (exactly) and a refresh cookie', async (t) => {
  const { app } = await buildTestApp(t);
  const email = uniqueEmail();
  const response = await register(app, { email, password: strongPassword(), name: 'Ada' });
  t.equal(response.statusCode, 201);
  const body = response.json();
  t.strictSame(Object.keys(body).sort(), ['accessToken', 'user'], 'no other top-level keys');
  t.strictSame(Object.keys(body.user).sort(), ['email', 'id', 'name', 'role'], 'no password hash or other columns');
  t.match(body.user, { email, name: 'Ada', role: 'CONSUMER' });
  t.match(body.user.id, /^[0-9a-f-]{36}$/);
  t.match(body.accessToken, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  t.notMatch(response.body, /argon2/, 'no hash anywhere in the body');
  const cookie = refreshCookieOf(response);
  t.ok(cookie, 'refresh cookie set');
  t.match(cookie!.value, /^rt_/);
});

t.test('the email is trimmed and lower-cased', async (t) => {
  const { app } = await buildTestApp(t);
  const local = `Foo-${Date.now()}${Math.random().toString(36).slice(2)}`;
  const password = strongPassword();
  const response = await register(app, { email: `  ${local}@Example.COM `, password });
  t.equal(response.statusCode, 201);
  const stored = `${local.toLowerCase()}@example.com`;
  t.equal(response.json().user.email, stored);
  const ok = await login(app, stored, password);
  t.equal(ok.statusCode, 200, 'login with the normalised address works');
  t.equal(ok.json().user.email, stored);
});

t.test('roles', async (t) => {
  const admins = adminEnv(1);
  const { app } = await buildTestApp(t, { env: admins.env });

  t.test('omitted -> CONSUMER', async (t) => {
    const response = await register(app, { email: uniqueEmail(), password: strongPassword() });
    t.equal(response.statusCode, 201);
    t.equal(response.json().user.role, 'CONSUMER');
  });

  t.test('PARTNER is allowed', async (t) => {
    const response = await register(app, { email: uniqueEmail(), password: strongPassword(), role: 'PARTNER' });
    t.equal(response.statusCode, 201);
    t.equal(response.json().user.role, 'PARTNER');
  });

  t.test('ADMIN for an address on ADMIN_EMAIL_ALLOWLIST (any case)', async (t) => {
    const response = await register(app, { email: admins.emails[0]!.toUpperCase(), password: strongPassword(), role: 'ADMIN' });
    t.equal(response.statusCode, 201);
    t.equal(response.json().user.role, 'ADMIN');
  });

  t.test('ADMIN for any other address -> 403 and no account', async (t) => {
    const email = uniqueEmail();
    const password = strongPassword();
    const response = await register(app, { email, password, role: 'ADMIN' });
    await assertRejectedWithoutAccount(t, app, response, { status: 403, code: 'ADMIN_REGISTRATION_DENIED' }, email);
  });

  t.test('an unknown role -> 400 VALIDATION_ERROR', async (t) => {
    const email = uniqueEmail();
    const password = strongPassword();
    const response = await register(app, { email, password, role: 'SUPERUSER' });
    await assertRejectedWithoutAccount(t, app, response, { status: 400, code: 'VALIDATION_ERROR' }, email);
  });
});

t.test('an existing email -> 409 EMAIL_TAKEN, also in another case, and the original password still works', async (t) => {
  const { app } = await buildTestApp(t);
  const email = uniqueEmail();
  const password = strongPassword();
  t.equal((await register(app, { email, password })).statusCode, 201);
  for (const variant of [email, email.toUpperCase(), ` ${email} `]) {
    const response = await register(app, { email: variant, password: strongPassword() });
    t.equal(response.statusCode, 409, variant);
    t.equal(response.json().code, 'EMAIL_TAKEN');
  }
  t.equal((await login(app, email, password)).statusCode, 200, 'the first account is untouched');
});

t.test('password policy', async (t) => {
  const { app } = await buildTestApp(t);
  const cases: Array<[string, string, number, string]> = [
    ['7 characters (default minimum 8)', 'x9$kQ2z', 400, 'PASSWORD_TOO_SHORT'],
    ['a common password', 'password1', 400, 'PASSWORD_TOO_COMMON'],
    ['a common password (keyboard row)', 'qwertyuiop', 400, 'PASSWORD_TOO_COMMON'],
    ['257 characters', 'a'.repeat(257), 400, 'VALIDATION_ERROR'],
  ];
  for (const [label, password, status, code] of cases) {
    t.test(label, async (t) => {
      const email = uniqueEmail();
      const response = await register(app, { email, password });
      await assertRejectedWithoutAccount(t, app, response, { status, code }, email);
    });
  }

  t.test('exactly 8 characters is enough', async (t) => {
    const response = await register(app, { email: uniqueEmail(), password: 'x9$kQ2zP' });
    t.equal(response.statusCode, 201);
  });
});

t.test('PASSWORD_MIN_LENGTH is configurable', async (t) => {
  const { app } = await buildTestApp(t, { env: { PASSWORD_MIN_LENGTH: '15' } });
  const email = uniqueEmail();
  const short = 'x9$kQ2zPm4!vB7n'.slice(0, 14);
  const response = await register(app, { email, password: short });
  await assertRejectedWithoutAccount(t, app, response, { status: 400, code: 'PASSWORD_TOO_SHORT' }, email);
  const ok = await register(app, { email: uniqueEmail(), password: 'x9$kQ2zPm4!vB7n' });
  t.equal(ok.statusCode, 201, '15 characters pass');
});

t.test('unknown fields are rejected, not dropped, and named in details', async (t) => {
  const { app } = await buildTestApp(t);
  for (const [field, value] of [['isAdmin', true], ['status', 'active'], ['id', '00000000-0000-4000-8000-000000000000']] as const) {
    const email = uniqueEmail();
    const password = strongPassword();
    const response = await register(app, { email, password, [field]: value });
    await assertRejectedWithoutAccount(t, app, response, { status: 400, code: 'VALIDATION_ERROR' }, email);
    t.ok(
      (response.json().details as Array<{ field: string }>).some((problem) => problem.field === `body/${field}`),
      `details name ${field}`,
    );
  }
});

t.test('wrong types are not coerced', async (t) => {
  const { app } = await buildTestApp(t);
  const email = uniqueEmail();
  const response = await register(app, { email, password: 1234567890123 });
  await assertRejectedWithoutAccount(t, app, response, { status: 400, code: 'VALIDATION_ERROR' }, email);
  t.ok((response.json().details as Array<{ field: string }>).some((problem) => problem.field === 'body/password'));
  const missing = await register(app, { email: uniqueEmail() });
  t.equal(missing.statusCode, 400, 'a missing password');
  t.equal(missing.json().code, 'VALIDATION_ERROR');
});

t.test('malformed JSON -> 400 INVALID_JSON', async (t) => {
  const { app } = await buildTestApp(t);
  const response = await app.inject({
    method: 'POST',
    url: REGISTER,
    headers: { 'content-type': 'application/json' },
    payload: '{"email": "a@example.test", "password": ',
  });
  t.equal(response.statusCode, 400);
  t.equal(response.json().code, 'INVALID_JSON');
});

t.test('a body over 16 KiB -> 413 PAYLOAD_TOO_LARGE', async (t) => {
  const { app } = await buildTestApp(t);
  const email = uniqueEmail();
  const password = strongPassword();
  const response = await register(app, { email, password, name: 'n'.repeat(17 * 1024) });
  await assertRejectedWithoutAccount(t, app, response, { status: 413, code: 'PAYLOAD_TOO_LARGE' }, email);
});

t.test(
  'a text/plain body -> 415 UNSUPPORTED_MEDIA_TYPE',
  async (t) => {
    const { app } = await buildTestApp(t);
    const email = uniqueEmail();
    const password = strongPassword();
    const response = await app.inject({
      method: 'POST',
      url: REGISTER,
      headers: { 'content-type': 'text/plain' },
      payload: JSON.stringify({ email, password }),
    });
    await assertRejectedWithoutAccount(t, app, response, { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' }, email);
  },
);
