/**
 * Route permissions (route_permissions table, held in memory and reloaded) for app tokens, and the
 * admin permissions (auth-admin.apps.read / .write / audit.read) an app token needs on the V3
 * admin routes. ADMIN users are not subject to route permissions.
 */
import type { FastifyInstance } from 'fastify';
import t from 'tap';
import type { Test } from 'tap';
import { registerUser } from '../helpers/factories.js';
import {
  assertEnvelopeError,
  assertEnvelopeSuccess,
  auditRows,
  createApp,
  type CreatedApp,
  replacePermissions,
  setupV3,
  suspendApp,
  tokenFor,
  uniqueAppCode,
  v3Call,
  v3Get,
  withSql,
} from './v3-helpers.js';

const ME_PERMISSIONS = '/api/v3/auth/me/permissions';

async function addRoutePermission(
  app: FastifyInstance,
  databaseUrl: string | undefined,
  row: { method: string; route: string; permission: string; active?: boolean },
): Promise<string> {
  const id = await withSql(databaseUrl, async (sql) => {
    const [inserted] = await sql<{ id: string }[]>`
      insert into route_permissions (method, route_pattern, permission_code, is_active)
      values (${row.method}, ${row.route}, ${row.permission}, ${row.active ?? true})
      returning id`;
    return inserted!.id;
  });
  await app.routePermissions.reload();
  return id;
}

async function setActive(app: FastifyInstance, databaseUrl: string | undefined, ids: string[], active: boolean) {
  await withSql(databaseUrl, (sql) => sql`update route_permissions set is_active = ${active} where id in ${sql(ids)}`);
  await app.routePermissions.reload();
}

async function clearRoutePermissions(app: FastifyInstance, databaseUrl: string | undefined) {
  await withSql(databaseUrl, (sql) => sql`delete from route_permissions`);
  await app.routePermissions.reload();
}

