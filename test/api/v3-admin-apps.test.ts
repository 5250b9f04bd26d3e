/**
 * API V3 admin: registering apps (POST /apps), listing (GET /apps), the detail view (GET
 * /apps/:id) and PATCH /apps/:id; who may call the admin routes at all (the authorization
 * matrix); and that every response, errors included, is in the V3 envelope.
 */
import { randomUUID } from 'node:crypto';
import t from 'tap';
import type { Test } from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { adminEnv, registerAdmin, registerUser } from '../helpers/factories.js';
import { attackerKey, claimsOf, currentSigningKey, serviceClaims, serviceHeader, signJws, signLikeTheService, unsignedJws } from '../helpers/jwt.js';
import {
  appRowCount,
  appToken,
  call,
  type CallOptions,
  createApp,
  type CreatedApp,
  errorText,
  expectData,
  expectError,
  expectList,
  getApp,
  issueToken,
  type Json,
  type Method,
  openSql,
  organizationIds,
  UUID,
  uniqueCode,
  V3_DATETIME,
} from './v3-admin-helpers.js';

const SUMMARY_KEYS = ['app_code', 'app_id', 'app_name', 'client_id', 'created_at', 'default_organization_id', 'description', 'status', 'updated_at'];
const DETAIL_KEYS = [...SUMMARY_KEYS, 'organizations', 'permissions', 'secrets'].sort();
const NIL_UUID = '00000000-0000-4000-8000-000000000000';

