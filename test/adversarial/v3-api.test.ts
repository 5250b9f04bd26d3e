/**
 * Adversarial input to API V3 (/api/v3/auth): opaque tokens of the wrong shape, user and foreign
 * app tokens on app and admin routes, privilege-escalation fields, injection-looking strings and
 * query params, client-credential tricks on POST /token, bodies over the default 16 KiB limit, and
 * hostile headers. Every row: exact status and body.error.code, no 5xx, nothing changed in
 * Postgres or Redis (see ./state.ts).
 */
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { randomBytes } from 'node:crypto';
import t from 'tap';
import type { Test } from 'tap';
import { appToken, createApp, V3 } from '../api/v3-admin-helpers.js';
import { buildTestApp } from '../helpers/app.js';
import { adminEnv, registerAdmin, registerUser } from '../helpers/factories.js';
import { bearer, type Case, flipChar, nestedArrays, nestedObjects, rawJson, runCases, stateContext } from './state.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

type Method = NonNullable<InjectOptions['method']>;
const v3 = (method: Method, path: string, token?: string, payload?: unknown, headers: Record<string, string> = {}): InjectOptions => ({
  method,
  url: `${V3}${path}`,
  headers: { ...(token ? bearer(token) : {}), ...headers },
  ...(payload === undefined ? {} : { payload: payload as object }),
});
const form = (body: string): InjectOptions => ({ method: 'POST', url: `${V3}/token`, payload: body, headers: FORM });
const tokenJson = (raw: string): InjectOptions => rawJson('POST', `${V3}/token`, raw);

/** Same bytes, different text: the last character's unused low bits flipped. */
function nonCanonical(token: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  return token.slice(0, -1) + alphabet[alphabet.indexOf(token.at(-1)!) ^ 1];
}