t.test('an active route permission record restricts that route for app tokens', async (t) => {
  const { app, admin, databaseUrl } = await setupV3(t);
  const without = await createApp(app, admin.accessToken, { permissions: ['inventory.items.read'] });
  const withIt = await createApp(app, admin.accessToken, { permissions: ['orders.orders.read'] });
  const both = await createApp(app, admin.accessToken, { permissions: ['orders.orders.read', 'inventory.items.read'] });
  const tokenOf = async (t: Test, created: CreatedApp) => (await tokenFor(t, app, created)).access_token as string;
  const [withoutToken, withToken, bothToken] = [await tokenOf(t, without), await tokenOf(t, withIt), await tokenOf(t, both)];
  t.beforeEach(() => clearRoutePermissions(app, databaseUrl));

  t.test('no record: unrestricted', async (t) => {
    assertEnvelopeSuccess(t, await v3Get(app, withoutToken, '/me/permissions'));
  });

  t.test('the table is read on reload, never on the request path', async (t) => {
    await withSql(databaseUrl, (sql) => sql`
      insert into route_permissions (method, route_pattern, permission_code) values ('GET', ${ME_PERMISSIONS}, 'orders.orders.read')`);
    assertEnvelopeSuccess(t, await v3Get(app, withoutToken, '/me/permissions'), 200, {});
    await app.routePermissions.reload();
    assertEnvelopeError(t, await v3Get(app, withoutToken, '/me/permissions'), 403, 'V3_AUTH_PERMISSION_DENIED');
  });

  t.test('without the permission: 403 V3_AUTH_PERMISSION_DENIED on that route only; with it: 200', async (t) => {
    await addRoutePermission(app, databaseUrl, { method: 'GET', route: ME_PERMISSIONS, permission: 'orders.orders.read' });
    assertEnvelopeError(t, await v3Get(app, withoutToken, '/me/permissions'), 403, 'V3_AUTH_PERMISSION_DENIED');
    assertEnvelopeSuccess(t, await v3Get(app, withoutToken, '/me'));
    assertEnvelopeSuccess(t, await v3Get(app, withoutToken, '/me/organizations'));
    const granted = assertEnvelopeSuccess(t, await v3Get(app, withToken, '/me/permissions'));
    t.strictSame(granted.permissions.map((p: { permission_code: string }) => p.permission_code), ['orders.orders.read']);
  });

  t.test('granting the permission takes effect on the next request', async (t) => {
    const later = await createApp(app, admin.accessToken, { permissions: [] });
    const token = await tokenOf(t, later);
    await addRoutePermission(app, databaseUrl, { method: 'GET', route: ME_PERMISSIONS, permission: 'orders.orders.read' });
    assertEnvelopeError(t, await v3Get(app, token, '/me/permissions'), 403, 'V3_AUTH_PERMISSION_DENIED');
    assertEnvelopeSuccess(t, await replacePermissions(app, admin.accessToken, later.app_id, ['orders.orders.read']));
    assertEnvelopeSuccess(t, await v3Get(app, token, '/me/permissions'));
    assertEnvelopeSuccess(t, await replacePermissions(app, admin.accessToken, later.app_id, []));
    assertEnvelopeError(t, await v3Get(app, token, '/me/permissions'), 403, 'V3_AUTH_PERMISSION_DENIED');
  });

  t.test('several records on one route: every one is required', async (t) => {
    await addRoutePermission(app, databaseUrl, { method: 'GET', route: ME_PERMISSIONS, permission: 'orders.orders.read' });
    await addRoutePermission(app, databaseUrl, { method: 'GET', route: ME_PERMISSIONS, permission: 'inventory.items.read' });
    assertEnvelopeError(t, await v3Get(app, withToken, '/me/permissions'), 403, 'V3_AUTH_PERMISSION_DENIED');
    assertEnvelopeError(t, await v3Get(app, withoutToken, '/me/permissions'), 403, 'V3_AUTH_PERMISSION_DENIED');
    assertEnvelopeSuccess(t, await v3Get(app, bothToken, '/me/permissions'));
  });

  t.test('is_active false: unrestricted; active again: restricted', async (t) => {
    const id = await addRoutePermission(app, databaseUrl, { method: 'GET', route: ME_PERMISSIONS, permission: 'orders.orders.read', active: false });
    assertEnvelopeSuccess(t, await v3Get(app, withoutToken, '/me/permissions'));
    await setActive(app, databaseUrl, [id], true);
    assertEnvelopeError(t, await v3Get(app, withoutToken, '/me/permissions'), 403, 'V3_AUTH_PERMISSION_DENIED');
    await setActive(app, databaseUrl, [id], false);
    assertEnvelopeSuccess(t, await v3Get(app, withoutToken, '/me/permissions'));
  });

  t.test('a record for another method or another route does not apply', async (t) => {
    await addRoutePermission(app, databaseUrl, { method: 'POST', route: ME_PERMISSIONS, permission: 'billing.invoices.read' });
    await addRoutePermission(app, databaseUrl, { method: 'GET', route: '/api/v3/auth/me/organizations/x', permission: 'billing.invoices.read' });
    await addRoutePermission(app, databaseUrl, { method: 'GET', route: '/me/permissions', permission: 'billing.invoices.read' });
    assertEnvelopeSuccess(t, await v3Get(app, withoutToken, '/me/permissions'));
    assertEnvelopeSuccess(t, await v3Get(app, withoutToken, '/me/organizations'));
  });

  t.test('the method matches case-insensitively', async (t) => {
    await addRoutePermission(app, databaseUrl, { method: 'get', route: ME_PERMISSIONS, permission: 'orders.orders.read' });
    assertEnvelopeError(t, await v3Get(app, withoutToken, '/me/permissions'), 403, 'V3_AUTH_PERMISSION_DENIED');
  });

  t.test('HEAD on a restricted GET route is restricted too', async (t) => {
    await addRoutePermission(app, databaseUrl, { method: 'GET', route: ME_PERMISSIONS, permission: 'orders.orders.read' });
    const res = await app.inject({ method: 'HEAD', url: ME_PERMISSIONS, headers: { authorization: `Bearer ${withoutToken}` } });
    t.not(res.statusCode, 500);
    // Regression: HEAD (Fastify's automatic twin of GET) used to bypass route permissions.
    t.equal(res.statusCode, 403, 'HEAD without the permission -> 403');
    t.equal((await app.inject({ method: 'HEAD', url: ME_PERMISSIONS, headers: { authorization: `Bearer ${withToken}` } })).statusCode, 200, 'with it: 200');
  });

  t.test('route permissions do not turn refused tokens into 403s: a bad token is still 401', async (t) => {
    await addRoutePermission(app, databaseUrl, { method: 'GET', route: ME_PERMISSIONS, permission: 'orders.orders.read' });
    assertEnvelopeError(t, await v3Get(app, 'v3at_garbage', '/me/permissions'), 401, 'V3_AUTH_TOKEN_INVALID');
    assertEnvelopeError(t, await v3Get(app, undefined, '/me/permissions'), 401, 'V3_AUTH_MISSING_CREDENTIAL');
  });
});