t.test('POST /apps', async (t) => {
  const { emails, env } = adminEnv(1);
  const { app, databaseUrl } = await buildTestApp(t, { env });
  const admin = await registerAdmin(app, emails[0]!);
  const sql = openSql(t, databaseUrl);
  const org = await organizationIds(sql);
  const create = (payload: unknown, options: CallOptions = {}) => call(app, 'POST', '/apps', { token: admin.accessToken, payload, ...options });

  t.test('201: app_id, client_id (cid_), client_secret (pcs_, shown once), secret_version 1', async (t) => {
    const app_code = uniqueCode('create');
    const res = await create({
      app_code,
      app_name: 'Order sync',
      description: 'Syncs orders',
      organizations: ['HQ', 'ACME'],
      default_organization_id: 'ACME',
      permissions: ['orders.orders.read', 'inventory.items.read'],
    });
    const data = expectData(t, res, 201);
    t.strictSame(Object.keys(data).sort(), ['app_id', 'client_id', 'client_secret', 'secret_version']);
    t.match(data.app_id, UUID);
    t.match(data.client_id, /^cid_[A-Za-z0-9_-]{22}$/);
    t.match(data.client_secret, /^pcs_[A-Za-z0-9_-]{43}$/);
    t.equal(data.secret_version, 1);
    t.equal(res.headers['cache-control'], 'no-store', 'the one response with the secret is not cached');

    const [stored] = await sql<{ secret_hash: string }[]>`select secret_hash from app_secrets where app_id = ${data.app_id}`;
    t.ok(stored, 'a secret row exists');
    t.not(stored!.secret_hash, data.client_secret, 'the secret is not stored in the clear');
    t.notOk(stored!.secret_hash.includes(data.client_secret.slice(4)), 'nor its random part');

    const detailRes = await getApp(app, admin.accessToken, data.app_id);
    const detail = expectData(t, detailRes);
    t.match(detail, {
      app_id: data.app_id,
      app_code,
      app_name: 'Order sync',
      description: 'Syncs orders',
      status: 'ACTIVE',
      client_id: data.client_id,
      default_organization_id: org.ACME,
    });
    for (const [label, body] of [['GET /apps/:id', detailRes.body], ['GET /apps', (await call(app, 'GET', '/apps', { token: admin.accessToken, query: { q: app_code } })).body]]) {
      t.notOk(body!.includes(data.client_secret), `${label} never contains the secret`);
      t.notOk(body!.includes(data.client_secret.slice(4)), `${label} never contains the secret's random part`);
      t.notOk(body!.includes(stored!.secret_hash), `${label} never contains the stored digest`);
      t.notMatch(body!, /client_secret|secret_hash|digest/, `${label} has no secret or hash field`);
    }

    const token = await issueToken(app, { client_id: data.client_id, client_secret: data.client_secret });
    t.equal(token.statusCode, 200, 'the secret issues tokens');
    t.equal(token.json().data.organization_code, 'ACME', 'for the default organization');
  });

  t.test('organizations and the default may be given as ids', async (t) => {
    const created = await createApp(app, admin.accessToken, { organizations: [org.HQ, org.GLOBEX], default_organization_id: org.GLOBEX });
    const detail = expectData(t, await getApp(app, admin.accessToken, created.app_id));
    t.equal(detail.default_organization_id, org.GLOBEX);
    t.strictSame(
      detail.organizations.map((o: Json) => [o.organization_code, o.organization_id, o.is_default]),
      [['GLOBEX', org.GLOBEX, true], ['HQ', org.HQ, false]],
    );
  });

  t.test('codes and ids may be mixed; the default may name by code an organization given by id', async (t) => {
    const created = await createApp(app, admin.accessToken, { organizations: ['HQ', org.ACME], default_organization_id: 'ACME' });
    const detail = expectData(t, await getApp(app, admin.accessToken, created.app_id));
    t.equal(detail.default_organization_id, org.ACME);
    t.strictSame(detail.organizations.map((o: Json) => o.organization_code), ['ACME', 'HQ']);

    const byId = await createApp(app, admin.accessToken, { organizations: ['GLOBEX'], default_organization_id: org.GLOBEX });
    t.equal(expectData(t, await getApp(app, admin.accessToken, byId.app_id)).default_organization_id, org.GLOBEX);
  });

  t.test('without a default: default_organization_id null', async (t) => {
    const created = await createApp(app, admin.accessToken, { organizations: ['HQ', 'ACME'], default_organization_id: undefined });
    const detail = expectData(t, await getApp(app, admin.accessToken, created.app_id));
    t.equal(detail.default_organization_id, null);
    t.ok(detail.organizations.every((o: Json) => o.is_default === false));
  });

  t.test('a default that is not one of the organizations is 400, and no app is created', async (t) => {
    for (const ref of ['ACME', org.ACME!]) {
      const app_code = uniqueCode('baddefault');
      const error = expectError(t, await create({ app_code, app_name: 'x', organizations: ['HQ'], default_organization_id: ref, permissions: [] }), 400, 'V3_AUTH_VALIDATION_ERROR');
      t.match(errorText(error), /default_organization_id/, 'names the field');
      t.equal(await appRowCount(sql, app_code), 0, `no app row (default ${ref})`);
    }
    const app_code = uniqueCode('unknowndefault');
    const error = expectError(t, await create({ app_code, app_name: 'x', organizations: ['HQ'], default_organization_id: 'NOPE-ORG', permissions: [] }), 400, 'V3_AUTH_VALIDATION_ERROR');
    t.match(errorText(error), /NOPE-ORG/, 'an unknown default is named');
    t.equal(await appRowCount(sql, app_code), 0);
  });

  t.test('unknown permission codes: 400 naming each of them, and no app is created', async (t) => {
    const app_code = uniqueCode('unkperm');
    const unknown = ['nope.things.read', 'orders.orders.delete', `x${randomUUID().slice(0, 6)}`];
    const error = expectError(
      t,
      await create({ app_code, app_name: 'x', organizations: ['HQ'], permissions: ['orders.orders.read', ...unknown] }),
      400,
      'V3_AUTH_VALIDATION_ERROR',
    );
    for (const code of unknown) t.ok(errorText(error).includes(code), `names ${code}`);
    t.notOk(error.message.includes('orders.orders.read'), 'the known code is not listed as unknown');
    t.ok((error.details as Json[] | undefined)?.some((d) => d.field.includes('permissions')), 'details point at permissions');
    t.equal(await appRowCount(sql, app_code), 0, 'no app row');
    t.equal(expectList(t, await call(app, 'GET', '/apps', { token: admin.accessToken, query: { q: app_code } })).meta.total, 0, 'not listed');
  });

  t.test('unknown organizations (codes or ids): 400 naming each of them, and no app is created', async (t) => {
    const app_code = uniqueCode('unkorg');
    const unknown = ['NOWHERE', 'ALSO-NOWHERE', randomUUID()];
    const error = expectError(
      t,
      await create({ app_code, app_name: 'x', organizations: ['HQ', ...unknown], permissions: ['orders.orders.read'] }),
      400,
      'V3_AUTH_VALIDATION_ERROR',
    );
    for (const ref of unknown) t.ok(errorText(error).includes(ref), `names ${ref}`);
    t.ok((error.details as Json[] | undefined)?.some((d) => d.field.includes('organizations')), 'details point at organizations');
    t.equal(await appRowCount(sql, app_code), 0, 'no app row');
  });

  t.test('unknown organizations and permissions together: every unknown code is named', async (t) => {
    const app_code = uniqueCode('unkboth');
    const res = await create({ app_code, app_name: 'x', organizations: ['HQ', 'NOWHERE-ORG'], permissions: ['nope.things.write'] });
    const error = expectError(t, res, 400, 'V3_AUTH_VALIDATION_ERROR');
    t.ok(errorText(error).includes('NOWHERE-ORG'), 'names the unknown organization');
    // Regression: create() once stopped at the unknown organizations and never named the permissions.
    t.ok(errorText(error).includes('nope.things.write'), 'names the unknown permission too');
    t.strictSame((error.details as Json[]).map((d) => d.field).sort(), ['body/organizations', 'body/permissions'], 'one detail per kind');
    t.equal(await appRowCount(sql, app_code), 0);
  });

  t.test('a duplicate app_code is 409 V3_AUTH_CONFLICT and leaves the first app alone', async (t) => {
    const first = await createApp(app, admin.accessToken);
    const error = expectError(
      t,
      await create({ app_code: first.app_code, app_name: 'Second', organizations: ['ACME'], permissions: [] }),
      409,
      'V3_AUTH_CONFLICT',
    );
    t.match(error.message, first.app_code, 'names the code');
    t.equal(await appRowCount(sql, first.app_code), 1, 'still one row');
    const detail = expectData(t, await getApp(app, admin.accessToken, first.app_id));
    t.match(detail, { app_name: 'Test app', status: 'ACTIVE' });
    t.equal((await issueToken(app, first)).statusCode, 200, 'the first app still works');
  });

  t.test('app_code must be letters, digits, . _ - (1 to 64, not starting with a symbol)', async (t) => {
    for (const app_code of ['has space', 'semi;colon', 'slash/code', '-leading', '.leading', 'ümlaut', 'tab\tcode', '', 'a'.repeat(65), 'quote"s']) {
      const error = expectError(t, await create({ app_code, app_name: 'x', organizations: [], permissions: [] }), 400, 'V3_AUTH_VALIDATION_ERROR');
      t.ok((error.details as Json[] | undefined)?.some((d) => d.field === 'body/app_code'), `${JSON.stringify(app_code)} is refused on app_code`);
    }
    for (const app_code of [`ok.code_${randomUUID().slice(0, 6)}-x`, `A${randomUUID().slice(0, 8)}`, `9${'b'.repeat(63)}`]) {
      expectData(t, await create({ app_code, app_name: 'x', organizations: [], permissions: [] }), 201);
    }
  });

  t.test('app_name is required and non-empty', async (t) => {
    const app_code = uniqueCode('noname');
    const error = expectError(t, await create({ app_code, organizations: ['HQ'], permissions: [] }), 400, 'V3_AUTH_VALIDATION_ERROR');
    t.ok((error.details as Json[]).some((d) => d.field === 'body/app_name'), 'details name app_name');
    expectError(t, await create({ app_code, app_name: '', organizations: ['HQ'], permissions: [] }), 400, 'V3_AUTH_VALIDATION_ERROR');
    t.equal(await appRowCount(sql, app_code), 0);
  });

  t.test('unknown fields are refused, not ignored', async (t) => {
    for (const extra of [{ status: 'SUSPENDED' }, { client_secret: 'pcs_mine' }, { client_id: 'cid_x' }, { app_id: randomUUID() }, { secret_version: 7 }]) {
      const app_code = uniqueCode('extra');
      const error = expectError(t, await create({ app_code, app_name: 'x', organizations: ['HQ'], permissions: [], ...extra }), 400, 'V3_AUTH_VALIDATION_ERROR');
      const field = Object.keys(extra)[0]!;
      t.ok((error.details as Json[]).some((d) => d.field === `body/${field}`), `details name ${field}`);
      t.equal(await appRowCount(sql, app_code), 0);
    }
  });

  t.test('organizations and permissions are required arrays; a body is required', async (t) => {
    expectError(t, await create({ app_code: uniqueCode('x'), app_name: 'x', permissions: [] }), 400, 'V3_AUTH_VALIDATION_ERROR');
    expectError(t, await create({ app_code: uniqueCode('x'), app_name: 'x', organizations: ['HQ'] }), 400, 'V3_AUTH_VALIDATION_ERROR');
    expectError(t, await create({ app_code: uniqueCode('x'), app_name: 'x', organizations: 'HQ', permissions: [] }), 400, 'V3_AUTH_VALIDATION_ERROR');
    expectError(t, await call(app, 'POST', '/apps', { token: admin.accessToken }), 400, 'V3_AUTH_VALIDATION_ERROR');
  });
});