t.test('API V3: hostile requests change nothing', async (t) => {
  const { emails, env } = adminEnv(1);
  const built = await buildTestApp(t, { env });
  const { app } = built;
  const ctx = stateContext(t, built);
  const admin = await registerAdmin(app, emails[0]!);
  const partner = await registerUser(app, { role: 'PARTNER' });
  const appA = await createApp(app, admin.accessToken);
  const appB = await createApp(app, admin.accessToken);
  const tokenA = await appToken(app, appA);
  const adminToken = admin.accessToken;
  const totalZero = (t: Test, res: LightMyRequestResponse) => {
    t.equal(res.json().meta?.total, 0, 'the search matched nothing');
    t.strictSame(res.json().data, [], 'nothing listed');
  };
  const credsA = { client_id: appA.client_id, client_secret: appA.client_secret };

  t.test('opaque tokens of the wrong shape and the wrong kind', async (t) => {
    const body = tokenA.slice('v3at_'.length);
    const raw = Buffer.from(body, 'base64url');
    const withAppB = Buffer.from(raw);
    Buffer.from(appB.app_id.replaceAll('-', ''), 'hex').copy(withAppB, 0);
    const me = (token: string) => v3('GET', '/me', token);
    const invalid = (name: string, token: string): Case => ({ name, request: me(token), status: 401, code: 'V3_AUTH_TOKEN_INVALID' });
    const cases: Case[] = [
      invalid('wrong prefix', `v3rt_${body}`),
      invalid('upper-case prefix', `V3AT_${body}`),
      invalid('right prefix, one character too many', `${tokenA}A`),
      invalid('right prefix, truncated', tokenA.slice(0, -2)),
      invalid('right prefix and length, random body', `v3at_${randomBytes(raw.length).toString('base64url')}`),
      invalid('one character flipped', flipChar(tokenA, 40)),
      invalid('same bytes, non-canonical spelling', nonCanonical(tokenA)),
      invalid('non-base64url characters', `v3at_${'$'.repeat(body.length)}`),
      invalid("app A's token re-addressed to app B", `v3at_${withAppB.toString('base64url')}`),
      { name: 'no token', request: v3('GET', '/me'), status: 401, code: 'V3_AUTH_MISSING_CREDENTIAL' },
      { name: 'an admin user JWT on /me', request: me(adminToken), status: 403, code: 'V3_AUTH_PERMISSION_DENIED' },
      { name: 'a partner user JWT on /me/permissions', request: v3('GET', '/me/permissions', partner.accessToken), status: 403, code: 'V3_AUTH_PERMISSION_DENIED' },
    ];
    await runCases(t, ctx, 'v3', cases);
  });

  t.test("app A's token on app B's admin routes (no admin permission)", async (t) => {
    const denied = (name: string, request: InjectOptions): Case => ({ name, request, status: 403, code: 'V3_AUTH_PERMISSION_DENIED' });
    const cases: Case[] = [
      denied('GET /apps/:B', v3('GET', `/apps/${appB.app_id}`, tokenA)),
      denied('PATCH /apps/:B', v3('PATCH', `/apps/${appB.app_id}`, tokenA, { app_name: 'pwned' })),
      denied('rotate the secret of B', v3('POST', `/apps/${appB.app_id}/rotate-secret`, tokenA, {})),
      denied('suspend B', v3('POST', `/apps/${appB.app_id}/suspend`, tokenA, {})),
      denied('grant itself auth-admin.apps.write', v3('PUT', `/apps/${appA.app_id}/permissions`, tokenA, { permissions: ['auth-admin.apps.write'] })),
      denied("read B's audit log", v3('GET', `/apps/${appB.app_id}/audit-logs`, tokenA)),
      denied('register an app', v3('POST', '/apps', tokenA, { app_code: 'evil', app_name: 'Evil', organizations: ['HQ'], permissions: [] })),
      denied('a partner user registers an app', v3('POST', '/apps', partner.accessToken, { app_code: 'evil', app_name: 'Evil', organizations: ['HQ'], permissions: [] })),
    ];
    await runCases(t, ctx, 'v3', cases);
  });

  t.test('privilege escalation through extra fields (as ADMIN)', async (t) => {
    const newApp = (extra: Record<string, unknown>) => ({ app_code: `adv-${randomBytes(4).toString('hex')}`, app_name: 'Adversary', organizations: ['HQ'], permissions: [], ...extra });
    const bad = (name: string, request: InjectOptions): Case => ({ name, request, status: 400, code: 'V3_AUTH_VALIDATION_ERROR' });
    const patchB = (payload: unknown) => v3('PATCH', `/apps/${appB.app_id}`, adminToken, payload);
    const cases: Case[] = [
      bad('POST /apps with status', v3('POST', '/apps', adminToken, newApp({ status: 'ACTIVE' }))),
      bad('POST /apps with client_id', v3('POST', '/apps', adminToken, newApp({ client_id: appA.client_id }))),
      bad('POST /apps with client_secret', v3('POST', '/apps', adminToken, newApp({ client_secret: 'pcs_chosen-by-the-caller' }))),
      bad('POST /apps with secret', v3('POST', '/apps', adminToken, newApp({ secret: 'chosen' }))),
      bad('PATCH with status', patchB({ status: 'ACTIVE' })),
      bad('PATCH with client_id', patchB({ client_id: appA.client_id })),
      bad('PATCH with secret', patchB({ secret: 'chosen' })),
      bad('PATCH with app_code', patchB({ app_code: 'renamed' })),
      bad('PATCH with app_id', patchB({ app_id: appA.app_id })),
      bad('PATCH with a valid app_name next to status (nothing applied)', patchB({ app_name: 'renamed', status: 'REVOKED' })),
      { name: "POST /apps reusing app A's code", request: v3('POST', '/apps', adminToken, newApp({ app_code: appA.app_code })), status: 409, code: 'V3_AUTH_CONFLICT' },
    ];
    await runCases(t, ctx, 'v3', cases);
  });

  t.test('SQL- and NoSQL-looking strings in fields and query params', async (t) => {
    const get = (path: string) => v3('GET', path, adminToken);
    const bad = (name: string, request: InjectOptions): Case => ({ name, request, status: 400, code: 'V3_AUTH_VALIDATION_ERROR' });
    const empty = (name: string, request: InjectOptions): Case => ({ name, request, status: 200, code: null, check: totalZero });
    const sqlQ = encodeURIComponent("' OR 1=1--");
    const cases: Case[] = [
      bad('app_code with DROP TABLE', v3('POST', '/apps', adminToken, { app_code: "x'; DROP TABLE apps;--", app_name: 'x', organizations: ['HQ'], permissions: [] })),
      bad('app_name with NUL', v3('POST', '/apps', adminToken, { app_code: 'adv-nul', app_name: 'a\u0000b', organizations: ['HQ'], permissions: [] })),
      bad('organization as SQL', v3('POST', '/apps', adminToken, { app_code: 'adv-org', app_name: 'x', organizations: ["' OR 1=1--"], permissions: [] })),
      bad('permission as an operator object', v3('PUT', `/apps/${appB.app_id}/permissions`, adminToken, { permissions: [{ $ne: null }] })),
      empty('q: quote tautology', get(`/apps?q=${sqlQ}`)),
      empty('q: % wildcard', get('/apps?q=%25')),
      bad('q[$ne]', get('/apps?q[$ne]=x')),
      bad('app_code as a query param', get(`/apps?app_code=${sqlQ}`)),
      bad('status with SQL', get(`/apps?status=${encodeURIComponent("ACTIVE' OR '1'='1")}`)),
      empty('event_type: quote tautology', get(`/apps/${appA.app_id}/audit-logs?event_type=${encodeURIComponent("' OR '1'='1")}`)),
      bad('event_type[$regex]', get(`/apps/${appA.app_id}/audit-logs?event_type[$regex]=.*`)),
      bad('date_from with SQL', get(`/apps/${appA.app_id}/audit-logs?date_from=${sqlQ}`)),
      bad('app_id with SQL', get(`/apps/${encodeURIComponent('1 OR 1=1')}`)),
      empty('module_code: operator text', get(`/permissions?module_code=${encodeURIComponent('{"$gt":""}')}`)),
      empty('organizations q: quote tautology', get(`/organizations?q=${sqlQ}`)),
    ];
    await runCases(t, ctx, 'v3', cases);
  });

  t.test('client credentials on POST /token', async (t) => {
    const token = (payload: unknown) => v3('POST', '/token', undefined, payload);
    const invalidClient = (name: string, payload: unknown): Case => ({ name, request: token(payload), status: 401, code: 'V3_AUTH_INVALID_CLIENT' });
    const bad = (name: string, request: InjectOptions): Case => ({ name, request, status: 400, code: 'V3_AUTH_VALIDATION_ERROR' });
    const encoded = (pairs: [string, string][]) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
    const cases: Case[] = [
      invalidClient("app B's client_id with app A's secret", { client_id: appB.client_id, client_secret: appA.client_secret }),
      invalidClient('a made-up client_id', { client_id: `cid_${randomBytes(16).toString('base64url')}`, client_secret: appA.client_secret }),
      invalidClient('client_id with SQL', { client_id: "cid_' OR 1=1--", client_secret: appA.client_secret }),
      invalidClient('the right secret plus a space', { ...credsA, client_secret: `${appA.client_secret} ` }),
      { name: 'form: the secret of A for B', request: form(encoded([['client_id', appB.client_id], ['client_secret', appA.client_secret]])), status: 401, code: 'V3_AUTH_INVALID_CLIENT' },
      bad('client_secret as an operator object', token({ client_id: appA.client_id, client_secret: { $ne: null } })),
      bad('JSON arrays for both fields', token({ client_id: [appA.client_id], client_secret: [appA.client_secret] })),
      bad('form: client_id[] and client_secret[]', form(encoded([['client_id[]', appA.client_id], ['client_secret[]', appA.client_secret]]))),
      bad('form: client_id twice', form(encoded([['client_id', appA.client_id], ['client_id', appB.client_id], ['client_secret', appA.client_secret]]))),
      bad('form: client_secret twice', form(encoded([['client_id', appA.client_id], ['client_secret', 'wrong'], ['client_secret', appA.client_secret]]))),
      { name: 'grant_type CLIENT_CREDENTIALS (values are case-sensitive)', request: token({ ...credsA, grant_type: 'CLIENT_CREDENTIALS' }), status: 400, code: 'V3_AUTH_UNSUPPORTED_GRANT_TYPE' },
      { name: 'grant_type password', request: token({ ...credsA, grant_type: 'password' }), status: 400, code: 'V3_AUTH_UNSUPPORTED_GRANT_TYPE' },
      { name: 'form: grant_type password', request: form(encoded([['grant_type', 'password'], ['client_id', appA.client_id], ['client_secret', appA.client_secret]])), status: 400, code: 'V3_AUTH_UNSUPPORTED_GRANT_TYPE' },
      bad('grant_type empty', token({ ...credsA, grant_type: '' })),
      bad('extra scope field', token({ ...credsA, scope: 'auth-admin.apps.write' })),
      bad('organization_id as an operator object', token({ ...credsA, organization_id: { $ne: null } })),
      bad('organization_code with NUL', token({ ...credsA, organization_code: 'HQ\u0000' })),
      { name: 'organization_code with SQL', request: token({ ...credsA, organization_code: "' OR 1=1--" }), status: 403, code: 'V3_AUTH_ORG_DENIED' },
      bad('__proto__ in the body', tokenJson(`{"client_id":"${appA.client_id}","client_secret":"${appA.client_secret}","__proto__":{"x":1}}`)),
      bad('truncated JSON', tokenJson(`{"client_id":"${appA.client_id}","client_secret":`)),
      bad('NaN in JSON', tokenJson('{"client_id":NaN}')),
    ];
    await runCases(t, ctx, 'v3', cases);
  });

  t.test('size, depth and media type at the default 16 KiB limit', async (t) => {
    const tooLarge = (name: string, request: InjectOptions): Case => ({ name, request, status: 413, code: 'V3_AUTH_PAYLOAD_TOO_LARGE' });
    const cases: Case[] = [
      tooLarge('20 KiB JSON', v3('POST', '/token', undefined, { ...credsA, organization_code: 'x'.repeat(20 * 1024) })),
      tooLarge('20 KiB form', form(`client_id=${appA.client_id}&client_secret=${'s'.repeat(20 * 1024)}`)),
      tooLarge('10k nested arrays (over the limit before parsing)', tokenJson(nestedArrays(10_000))),
      tooLarge('20 KiB app description', v3('PATCH', `/apps/${appB.app_id}`, adminToken, { description: 'd'.repeat(20 * 1024) })),
      { name: '8000 nested arrays (under the limit)', request: tokenJson(nestedArrays(8000)), status: 400, code: 'V3_AUTH_VALIDATION_ERROR' },
      { name: '2500 nested objects as client_id', request: tokenJson(`{"client_id":${nestedObjects(2500)}}`), status: 400, code: 'V3_AUTH_VALIDATION_ERROR' },
      { name: 'XML', request: { method: 'POST', url: `${V3}/token`, payload: '<client_id>x</client_id>', headers: { 'content-type': 'text/xml' } }, status: 415, code: 'V3_AUTH_UNSUPPORTED_MEDIA_TYPE' },
    ];
    await runCases(t, ctx, 'v3', cases);
  });

  t.test('headers', async (t) => {
    const cleanId = (t: Test, res: LightMyRequestResponse) => {
      t.match(String(res.headers['x-request-id']), UUID, 'a generated, clean x-request-id');
      t.equal(res.json().meta?.request_id, res.headers['x-request-id'], 'meta.request_id is the header');
      t.notOk(res.headers['set-cookie'], 'no header smuggled in');
    };
    const cases: Case[] = [
      { name: 'x-request-id with CRLF', request: v3('GET', '/me', undefined, undefined, { 'x-request-id': 'id\r\nSet-Cookie: admin=1' }), status: 401, code: 'V3_AUTH_MISSING_CREDENTIAL', check: cleanId },
      { name: 'x-request-id with encoded CRLF', request: v3('GET', '/me', undefined, undefined, { 'x-request-id': 'id%0d%0aSet-Cookie:%20admin=1' }), status: 401, code: 'V3_AUTH_MISSING_CREDENTIAL', check: cleanId },
      { name: '17 KiB x-request-id', request: v3('GET', '/me', tokenA.slice(0, -1), undefined, { 'x-request-id': 'r'.repeat(17 * 1024) }), status: 401, code: 'V3_AUTH_TOKEN_INVALID', check: cleanId },
      { name: '17 KiB bearer token', request: v3('GET', '/me', `v3at_${'A'.repeat(17 * 1024)}`), status: 401, code: 'V3_AUTH_TOKEN_INVALID' },
    ];
    await runCases(t, ctx, 'v3', cases);
  });

  t.equal((await app.inject(v3('GET', '/me', tokenA))).statusCode, 200, "app A's real token still works");
});