t.test('admin routes: app tokens need the admin permission of the route', async (t) => {
  const { app, admin, databaseUrl } = await setupV3(t);
  const target = await createApp(app, admin.accessToken);
  const reader = await createApp(app, admin.accessToken, { permissions: ['auth-admin.apps.read'] });
  const writer = await createApp(app, admin.accessToken, { permissions: ['auth-admin.apps.write'] });
  const auditor = await createApp(app, admin.accessToken, { permissions: ['auth-admin.audit.read'] });
  const plain = await createApp(app, admin.accessToken, { permissions: ['orders.orders.read'] });
  const tokens = {
    reader: (await tokenFor(t, app, reader)).access_token as string,
    writer: (await tokenFor(t, app, writer)).access_token as string,
    auditor: (await tokenFor(t, app, auditor)).access_token as string,
    plain: (await tokenFor(t, app, plain)).access_token as string,
  };
  const newApp = () => ({ app_code: uniqueAppCode('by-app'), app_name: 'Made by an app', organizations: ['HQ'], permissions: [] });
  const reads = [
    ['/apps', true],
    [`/apps/${target.app_id}`, false],
    ['/permissions', true],
    ['/organizations', true],
  ] as const;

  t.test('auth-admin.apps.read: reads are 200; changes and audit logs are 403', async (t) => {
    for (const [path, list] of reads) assertEnvelopeSuccess(t, await v3Get(app, tokens.reader, path), 200, { list });
    const denied = [
      await v3Call(app, tokens.reader, 'POST', '/apps', newApp()),
      await v3Call(app, tokens.reader, 'PATCH', `/apps/${target.app_id}`, { app_name: 'Renamed' }),
      await v3Call(app, tokens.reader, 'POST', `/apps/${target.app_id}/suspend`, {}),
      await v3Call(app, tokens.reader, 'POST', `/apps/${target.app_id}/rotate-secret`, {}),
      await v3Call(app, tokens.reader, 'PUT', `/apps/${target.app_id}/permissions`, { permissions: [] }),
      await v3Call(app, tokens.reader, 'PUT', `/apps/${target.app_id}/organizations`, { organizations: ['HQ'] }),
      await v3Get(app, tokens.reader, `/apps/${target.app_id}/audit-logs`),
    ];
    for (const res of denied) assertEnvelopeError(t, res, 403, 'V3_AUTH_PERMISSION_DENIED');
    const detail = assertEnvelopeSuccess(t, await v3Get(app, admin.accessToken, `/apps/${target.app_id}`));
    t.equal(detail.app_name, 'Test app', 'nothing changed');
    t.equal(detail.status, 'ACTIVE');
  });

  t.test('auth-admin.apps.write: can POST /apps (and change apps); reads need apps.read', async (t) => {
    const body = newApp();
    const created = assertEnvelopeSuccess(t, await v3Call(app, tokens.writer, 'POST', '/apps', body), 201);
    t.match(created.client_secret, /^pcs_/);
    const issued = await tokenFor(t, app, { app_id: created.app_id, client_id: created.client_id, client_secret: created.client_secret, app_code: body.app_code });
    t.equal(issued.app_code, body.app_code, 'the app an app registered can get tokens');
    t.equal(assertEnvelopeSuccess(t, await v3Get(app, tokens.reader, `/apps/${created.app_id}`)).app_code, body.app_code);
    const patched = assertEnvelopeSuccess(t, await v3Call(app, tokens.writer, 'PATCH', `/apps/${created.app_id}`, { app_name: 'Renamed by app' }));
    t.equal(patched.app_name, 'Renamed by app');
    assertEnvelopeError(t, await v3Get(app, tokens.writer, '/apps'), 403, 'V3_AUTH_PERMISSION_DENIED');
    assertEnvelopeError(t, await v3Get(app, tokens.writer, `/apps/${created.app_id}/audit-logs`), 403, 'V3_AUTH_PERMISSION_DENIED');
    await app.audit.flush();
    const [row] = await auditRows(databaseUrl, 'app.created', created.app_id);
    t.equal(row?.actor, `app:${writer.app_id}`, 'audited as the app that acted');
  });

  t.test('audit logs need auth-admin.audit.read', async (t) => {
    await app.audit.flush();
    const logs = assertEnvelopeSuccess(t, await v3Get(app, tokens.auditor, `/apps/${target.app_id}/audit-logs`), 200, { list: true });
    t.ok(Array.isArray(logs) && logs.length >= 1, 'the target app has audit rows');
    assertEnvelopeSuccess(t, await v3Get(app, admin.accessToken, `/apps/${target.app_id}/audit-logs`), 200, { list: true });
    assertEnvelopeError(t, await v3Get(app, tokens.auditor, '/apps'), 403, 'V3_AUTH_PERMISSION_DENIED');
    assertEnvelopeError(t, await v3Call(app, tokens.auditor, 'POST', '/apps', newApp()), 403, 'V3_AUTH_PERMISSION_DENIED');
  });

  t.test('an app with no admin permission, and a non-admin user, are 403 everywhere', async (t) => {
    const consumer = await registerUser(app);
    for (const token of [tokens.plain, consumer.accessToken]) {
      for (const [path] of reads) assertEnvelopeError(t, await v3Get(app, token, path), 403, 'V3_AUTH_PERMISSION_DENIED');
      assertEnvelopeError(t, await v3Call(app, token, 'POST', '/apps', newApp()), 403, 'V3_AUTH_PERMISSION_DENIED');
      assertEnvelopeError(t, await v3Get(app, token, `/apps/${target.app_id}/audit-logs`), 403, 'V3_AUTH_PERMISSION_DENIED');
    }
    assertEnvelopeError(t, await v3Get(app, undefined, '/apps'), 401, 'V3_AUTH_MISSING_CREDENTIAL');
    assertEnvelopeError(t, await v3Get(app, 'v3at_garbage', '/apps'), 401, 'V3_AUTH_TOKEN_INVALID');
  });

  t.test('route permissions also apply to app tokens on admin routes; an ADMIN user is not subject to them', async (t) => {
    const ids = [
      await addRoutePermission(app, databaseUrl, { method: 'GET', route: '/api/v3/auth/apps', permission: 'billing.invoices.read' }),
      await addRoutePermission(app, databaseUrl, { method: 'POST', route: '/api/v3/auth/apps', permission: 'billing.invoices.read' }),
    ];
    t.teardown(() => setActive(app, databaseUrl, ids, false));
    assertEnvelopeSuccess(t, await v3Get(app, admin.accessToken, '/apps'), 200, { list: true });
    assertEnvelopeSuccess(t, await v3Call(app, admin.accessToken, 'POST', '/apps', newApp()), 201);
    assertEnvelopeError(t, await v3Get(app, tokens.reader, '/apps'), 403, 'V3_AUTH_PERMISSION_DENIED');
    assertEnvelopeSuccess(t, await v3Get(app, tokens.reader, '/permissions'), 200, { list: true });
    assertEnvelopeError(t, await v3Call(app, tokens.writer, 'POST', '/apps', newApp()), 403, 'V3_AUTH_PERMISSION_DENIED');

    const fullReader = await createApp(app, admin.accessToken, { permissions: ['auth-admin.apps.read', 'billing.invoices.read'] });
    const fullToken = (await tokenFor(t, app, fullReader)).access_token as string;
    assertEnvelopeSuccess(t, await v3Get(app, fullToken, '/apps'), 200, { list: true });

    await setActive(app, databaseUrl, ids, false);
    assertEnvelopeSuccess(t, await v3Get(app, tokens.reader, '/apps'), 200, { list: true });
  });

  t.test('a suspended admin app is refused as suspended', async (t) => {
    const suspended = await createApp(app, admin.accessToken, { permissions: ['auth-admin.apps.read'] });
    const token = (await tokenFor(t, app, suspended)).access_token as string;
    assertEnvelopeSuccess(t, await suspendApp(app, admin.accessToken, suspended.app_id));
    assertEnvelopeError(t, await v3Get(app, token, '/apps'), 403, 'V3_AUTH_APP_SUSPENDED');
  });
});