t.test('GET /apps', async (t) => {
  const { emails, env } = adminEnv(1);
  const { app } = await buildTestApp(t, { env });
  const admin = await registerAdmin(app, emails[0]!);
  const list = (query: Record<string, string> = {}) => call(app, 'GET', '/apps', { token: admin.accessToken, query });
  const prefix = `lst${randomUUID().slice(0, 6)}`;
  const marker = `Marker${randomUUID().slice(0, 6)}`;
  const created: CreatedApp[] = [];
  for (const [suffix, name] of [['a', 'Alpha'], ['b', 'Bravo'], ['c', `Charlie ${marker}`], ['d', 'Delta'], ['e', 'Echo']] as const) {
    created.push(await createApp(app, admin.accessToken, { app_code: `${prefix}-${suffix}`, app_name: name }));
  }
  for (const target of [created[1]!, created[3]!]) {
    expectData(t, await call(app, 'POST', `/apps/${target.app_id}/suspend`, { token: admin.accessToken, payload: {} }));
  }

  t.test('list envelope: data array of app summaries; meta page 1, per_page 50, total', async (t) => {
    const { data, meta } = expectList(t, await list());
    t.match(meta, { page: 1, per_page: 50 });
    t.ok(meta.total >= 5, 'total counts every app');
    t.equal(data.length, Math.min(meta.total, 50));
    for (const item of data) {
      t.strictSame(Object.keys(item).sort(), SUMMARY_KEYS, `keys of ${String(item.app_code)}`);
      t.match(item.created_at, V3_DATETIME);
      t.match(item.updated_at, V3_DATETIME);
    }
    const mine = data.find((item) => item.app_id === created[0]!.app_id);
    t.match(mine, { app_code: `${prefix}-a`, app_name: 'Alpha', status: 'ACTIVE', client_id: created[0]!.client_id, description: null });
  });

  t.test('q matches the code or the name, case-insensitively', async (t) => {
    const byPrefix = expectList(t, await list({ q: prefix }));
    t.equal(byPrefix.meta.total, 5);
    t.strictSame(byPrefix.data.map((item) => item.app_code), ['a', 'b', 'c', 'd', 'e'].map((s) => `${prefix}-${s}`), 'ordered by app_code');
    t.equal(expectList(t, await list({ q: prefix.toUpperCase() })).meta.total, 5, 'upper-case query');
    const byName = expectList(t, await list({ q: marker.toLowerCase() }));
    t.equal(byName.meta.total, 1, 'a fragment of one name');
    t.equal(byName.data[0]?.app_id, created[2]!.app_id);
    t.equal(expectList(t, await list({ q: `${prefix}-d` })).data[0]?.app_name, 'Delta', 'a whole code');
    t.equal(expectList(t, await list({ q: `zz${randomUUID()}` })).meta.total, 0, 'no match');
    t.equal(expectList(t, await list({ q: `${prefix}%` })).meta.total, 0, '% is a literal character');
    t.equal(expectList(t, await list({ q: `${prefix}_a` })).meta.total, 0, '_ is a literal character');
  });

  t.test('status filters', async (t) => {
    const suspended = expectList(t, await list({ q: prefix, status: 'SUSPENDED' }));
    t.equal(suspended.meta.total, 2);
    t.strictSame(suspended.data.map((item) => item.app_id).sort(), [created[1]!.app_id, created[3]!.app_id].sort());
    t.ok(suspended.data.every((item) => item.status === 'SUSPENDED'));
    const active = expectList(t, await list({ q: prefix, status: 'ACTIVE' }));
    t.equal(active.meta.total, 3);
    t.ok(active.data.every((item) => item.status === 'ACTIVE'));
    t.equal(expectList(t, await list({ q: prefix, status: 'REVOKED' })).meta.total, 0);
    const allSuspended = expectList(t, await list({ status: 'SUSPENDED' }));
    t.ok(allSuspended.data.every((item) => item.status === 'SUSPENDED'), 'without q too');
    expectError(t, await list({ status: 'PAUSED' }), 400, 'V3_AUTH_VALIDATION_ERROR');
    expectError(t, await list({ status: 'active' }), 400, 'V3_AUTH_VALIDATION_ERROR');
  });

  t.test('pagination: per_page 2 walks three disjoint pages with the same total', async (t) => {
    const seen: string[] = [];
    for (const [page, size] of [[1, 2], [2, 2], [3, 1]] as const) {
      const { data, meta } = expectList(t, await list({ q: prefix, per_page: '2', page: String(page) }));
      t.match(meta, { page, per_page: 2, total: 5 });
      t.equal(data.length, size, `page ${page} holds ${size}`);
      seen.push(...data.map((item) => String(item.app_code)));
    }
    t.strictSame(seen, ['a', 'b', 'c', 'd', 'e'].map((s) => `${prefix}-${s}`), 'every app once, in order');
    const beyond = expectList(t, await list({ q: prefix, per_page: '2', page: '4' }));
    t.strictSame(beyond.data, []);
    t.equal(beyond.meta.total, 5);
    t.equal(expectList(t, await list({ per_page: '200' })).meta.per_page, 200, 'per_page 200 is allowed');
  });

  t.test('bad query strings are 400', async (t) => {
    for (const query of <Record<string, string>[]>[{ per_page: '0' }, { per_page: '201' }, { page: '0' }, { page: '-1' }, { page: 'x' }, { per_page: '1.5' }, { q: '' }, { sort: 'app_code' }]) {
      expectError(t, await list(query), 400, 'V3_AUTH_VALIDATION_ERROR');
    }
  });
});

