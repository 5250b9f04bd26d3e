/**
 * API V3 admin: the audit trail (every admin change and token event writes one row naming the
 * actor, ip and request id of the request that caused it; filters and pagination of
 * GET /apps/:id/audit-logs) and the reference catalogs GET /permissions and GET /organizations
 * (search, paging, inactive organizations hidden and unassignable).
 */
import type { FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { createManualClock } from '../../src/lib/clock.js';
import { buildTestApp } from '../helpers/app.js';
import { adminEnv, registerAdmin } from '../helpers/factories.js';
import {
  appToken,
  call,
  createApp,
  errorText,
  expectData,
  expectError,
  expectList,
  getApp,
  HOUR,
  issueToken,
  type Json,
  openSql,
  organizationIds,
  requestId,
  UUID,
  uniqueCode,
  V3_DATETIME,
} from './v3-admin-helpers.js';

const AUDIT_KEYS = ['actor', 'app_id', 'created_at', 'details', 'event_type', 'id', 'ip', 'request_id'];

const auditLogs = (app: FastifyInstance, token: string, appId: string, query: Record<string, string> = {}) =>
  call(app, 'GET', `/apps/${appId}/audit-logs`, { token, query });

t.test('audit trail of one app', async (t) => {
  const { emails, env } = adminEnv(1);
  const { app, databaseUrl } = await buildTestApp(t, { env });
  const admin = await registerAdmin(app, emails[0]!);
  const token = admin.accessToken;
  const sql = openSql(t, databaseUrl);
  const org = await organizationIds(sql);
  const asAdmin = `user:${admin.id}`;

  /** Runs one request with a fresh x-request-id, checks it was echoed, and returns the response. */
  const rids: Record<string, string> = {};
  async function step(label: string, run: (rid: string) => ReturnType<typeof call>) {
    const rid = requestId(label.replaceAll('.', '-'));
    rids[label] = rid;
    const res = await run(rid);
    t.equal(res.headers['x-request-id'], rid, `${label}: the request id is echoed`);
    return res;
  }

  const app_code = uniqueCode('audited');
  const createdRes = await step('app.created', (rid) =>
    call(app, 'POST', '/apps', { token, requestId: rid, payload: { app_code, app_name: 'Audited', organizations: ['HQ'], default_organization_id: 'HQ', permissions: ['orders.orders.read'] } }),
  );
  const created = expectData(t, createdRes, 201);
  const appId = created.app_id as string;
  const asApp = `app:${appId}`;
  const path = (suffix = '') => `/apps/${appId}${suffix}`;

  expectData(t, await step('app.updated', (rid) => call(app, 'PATCH', path(), { token, requestId: rid, payload: { app_name: 'Audited again', description: null } })));
  const rotated = expectData(t, await step('app.secret_rotated', (rid) => call(app, 'POST', path('/rotate-secret'), { token, requestId: rid, payload: { grace_hours: 1, reason: 'scheduled' } })));
  expectData(t, await step('app.suspended', (rid) => call(app, 'POST', path('/suspend'), { token, requestId: rid, payload: { reason: 'on hold' } })));
  expectError(t, await step('token.denied.suspended', (rid) => issueToken(app, { client_id: created.client_id, client_secret: rotated.client_secret }, { requestId: rid })), 403, 'V3_AUTH_APP_SUSPENDED');
  expectData(t, await step('app.reactivated', (rid) => call(app, 'POST', path('/reactivate'), { token, requestId: rid, payload: {} })));
  const issued = expectData(t, await step('token.issued', (rid) => issueToken(app, { client_id: created.client_id, client_secret: rotated.client_secret }, { requestId: rid })));
  expectError(t, await step('token.denied.secret', (rid) => issueToken(app, { client_id: created.client_id, client_secret: `pcs_${'x'.repeat(43)}` }, { requestId: rid })), 401, 'V3_AUTH_INVALID_CLIENT');
  expectData(t, await step('app.permissions_replaced', (rid) => call(app, 'PUT', path('/permissions'), { token, requestId: rid, payload: { permissions: ['inventory.items.read', 'orders.orders.read'] } })));
  expectData(t, await step('app.organizations_replaced', (rid) => call(app, 'PUT', path('/organizations'), { token, requestId: rid, payload: { organizations: ['HQ', 'ACME'] } })));
  const revokedToken = expectData(t, await step('token.revoked', (rid) => call(app, 'POST', '/token/revoke', { token: issued.access_token, requestId: rid, payload: { reason: 'done' } })));
  t.equal(revokedToken.revoked, true);
  expectData(t, await step('app.revoked', (rid) => call(app, 'POST', path('/revoke'), { token, requestId: rid, payload: { reason: 'retired' } })));
  await app.audit.flush();

  const listRes = await auditLogs(app, token, appId, { per_page: '200' });
  const { data: rows, meta } = expectList(t, listRes);
  const byRequest = new Map(rows.map((row) => [row.request_id as string, row]));
  const tokenId = (rows.find((row) => row.event_type === 'token.issued')?.details as Json | undefined)?.token_id;

  const expected: { label: string; event: string; actor: string; details: Json }[] = [
    { label: 'app.created', event: 'app.created', actor: asAdmin, details: { app_code, organizations: ['HQ'], permissions: ['orders.orders.read'] } },
    { label: 'app.updated', event: 'app.updated', actor: asAdmin, details: { changes: { app_name: 'Audited again', description: null } } },
    { label: 'app.secret_rotated', event: 'app.secret_rotated', actor: asAdmin, details: { secret_version: 2, grace_hours: 1, revoke_existing_tokens: false, reason: 'scheduled' } },
    { label: 'app.suspended', event: 'app.suspended', actor: asAdmin, details: { reason: 'on hold' } },
    { label: 'token.denied.suspended', event: 'token.denied', actor: `client:${created.client_id}`, details: { reason: 'V3_AUTH_APP_SUSPENDED' } },
    { label: 'app.reactivated', event: 'app.reactivated', actor: asAdmin, details: {} },
    { label: 'token.issued', event: 'token.issued', actor: asApp, details: { organization_id: org.HQ, secret_version: 2 } },
    { label: 'token.denied.secret', event: 'token.denied', actor: `client:${created.client_id}`, details: { reason: 'V3_AUTH_INVALID_CLIENT' } },
    { label: 'app.permissions_replaced', event: 'app.permissions_replaced', actor: asAdmin, details: { permissions: ['inventory.items.read', 'orders.orders.read'] } },
    { label: 'app.organizations_replaced', event: 'app.organizations_replaced', actor: asAdmin, details: { organizations: ['HQ', 'ACME'], default_organization_id: org.HQ } },
    { label: 'token.revoked', event: 'token.revoked', actor: asApp, details: { token_id: tokenId, reason: 'done' } },
    { label: 'app.revoked', event: 'app.revoked', actor: asAdmin, details: { reason: 'retired' } },
  ];

  t.test('one row per change or token event, each with actor, ip, the causing request id and details', async (t) => {
    t.equal(meta.total, expected.length, `exactly ${expected.length} rows`);
    t.equal(rows.length, expected.length);
    for (const { label, event, actor, details } of expected) {
      const row = byRequest.get(rids[label]!);
      t.ok(row, `${label}: a row carries the request id of the request that caused it`);
      if (!row) continue;
      t.strictSame(Object.keys(row).sort(), AUDIT_KEYS, `${label}: row keys`);
      t.match(row, { event_type: event, actor, app_id: appId, ip: '127.0.0.1', request_id: rids[label] }, `${label}: event, actor, ip, request id`);
      t.match(row.id, UUID);
      t.match(row.created_at, V3_DATETIME);
      t.match(row.details, details, `${label}: details`);
    }
    t.match(tokenId, UUID, 'token.issued names the token id');
    t.equal(tokenId, revokedToken.token_id, 'token.revoked names the same token');
    t.equal(typeof byRequest.get(rids['app.secret_rotated']!)?.details.revoked_tokens, 'number');
    t.equal(typeof byRequest.get(rids['app.revoked']!)?.details.revoked_tokens, 'number');
    const times = rows.map((row) => String(row.created_at));
    t.strictSame(times, [...times].sort().reverse(), 'newest first');
  });

  t.test('the trail holds no secret and no token', async (t) => {
    for (const secret of [created.client_secret, rotated.client_secret, issued.access_token]) {
      t.notOk(listRes.body.includes(String(secret)), 'not in the audit log');
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from audit_logs where details::text like ${`%${String(secret)}%`}`;
      t.equal(row!.n, 0, 'not in audit_logs');
    }
  });

  t.test('event_type filter', async (t) => {
    const denied = expectList(t, await auditLogs(app, token, appId, { event_type: 'token.denied' }));
    t.equal(denied.meta.total, 2);
    t.ok(denied.data.every((row) => row.event_type === 'token.denied'));
    t.equal(expectList(t, await auditLogs(app, token, appId, { event_type: 'app.created' })).meta.total, 1);
    const none = expectList(t, await auditLogs(app, token, appId, { event_type: 'app.nothing' }));
    t.equal(none.meta.total, 0);
    t.strictSame(none.data, []);
  });

  t.test('date_from / date_to (ISO datetimes)', async (t) => {
    const wide = { date_from: new Date(Date.now() - HOUR).toISOString(), date_to: new Date(Date.now() + HOUR).toISOString() };
    t.equal(expectList(t, await auditLogs(app, token, appId, wide)).meta.total, expected.length, 'a window around now holds everything');
    const past = expectList(t, await auditLogs(app, token, appId, { date_from: '2000-01-01T00:00:00Z', date_to: '2000-01-02T00:00:00Z' }));
    t.equal(past.meta.total, 0, 'a window in the past holds nothing');
    t.strictSame(past.data, []);
    t.equal(expectList(t, await auditLogs(app, token, appId, { date_from: new Date(Date.now() + HOUR).toISOString() })).meta.total, 0, 'from the future: nothing');
    t.equal(expectList(t, await auditLogs(app, token, appId, { date_to: '2000-01-01T00:00:00+02:00' })).meta.total, 0, 'up to 2000: nothing');
    t.equal(expectList(t, await auditLogs(app, token, appId, { event_type: 'token.denied', ...wide })).meta.total, 2, 'filters combine');
    for (const bad of <Record<string, string>[]>[{ date_from: 'yesterday' }, { date_to: '2024-13-01T00:00:00Z' }, { date_from: '2024-01-01' }, { date_to: '1700000000' }]) {
      expectError(t, await auditLogs(app, token, appId, bad), 400, 'V3_AUTH_VALIDATION_ERROR');
    }
  });

  t.test('pagination: page, per_page and total; per_page 0 or 201 is 400', async (t) => {
    const seen: string[] = [];
    for (const [page, size] of [[1, 5], [2, 5], [3, 2]] as const) {
      const { data, meta } = expectList(t, await auditLogs(app, token, appId, { per_page: '5', page: String(page) }));
      t.match(meta, { page, per_page: 5, total: expected.length });
      t.equal(data.length, size, `page ${page} holds ${size}`);
      seen.push(...data.map((row) => String(row.id)));
    }
    t.equal(new Set(seen).size, expected.length, 'every row once');
    t.strictSame(seen, rows.map((row) => row.id), 'the pages concatenate to the full list');
    t.equal(expectList(t, await auditLogs(app, token, appId)).meta.per_page, 50, 'per_page defaults to 50');
    t.strictSame(expectList(t, await auditLogs(app, token, appId, { page: '9' })).data, []);
    for (const bad of <Record<string, string>[]>[{ per_page: '0' }, { per_page: '201' }, { page: '0' }, { per_page: 'ten' }, { actor: asAdmin }]) {
      expectError(t, await auditLogs(app, token, appId, bad), 400, 'V3_AUTH_VALIDATION_ERROR');
    }
  });

  t.test('an unknown app is 404; a non-uuid id is 400', async (t) => {
    expectError(t, await auditLogs(app, token, randomUUID()), 404, 'V3_AUTH_NOT_FOUND');
    expectError(t, await auditLogs(app, token, 'nope'), 400, 'V3_AUTH_VALIDATION_ERROR');
  });
});

t.test('changes made with an admin app token are audited as app:<id>', async (t) => {
  const { emails, env } = adminEnv(1);
  const { app } = await buildTestApp(t, { env });
  const admin = await registerAdmin(app, emails[0]!);
  const operator = await createApp(app, admin.accessToken, { permissions: ['auth-admin.apps.read', 'auth-admin.apps.write', 'auth-admin.audit.read'] });
  const operatorToken = await appToken(app, operator);
  const subject = await createApp(app, admin.accessToken);

  const patchRid = requestId('op-patch');
  expectData(t, await call(app, 'PATCH', `/apps/${subject.app_id}`, { token: operatorToken, requestId: patchRid, payload: { app_name: 'Changed by an app' } }));
  const suspendRid = requestId('op-suspend');
  expectData(t, await call(app, 'POST', `/apps/${subject.app_id}/suspend`, { token: operatorToken, requestId: suspendRid, payload: { reason: 'automation' } }));
  const createRid = requestId('op-create');
  const made = expectData(t, await call(app, 'POST', '/apps', { token: operatorToken, requestId: createRid, payload: { app_code: uniqueCode('byapp'), app_name: 'Made by an app', organizations: ['HQ'], permissions: [] } }), 201);
  await app.audit.flush();

  const { data } = expectList(t, await auditLogs(app, operatorToken, subject.app_id));
  t.match(data.find((row) => row.request_id === patchRid), { event_type: 'app.updated', actor: `app:${operator.app_id}` });
  t.match(data.find((row) => row.request_id === suspendRid), { event_type: 'app.suspended', actor: `app:${operator.app_id}`, details: { reason: 'automation' } });
  t.match(data.find((row) => row.event_type === 'app.created'), { actor: `user:${admin.id}` }, 'the admin-made creation stays user:<id>');
  const madeLog = expectList(t, await auditLogs(app, admin.accessToken, made.app_id));
  t.match(madeLog.data, [{ event_type: 'app.created', actor: `app:${operator.app_id}`, request_id: createRid }]);
});

t.test('date windows split the trail at the right instant (manual clock)', async (t) => {
  const { emails, env } = adminEnv(1);
  const t0 = Date.now();
  const clock = createManualClock(t0);
  // The admin's access token must outlive the clock jumps below (expiry follows the injected clock).
  const { app } = await buildTestApp(t, { env: { ...env, JWT_ACCESS_TTL: '1d' }, clock });
  const admin = await registerAdmin(app, emails[0]!);
  const token = admin.accessToken;
  const created = await createApp(app, token);
  expectData(t, await call(app, 'PATCH', `/apps/${created.app_id}`, { token, payload: { app_name: 'Early change' } }));
  clock.advance(2 * HOUR);
  expectData(t, await call(app, 'POST', `/apps/${created.app_id}/suspend`, { token, payload: {} }));
  expectData(t, await call(app, 'POST', `/apps/${created.app_id}/reactivate`, { token, payload: {} }));
  await app.audit.flush();

  const iso = (ms: number) => new Date(ms).toISOString();
  const window = async (from?: number, to?: number) => {
    const query: Record<string, string> = { ...(from !== undefined ? { date_from: iso(from) } : {}), ...(to !== undefined ? { date_to: iso(to) } : {}) };
    const { data, meta } = expectList(t, await auditLogs(app, token, created.app_id, query));
    return { total: meta.total, events: data.map((row) => String(row.event_type)).sort() };
  };
  t.strictSame(await window(), { total: 4, events: ['app.created', 'app.reactivated', 'app.suspended', 'app.updated'] });
  t.strictSame(await window(t0 - 60_000, t0 + HOUR), { total: 2, events: ['app.created', 'app.updated'] }, 'the first hour');
  t.strictSame(await window(t0 + HOUR), { total: 2, events: ['app.reactivated', 'app.suspended'] }, 'from the second hour on');
  t.strictSame(await window(undefined, t0 - 1), { total: 0, events: [] }, 'before anything happened');
  t.strictSame(await window(t0 + 3 * HOUR), { total: 0, events: [] }, 'after everything happened');
  t.strictSame(await window(t0, t0), { total: 2, events: ['app.created', 'app.updated'] }, 'both bounds are inclusive');
});

t.test('GET /permissions', async (t) => {
  const { emails, env } = adminEnv(1);
  const { app, databaseUrl } = await buildTestApp(t, { env });
  const admin = await registerAdmin(app, emails[0]!);
  const sql = openSql(t, databaseUrl);
  const list = (query: Record<string, string> = {}) => call(app, 'GET', '/permissions', { token: admin.accessToken, query });
  type PermissionRow = { id: string; permission_code: string; module_code: string; resource_code: string; action_code: string; description: string };
  const all = await sql<PermissionRow[]>`select id, permission_code, module_code, resource_code, action_code, description from permissions order by permission_code`;
  const matching = (q: string, module?: string) =>
    all
      .filter((row) => module === undefined || row.module_code === module)
      .filter((row) => [row.permission_code, row.resource_code, row.action_code, row.description].some((value) => value.toLowerCase().includes(q.toLowerCase())))
      .map((row) => row.permission_code);

  t.test('the whole catalog: per_page 200 by default; each item with code, module, resource, action, description', async (t) => {
    t.ok(all.length >= 8, 'the starter catalog is there');
    const { data, meta } = expectList(t, await list());
    t.match(meta, { page: 1, per_page: 200, total: all.length });
    t.strictSame(
      data,
      all.slice(0, 200).map((row) => ({
        permission_id: row.id,
        permission_code: row.permission_code,
        module_code: row.module_code,
        resource_code: row.resource_code,
        action_code: row.action_code,
        description: row.description,
      })),
      'every permission, ordered by code, exactly these fields',
    );
    t.match(data.find((item) => item.permission_code === 'billing.invoices.read'), { module_code: 'billing', resource_code: 'invoices', action_code: 'read', description: 'Read invoices' });
  });

  t.test('module_code filter', async (t) => {
    const orders = expectList(t, await list({ module_code: 'orders' }));
    t.strictSame(orders.data.map((item) => item.permission_code), all.filter((row) => row.module_code === 'orders').map((row) => row.permission_code));
    t.equal(orders.meta.total, 2);
    t.equal(expectList(t, await list({ module_code: 'auth-admin' })).meta.total, all.filter((row) => row.module_code === 'auth-admin').length);
    t.equal(expectList(t, await list({ module_code: 'ORDERS' })).meta.total, 0, 'the module filter is exact');
    t.equal(expectList(t, await list({ module_code: 'nope' })).meta.total, 0);
  });

  t.test('q searches code, resource, action and description, case-insensitively', async (t) => {
    for (const [q, mustInclude] of [
      ['INVOICES', 'billing.invoices.read'],
      ['write', 'inventory.items.write'],
      ['audit trail', 'auth-admin.audit.read'],
      ['items', 'inventory.items.read'],
      ['Register apps', 'auth-admin.apps.write'],
      ['auth-admin.apps', 'auth-admin.apps.read'],
    ] as const) {
      const { data, meta } = expectList(t, await list({ q }));
      const codes = data.map((item) => item.permission_code);
      t.ok(codes.includes(mustInclude), `q=${q} finds ${mustInclude}`);
      t.strictSame(codes, matching(q), `q=${q} finds exactly the matching permissions`);
      t.equal(meta.total, codes.length);
    }
    t.equal(expectList(t, await list({ q: `zz-${randomUUID()}` })).meta.total, 0);
    t.equal(expectList(t, await list({ q: '%' })).meta.total, matching('%').length, '% is literal');
  });

  t.test('module_code and q combine; pagination', async (t) => {
    const both = expectList(t, await list({ module_code: 'inventory', q: 'write' }));
    t.strictSame(both.data.map((item) => item.permission_code), ['inventory.items.write']);
    t.strictSame(both.data.map((item) => item.permission_code), matching('write', 'inventory'));
    const seen: string[] = [];
    for (let page = 1; page <= Math.ceil(all.length / 3); page++) {
      const { data, meta } = expectList(t, await list({ per_page: '3', page: String(page) }));
      t.match(meta, { page, per_page: 3, total: all.length });
      seen.push(...data.map((item) => String(item.permission_code)));
    }
    t.strictSame(seen, all.map((row) => row.permission_code), 'pages walk the whole catalog once');
  });

  t.test('bad query strings are 400', async (t) => {
    for (const bad of <Record<string, string>[]>[{ per_page: '0' }, { per_page: '201' }, { page: '0' }, { q: '' }, { module_code: '' }, { action_code: 'read' }]) {
      expectError(t, await list(bad), 400, 'V3_AUTH_VALIDATION_ERROR');
    }
  });
});

t.test('GET /organizations', async (t) => {
  const { emails, env } = adminEnv(1);
  const { app, databaseUrl } = await buildTestApp(t, { env });
  const admin = await registerAdmin(app, emails[0]!);
  const token = admin.accessToken;
  const sql = openSql(t, databaseUrl);
  const org = await organizationIds(sql);
  const list = (query: Record<string, string> = {}) => call(app, 'GET', '/organizations', { token, query });
  const activeCount = async () => (await sql<{ n: number }[]>`select count(*)::int as n from organizations where is_active`)[0]!.n;

  t.test('the starter organizations, each {organization_id, organization_code, organization_name, isactive: 1}', async (t) => {
    const { data, meta } = expectList(t, await list());
    t.match(meta, { page: 1, per_page: 50, total: await activeCount() });
    for (const item of data) t.strictSame(Object.keys(item).sort(), ['isactive', 'organization_code', 'organization_id', 'organization_name']);
    for (const [code, name] of [['HQ', 'Headquarters'], ['ACME', 'Acme Corporation'], ['GLOBEX', 'Globex']] as const) {
      t.strictSame(data.find((item) => item.organization_code === code), { organization_id: org[code], organization_code: code, organization_name: name, isactive: 1 });
    }
    t.ok(data.every((item) => item.isactive === 1), 'only active organizations');
  });

  t.test('q searches code and name (case-insensitively) and matches an exact id', async (t) => {
    t.strictSame(expectList(t, await list({ q: 'acme' })).data.map((item) => item.organization_code), ['ACME']);
    t.strictSame(expectList(t, await list({ q: 'headquart' })).data.map((item) => item.organization_code), ['HQ'], 'by name');
    t.strictSame(expectList(t, await list({ q: org.GLOBEX! })).data.map((item) => item.organization_code), ['GLOBEX'], 'by id');
    t.equal(expectList(t, await list({ q: `zz-${randomUUID()}` })).meta.total, 0);
  });

  t.test('per_page defaults to 50 and goes up to 200; 0 and 201 are 400', async (t) => {
    const prefix = `BULK${randomUUID().slice(0, 6).toUpperCase()}`;
    const bulk = Array.from({ length: 60 }, (_, i) => ({ code: `${prefix}-${String(i).padStart(2, '0')}`, name: `Bulk ${i}` }));
    await sql`insert into organizations ${sql(bulk, 'code', 'name')}`;
    const total = await activeCount();
    t.ok(total > 60);
    const first = expectList(t, await list());
    t.match(first.meta, { per_page: 50, total });
    t.equal(first.data.length, 50, 'the default page holds 50');
    const wide = expectList(t, await list({ per_page: '200' }));
    t.equal(wide.data.length, Math.min(total, 200));
    const mine = expectList(t, await list({ q: prefix, per_page: '25', page: '3' }));
    t.match(mine.meta, { page: 3, per_page: 25, total: 60 });
    t.strictSame(mine.data.map((item) => item.organization_code), bulk.slice(50).map((row) => row.code), 'ordered by code');
    for (const bad of <Record<string, string>[]>[{ per_page: '201' }, { per_page: '0' }, { page: '0' }, { q: '' }, { isactive: '0' }]) {
      expectError(t, await list(bad), 400, 'V3_AUTH_VALIDATION_ERROR');
    }
  });

  t.test('an inactive organization is not listed and cannot be assigned', async (t) => {
    const code = `DORMANT-${randomUUID().slice(0, 6).toUpperCase()}`;
    const [inactive] = await sql<{ id: string }[]>`insert into organizations (code, name, is_active) values (${code}, 'Dormant Inc', false) returning id`;
    const inactiveId = inactive!.id;
    t.equal(expectList(t, await list({ q: code })).meta.total, 0, 'not found by code');
    t.equal(expectList(t, await list({ q: 'Dormant Inc' })).meta.total, 0, 'not found by name');
    t.equal(expectList(t, await list({ q: inactiveId })).meta.total, 0, 'not found by id');
    t.notOk(expectList(t, await list({ per_page: '200' })).data.some((item) => item.organization_id === inactiveId), 'not in the full list');

    for (const ref of [code, inactiveId]) {
      const app_code = uniqueCode('dormant');
      const error = expectError(t, await call(app, 'POST', '/apps', { token, payload: { app_code, app_name: 'x', organizations: ['HQ', ref], permissions: [] } }), 400, 'V3_AUTH_VALIDATION_ERROR');
      t.ok(errorText(error).includes(ref), `POST /apps names ${ref}`);
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from apps where app_code = ${app_code}`;
      t.equal(row!.n, 0, 'no app created');
    }
    const existing = await createApp(app, token, { organizations: ['HQ'], default_organization_id: 'HQ' });
    expectError(t, await call(app, 'PUT', `/apps/${existing.app_id}/organizations`, { token, payload: { organizations: ['HQ', code] } }), 400, 'V3_AUTH_VALIDATION_ERROR');
    expectError(t, await call(app, 'PUT', `/apps/${existing.app_id}/organizations`, { token, payload: { organizations: [inactiveId], default_organization_id: inactiveId } }), 400, 'V3_AUTH_VALIDATION_ERROR');
    expectError(t, await call(app, 'PATCH', `/apps/${existing.app_id}`, { token, payload: { default_organization_id: code } }), 400, 'V3_AUTH_VALIDATION_ERROR');
    const detail = expectData(t, await getApp(app, token, existing.app_id));
    t.strictSame(detail.organizations.map((o: Json) => o.organization_code), ['HQ'], 'the app\'s organizations are unchanged');
    t.equal(detail.default_organization_id, org.HQ);
  });
});