t.test('GET /apps/:id', async (t) => {
  const { emails, env } = adminEnv(1);
  const { app, databaseUrl } = await buildTestApp(t, { env });
  const admin = await registerAdmin(app, emails[0]!);
  const sql = openSql(t, databaseUrl);
  const org = await organizationIds(sql);

  t.test('the detail: summary plus organizations, permissions (module/resource/action) and secrets without secret material', async (t) => {
    const created = await createApp(app, admin.accessToken, {
      app_name: 'Detail',
      description: 'Detailed',
      organizations: ['GLOBEX', 'ACME'],
      default_organization_id: 'GLOBEX',
      permissions: ['orders.orders.read', 'billing.invoices.read'],
    });
    const res = await getApp(app, admin.accessToken, created.app_id);
    const detail = expectData(t, res);
    t.strictSame(Object.keys(detail).sort(), DETAIL_KEYS);
    t.match(detail, { app_id: created.app_id, app_code: created.app_code, app_name: 'Detail', description: 'Detailed', status: 'ACTIVE', client_id: created.client_id, default_organization_id: org.GLOBEX });
    t.match(detail.created_at, V3_DATETIME);
    t.strictSame(detail.organizations, [
      { organization_id: org.ACME, organization_code: 'ACME', organization_name: 'Acme Corporation', is_default: false },
      { organization_id: org.GLOBEX, organization_code: 'GLOBEX', organization_name: 'Globex', is_default: true },
    ]);
    t.strictSame(detail.permissions, [
      { permission_code: 'billing.invoices.read', module_code: 'billing', resource_code: 'invoices', action_code: 'read' },
      { permission_code: 'orders.orders.read', module_code: 'orders', resource_code: 'orders', action_code: 'read' },
    ]);
    t.equal(detail.secrets.length, 1);
    t.strictSame(Object.keys(detail.secrets[0]).sort(), ['created_at', 'grace_until', 'revoked_at', 'status', 'version'], 'a secret is only its metadata');
    t.match(detail.secrets[0], { version: 1, status: 'ACTIVE', grace_until: null, revoked_at: null });
    t.match(detail.secrets[0].created_at, V3_DATETIME);
    const [stored] = await sql<{ secret_hash: string }[]>`select secret_hash from app_secrets where app_id = ${created.app_id}`;
    t.notOk(res.body.includes(created.client_secret), 'no client secret');
    t.notOk(res.body.includes(stored!.secret_hash), 'no secret digest');
  });

  t.test('an unknown id is 404 V3_AUTH_NOT_FOUND', async (t) => {
    expectError(t, await getApp(app, admin.accessToken, randomUUID()), 404, 'V3_AUTH_NOT_FOUND');
    expectError(t, await getApp(app, admin.accessToken, NIL_UUID), 404, 'V3_AUTH_NOT_FOUND');
  });

  t.test('a non-uuid id is 400 naming params/app_id', async (t) => {
    for (const id of ['not-a-uuid', '123', `${randomUUID()}x`, 'HQ']) {
      const error = expectError(t, await getApp(app, admin.accessToken, id), 400, 'V3_AUTH_VALIDATION_ERROR');
      t.ok((error.details as Json[]).some((d) => d.field === 'params/app_id'), `${id}: details name params/app_id`);
    }
  });
});

t.test('PATCH /apps/:id', async (t) => {
  const { emails, env } = adminEnv(1);
  const { app, databaseUrl } = await buildTestApp(t, { env });
  const admin = await registerAdmin(app, emails[0]!);
  const sql = openSql(t, databaseUrl);
  const org = await organizationIds(sql);
  const patch = (id: string, payload: unknown) => call(app, 'PATCH', `/apps/${id}`, { token: admin.accessToken, payload });
  const detailOf = async (id: string) => expectData(t, await getApp(app, admin.accessToken, id));

  t.test('app_name: 200 with the updated summary, visible in the detail', async (t) => {
    const created = await createApp(app, admin.accessToken, { description: 'keep me' });
    const data = expectData(t, await patch(created.app_id, { app_name: 'Renamed' }));
    t.strictSame(Object.keys(data).sort(), SUMMARY_KEYS);
    t.match(data, { app_id: created.app_id, app_name: 'Renamed', description: 'keep me', app_code: created.app_code, status: 'ACTIVE', default_organization_id: org.HQ });
    t.match(await detailOf(created.app_id), { app_name: 'Renamed', description: 'keep me' });
  });

  t.test('description: set, then cleared with null', async (t) => {
    const created = await createApp(app, admin.accessToken);
    t.equal(expectData(t, await patch(created.app_id, { description: 'Now described' })).description, 'Now described');
    t.equal(expectData(t, await patch(created.app_id, { description: null })).description, null);
    t.match(await detailOf(created.app_id), { description: null, app_name: 'Test app' });
  });

  t.test('default_organization_id: by code or id among the app\'s organizations, or null', async (t) => {
    const created = await createApp(app, admin.accessToken, { organizations: ['HQ', 'ACME', 'GLOBEX'], default_organization_id: 'HQ' });
    t.equal(expectData(t, await patch(created.app_id, { default_organization_id: 'ACME' })).default_organization_id, org.ACME);
    t.equal(expectData(t, await patch(created.app_id, { default_organization_id: org.GLOBEX })).default_organization_id, org.GLOBEX);
    const detail = await detailOf(created.app_id);
    t.strictSame(detail.organizations.filter((o: Json) => o.is_default).map((o: Json) => o.organization_code), ['GLOBEX']);
    t.equal(expectData(t, await patch(created.app_id, { default_organization_id: null })).default_organization_id, null);
    t.equal((await detailOf(created.app_id)).default_organization_id, null);
  });

  t.test('a default outside the app\'s organizations, or unknown, is 400 and changes nothing', async (t) => {
    const created = await createApp(app, admin.accessToken, { organizations: ['HQ'], default_organization_id: 'HQ' });
    for (const ref of ['ACME', org.GLOBEX!, 'NO-SUCH-ORG', randomUUID()]) {
      expectError(t, await patch(created.app_id, { default_organization_id: ref, app_name: 'Should not stick' }), 400, 'V3_AUTH_VALIDATION_ERROR');
    }
    t.match(await detailOf(created.app_id), { default_organization_id: org.HQ, app_name: 'Test app' });
  });

  t.test('{} is 400; status, app_code, client_id and unknown fields are 400', async (t) => {
    const created = await createApp(app, admin.accessToken);
    expectError(t, await patch(created.app_id, {}), 400, 'V3_AUTH_VALIDATION_ERROR');
    for (const body of [{ status: 'SUSPENDED' }, { status: 'REVOKED', app_name: 'x' }, { app_code: 'other' }, { client_id: 'cid_x' }, { organizations: ['ACME'] }, { nickname: 'x' }]) {
      const error = expectError(t, await patch(created.app_id, body), 400, 'V3_AUTH_VALIDATION_ERROR');
      const unknownField = Object.keys(body)[0]!;
      t.ok((error.details as Json[]).some((d) => d.field === `body/${unknownField}`), `details name ${unknownField}`);
    }
    expectError(t, await patch(created.app_id, { app_name: '' }), 400, 'V3_AUTH_VALIDATION_ERROR');
    expectError(t, await patch(created.app_id, { app_name: 42 }), 400, 'V3_AUTH_VALIDATION_ERROR');
    t.match(await detailOf(created.app_id), { status: 'ACTIVE', app_code: created.app_code, app_name: 'Test app' });
    t.equal((await issueToken(app, created)).statusCode, 200, 'a refused status change did not suspend the app');
  });

  t.test('an unknown id is 404; a non-uuid id is 400', async (t) => {
    expectError(t, await patch(randomUUID(), { app_name: 'x' }), 404, 'V3_AUTH_NOT_FOUND');
    expectError(t, await patch('nope', { app_name: 'x' }), 400, 'V3_AUTH_VALIDATION_ERROR');
  });
});

interface RouteCase {
  method: Method;
  path: string;
  payload?: () => unknown;
  /** The status an allowed caller gets. */
  ok: number;
  /** Reads are open to auth-admin.apps.read; audit logs to auth-admin.audit.read; the rest to .write. */
  needs: 'read' | 'write' | 'audit';
  /** Answers with the list envelope. */
  list?: boolean;
}

/** Every admin route, with valid input for it; revoke last (it is permanent). */
function adminRoutes(appId: string): RouteCase[] {
  return [
    { method: 'POST', path: '/apps', payload: () => ({ app_code: uniqueCode('matrix'), app_name: 'Matrix', organizations: ['HQ'], permissions: [] }), ok: 201, needs: 'write' },
    { method: 'GET', path: '/apps', ok: 200, needs: 'read', list: true },
    { method: 'GET', path: `/apps/${appId}`, ok: 200, needs: 'read' },
    { method: 'PATCH', path: `/apps/${appId}`, payload: () => ({ app_name: 'Renamed by matrix' }), ok: 200, needs: 'write' },
    { method: 'POST', path: `/apps/${appId}/rotate-secret`, payload: () => ({ grace_hours: 1 }), ok: 200, needs: 'write' },
    { method: 'POST', path: `/apps/${appId}/suspend`, payload: () => ({}), ok: 200, needs: 'write' },
    { method: 'POST', path: `/apps/${appId}/reactivate`, payload: () => ({ reason: 'matrix' }), ok: 200, needs: 'write' },
    { method: 'PUT', path: `/apps/${appId}/permissions`, payload: () => ({ permissions: ['inventory.items.read'] }), ok: 200, needs: 'write' },
    { method: 'PUT', path: `/apps/${appId}/organizations`, payload: () => ({ organizations: ['HQ', 'ACME'] }), ok: 200, needs: 'write' },
    { method: 'GET', path: `/apps/${appId}/audit-logs`, ok: 200, needs: 'audit', list: true },
    { method: 'GET', path: '/permissions', ok: 200, needs: 'read', list: true },
    { method: 'GET', path: '/organizations', ok: 200, needs: 'read', list: true },
    { method: 'POST', path: `/apps/${appId}/revoke`, payload: () => ({}), ok: 200, needs: 'write' },
  ];
}

const send = (app: Parameters<typeof call>[0], route: RouteCase, options: CallOptions = {}) =>
  call(app, route.method, route.path, { ...options, ...(route.payload ? { payload: route.payload() } : {}) });

t.test('authorization matrix of the admin routes', async (t) => {
  const { emails, env } = adminEnv(1);
  const { app, databaseUrl } = await buildTestApp(t, { env });
  const admin = await registerAdmin(app, emails[0]!);
  const consumer = await registerUser(app);
  const partner = await registerUser(app, { role: 'PARTNER' });
  t.equal(consumer.role, 'CONSUMER');
  t.equal(partner.role, 'PARTNER');
  const sql = openSql(t, databaseUrl);
  const target = await createApp(app, admin.accessToken, { app_name: 'Target' });
  const appCount = async () => (await sql<{ n: number }[]>`select count(*)::int as n from apps`)[0]!.n;

  /** Nothing a refused caller sent may have changed the target or created an app. */
  async function unchanged(t: Test, before: number) {
    t.equal(await appCount(), before, 'no app was created');
    const detail = expectData(t, await getApp(app, admin.accessToken, target.app_id));
    t.match(detail, { status: 'ACTIVE', app_name: 'Target' });
    t.equal(detail.secrets.length, 1, 'no secret was rotated');
    t.strictSame(detail.permissions.map((p: Json) => p.permission_code), ['orders.orders.read']);
  }

  t.test('without a token: 401 V3_AUTH_MISSING_CREDENTIAL on every route', async (t) => {
    const before = await appCount();
    for (const route of adminRoutes(target.app_id)) {
      const res = await send(app, route);
      expectError(t, res, 401, 'V3_AUTH_MISSING_CREDENTIAL');
      t.equal(res.headers['www-authenticate'], 'Bearer realm="portcullis"', `${route.method} ${route.path}: a bare challenge`);
    }
    await unchanged(t, before);
  });

  t.test('a CONSUMER or PARTNER user token: 403 V3_AUTH_PERMISSION_DENIED on every route', async (t) => {
    const before = await appCount();
    for (const user of [consumer, partner]) {
      for (const route of adminRoutes(target.app_id)) {
        const res = await send(app, route, { token: user.accessToken });
        t.equal(res.statusCode, 403, `${user.role} ${route.method} ${route.path}`);
        expectError(t, res, 403, 'V3_AUTH_PERMISSION_DENIED');
      }
    }
    await unchanged(t, before);
  });

  t.test('an invalid JWT: 401 V3_AUTH_TOKEN_INVALID on every route', async (t) => {
    // ADMIN claims of the admin's live session: each token below differs from the control in one thing.
    const claims = serviceClaims(app, { sub: admin.id, sid: String(claimsOf(admin.accessToken).sid), role: 'ADMIN' });
    const key = currentSigningKey(app);
    expectList(t, await call(app, 'GET', '/apps', { token: signLikeTheService(app, claims) }));
    const [header, payload, signature] = admin.accessToken.split('.') as [string, string, string];
    const promoted = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), role: 'ADMIN', sub: randomUUID() })).toString('base64url');
    const invalid = {
      'signed with another key under the real kid': signJws(serviceHeader(key), claims, attackerKey(key.algorithm).privateKey),
      'a kid of no key of the ring': signLikeTheService(app, claims, { kid: 'no-such-key' }),
      'HS256 keyed with the published public key (key confusion)': signJws(serviceHeader(key, { alg: 'HS256' }), claims, key.verificationKey),
      'alg none': unsignedJws(serviceHeader(key, { alg: 'none' }), claims),
      'tampered payload': `${header}.${promoted}.${signature}`,
      'wrong audience': signLikeTheService(app, { ...claims, aud: 'someone-else' }),
      garbage: 'abc.def.ghi',
      'not a jwt': 'not-a-jwt',
    };
    const before = await appCount();
    for (const [label, token] of Object.entries(invalid)) {
      for (const route of adminRoutes(target.app_id)) {
        const res = await send(app, route, { token });
        t.equal(res.statusCode, 401, `${label}: ${route.method} ${route.path}`);
        expectError(t, res, 401, 'V3_AUTH_TOKEN_INVALID');
        t.match(String(res.headers['www-authenticate']), /error="invalid_token"/);
      }
    }
    for (const authorization of ['Basic YWRtaW46YWRtaW4=', 'Bearer', `Token ${admin.accessToken}`]) {
      expectError(t, await call(app, 'GET', '/apps', { headers: { authorization } }), 401, 'V3_AUTH_TOKEN_INVALID');
    }
    await unchanged(t, before);
  });

  t.test('an app token without admin permissions: 403; with only auth-admin.apps.read: reads only', async (t) => {
    const plain = await createApp(app, admin.accessToken, { permissions: ['orders.orders.read'] });
    const reader = await createApp(app, admin.accessToken, { permissions: ['auth-admin.apps.read'] });
    const plainToken = await appToken(app, plain);
    const readerToken = await appToken(app, reader);
    const before = await appCount();
    for (const route of adminRoutes(target.app_id)) {
      expectError(t, await send(app, route, { token: plainToken }), 403, 'V3_AUTH_PERMISSION_DENIED');
      const res = await send(app, route, { token: readerToken });
      if (route.needs === 'read' && route.list) expectList(t, res);
      else if (route.needs === 'read') expectData(t, res, route.ok);
      else expectError(t, res, 403, 'V3_AUTH_PERMISSION_DENIED');
    }
        await unchanged(t, before);
  });

  t.test('an ADMIN user token: allowed on every route', async (t) => {
    for (const route of adminRoutes(target.app_id)) {
      const res = await send(app, route, { token: admin.accessToken });
      t.equal(res.statusCode, route.ok, `${route.method} ${route.path} -> ${route.ok}`);
      if (route.list) expectList(t, res);
      else expectData(t, res, route.ok);
    }
    t.equal(expectData(t, await getApp(app, admin.accessToken, target.app_id)).status, 'REVOKED', 'the last call, revoke, went through');
  });

  // Regression: the guard once ran as a preHandler, after validation, so an anonymous caller got 400 with schema details.
  t.test('without a token, the guard answers before input validation', async (t) => {
    for (const [label, res] of [
      ['a non-uuid id', await call(app, 'GET', '/apps/not-a-uuid')],
      ['an unknown body field', await call(app, 'POST', '/apps', { payload: { surprise: true } })],
      ['a bad query', await call(app, 'GET', '/apps', { query: { per_page: '9999' } })],
      ['a bad body on a write', await call(app, 'PUT', `/apps/${target.app_id}/permissions`, { payload: { permissions: 'all' } })],
    ] as const) {
      const error = expectError(t, res, 401, 'V3_AUTH_MISSING_CREDENTIAL');
      t.notOk(error.details, `${label}: no schema details for an anonymous caller`);
    }
  });
});

t.test('every response of the V3 admin scope, errors included, is in the V3 envelope', async (t) => {
  const { emails, env } = adminEnv(1);
  const { app } = await buildTestApp(t, { env });
  const admin = await registerAdmin(app, emails[0]!);
  const token = admin.accessToken;
  const created = await createApp(app, token);

  t.test('the x-request-id sent is the meta.request_id returned, on success and on error', async (t) => {
    const ok = await call(app, 'GET', `/apps/${created.app_id}`, { token, requestId: 'admin-req-1' });
    expectData(t, ok);
    t.equal(ok.json().meta.request_id, 'admin-req-1');
    const missing = await call(app, 'GET', `/apps/${randomUUID()}`, { token, requestId: 'admin-req-2' });
    expectError(t, missing, 404, 'V3_AUTH_NOT_FOUND');
    t.equal(missing.json().meta.request_id, 'admin-req-2');
  });

  t.test('framework failures inside the route', async (t) => {
    expectError(t, await call(app, 'DELETE', `/apps/${created.app_id}`, { token }), 404, 'V3_AUTH_NOT_FOUND');
    expectError(t, await call(app, 'GET', '/apps/x/y/z', { token }), 404, 'V3_AUTH_NOT_FOUND');
    expectError(t, await call(app, 'POST', '/apps', { token, headers: { 'content-type': 'text/plain' }, payload: 'hello' }), 415, 'V3_AUTH_UNSUPPORTED_MEDIA_TYPE');
    expectError(t, await call(app, 'POST', '/apps', { token, headers: { 'content-type': 'application/json' }, payload: '{"app_code":' }), 400, 'V3_AUTH_VALIDATION_ERROR');
    expectError(
      t,
      await call(app, 'POST', '/apps', { token, payload: { app_code: uniqueCode('big'), app_name: 'x', description: 'd'.repeat(20_000), organizations: [], permissions: [] } }),
      413,
      'V3_AUTH_PAYLOAD_TOO_LARGE',
    );
  });

  // Regression: router failures (frameworkErrors in src/app.ts) were once rendered in the user-API shape under /api/v3.
  t.test('router-level failures on a V3 path', async (t) => {
    const badEncoding = await app.inject({ method: 'GET', url: '/api/v3/auth/apps/%E0%A4%A', headers: { authorization: `Bearer ${token}`, 'x-request-id': 'router-1' } });
    expectError(t, badEncoding, 400, 'V3_AUTH_VALIDATION_ERROR');
    t.equal(badEncoding.json().meta?.request_id, 'router-1');
    expectError(t, await call(app, 'GET', `/apps/${'a'.repeat(300)}`, { token }), 400, 'V3_AUTH_VALIDATION_ERROR');
  });
});
