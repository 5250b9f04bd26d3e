/** GET /api/auth/check: forward-auth for reverse proxies, for user and app tokens. */
import t from 'tap';
import postgres from 'postgres';
import { buildTestApp } from '../helpers/app.js';
import { adminEnv, registerAdmin, registerUser } from '../helpers/factories.js';
import { commandsSentBy } from '../helpers/redis.js';

const check = (app: Awaited<ReturnType<typeof buildTestApp>>['app'], token: string | undefined, query = '', headers: Record<string, string> = {}) =>
  app.inject({ method: 'GET', url: `/api/auth/check${query}`, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });

t.test('forward-auth', async (t) => {
  const { emails, env } = adminEnv(1);
  const { app, databaseUrl } = await buildTestApp(t, { env: { ...env, RATE_LIMIT_DEFAULT: '5/1m' } });
  const admin = await registerAdmin(app, emails[0]!);
  const partner = await registerUser(app, { role: 'PARTNER' });
  const created = await app.inject({
    method: 'POST',
    url: '/api/v3/auth/apps',
    headers: { authorization: `Bearer ${admin.accessToken}` },
    payload: { app_code: `gw-${Date.now()}`, app_name: 'Gateway client', organizations: ['HQ', 'ACME'], default_organization_id: 'HQ', permissions: ['orders.orders.read'] },
  });
  const { app_id, client_id, client_secret } = created.json().data;
  const appToken = (await app.inject({ method: 'POST', url: '/api/v3/auth/token', payload: { client_id, client_secret } })).json().data.access_token as string;

  t.test('a user token: 200 with identity headers, role requirements', async (t) => {
    const ok = await check(app, partner.accessToken);
    t.equal(ok.statusCode, 200);
    t.equal(ok.headers['x-auth-subject'], partner.id);
    t.equal(ok.headers['x-auth-role'], 'PARTNER');
    t.equal((await check(app, partner.accessToken, '?role=PARTNER,ADMIN')).statusCode, 200);
    const refused = await check(app, partner.accessToken, '?role=ADMIN');
    t.equal(refused.statusCode, 403);
    t.equal(refused.json().code, 'ROLE_REQUIRED');
    t.equal((await check(app, partner.accessToken, '?permission=orders.orders.read')).json().code, 'PERMISSION_REQUIRED', 'permissions are for app tokens');
  });

  t.test('an app token: 200 with app, org and permissions; permission, org and forwarded-route requirements', async (t) => {
    const ok = await check(app, appToken);
    t.equal(ok.statusCode, 200);
    t.equal(ok.headers['x-auth-subject'], app_id);
    t.match(ok.headers['x-auth-app'], /^gw-/);
    t.equal(ok.headers['x-auth-org'], 'HQ');
    t.equal(ok.headers['x-auth-permissions'], 'orders.orders.read');
    t.equal((await check(app, appToken, '?permission=orders.orders.read&org=HQ')).statusCode, 200);
    t.equal((await check(app, appToken, '?permission=orders.orders.write')).json().code, 'V3_AUTH_PERMISSION_DENIED');
    t.equal((await check(app, appToken, '?org=ACME')).json().code, 'V3_AUTH_ORG_DENIED', 'the token acts for HQ');
    t.equal((await check(app, appToken, '?role=ADMIN')).json().code, 'ROLE_REQUIRED');

    const sql = postgres(databaseUrl!, { max: 1 });
    t.teardown(() => sql.end());
    await sql`insert into route_permissions (method, route_pattern, permission_code) values ('POST', '/orders/:id/cancel', 'orders.orders.write'), ('GET', '/orders/:id', 'orders.orders.read')`;
    await app.routePermissions.reload();
    const cancel = await check(app, appToken, '', { 'x-forwarded-method': 'POST', 'x-forwarded-uri': '/orders/42/cancel?force=1' });
    t.equal(cancel.statusCode, 403, 'the upstream route needs a permission the app lacks');
    t.equal(cancel.json().code, 'V3_AUTH_PERMISSION_DENIED');
    t.equal((await check(app, appToken, '', { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/orders/42' })).statusCode, 200);
    t.equal((await check(app, appToken, '', { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/unlisted' })).statusCode, 200, 'routes without a record are not restricted');
  });

  t.test('refusals: 401 for the token, with the usual codes and a challenge', async (t) => {
    const missing = await check(app, undefined);
    t.equal(missing.statusCode, 401);
    t.equal(missing.json().code, 'TOKEN_MISSING');
    t.match(missing.headers['www-authenticate'], /^Bearer realm=/);
    t.equal((await check(app, 'not-a-token')).json().code, 'TOKEN_INVALID');
    t.equal((await check(app, 'v3at_garbage')).json().code, 'V3_AUTH_TOKEN_INVALID');
    const victim = await registerUser(app);
    await app.inject({ method: 'POST', url: '/api/auth/logout', headers: { authorization: `Bearer ${victim.accessToken}` } });
    t.equal((await check(app, victim.accessToken)).json().code, 'SESSION_REVOKED');
  });

  t.test('headers: an allowed answer carries no browser-facing set; a refusal, which a proxy may pass on, carries all of it', async (t) => {
    const browserOnly = ['content-security-policy', 'strict-transport-security', 'x-content-type-options', 'x-frame-options', 'cross-origin-resource-policy', 'referrer-policy'];
    for (const [name, res] of [['user', await check(app, partner.accessToken)], ['app', await check(app, appToken)]] as const) {
      t.equal(res.statusCode, 200, name);
      t.equal(res.headers['cache-control'], 'no-store', `${name}: never cached`);
      t.match(res.headers['x-request-id'], /\S/, `${name}: the request id stays`);
      for (const header of browserOnly) t.equal(res.headers[header], undefined, `${name}: no ${header}`);
    }
    const refusals = { 'no token (401)': await check(app, undefined), 'wrong role (403)': await check(app, partner.accessToken, '?role=ADMIN'), 'unknown query parameter (400)': await check(app, partner.accessToken, '?bogus=1') };
    t.strictSame(Object.values(refusals).map((res) => res.statusCode), [401, 403, 400]);
    for (const [name, res] of Object.entries(refusals)) {
      t.equal(res.headers['cache-control'], 'no-store', name);
      t.equal(res.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'", name);
      t.match(res.headers['strict-transport-security'], /max-age=/, name);
      t.equal(res.headers['x-content-type-options'], 'nosniff', name);
      t.equal(res.headers['x-frame-options'], 'DENY', name);
      t.equal(res.headers['cross-origin-resource-policy'], 'same-origin', name);
      t.equal(res.headers['referrer-policy'], 'no-referrer', name);
    }
    const other = await app.inject({ method: 'GET', url: '/api/auth/me', headers: { authorization: `Bearer ${partner.accessToken}` } });
    t.equal(other.headers['x-frame-options'], 'DENY', 'every other answer keeps the set');
  });

  t.test('the hot path: one Redis command per check, never rate-limited', async (t) => {
    const client = app.kv.kind === 'redis' ? app.kv.client : undefined;
    t.ok(client);
    t.strictSame(await commandsSentBy(client!, () => check(app, partner.accessToken)), ['hmget'], 'user token: one HMGET');
    t.strictSame(await commandsSentBy(client!, () => check(app, appToken)), ['mget'], 'app token: one MGET');
    const statuses = new Set<number>();
    for (let i = 0; i < 20; i++) statuses.add((await check(app, partner.accessToken)).statusCode);
    t.strictSame([...statuses], [200], 'far beyond RATE_LIMIT_DEFAULT (5/min), still answered');
  });

  t.test('a suspended app: 403 on its next check', async (t) => {
    await app.inject({ method: 'POST', url: `/api/v3/auth/apps/${app_id}/suspend`, headers: { authorization: `Bearer ${admin.accessToken}` } });
    const suspended = await check(app, appToken);
    t.equal(suspended.statusCode, 403);
    t.equal(suspended.json().code, 'V3_AUTH_APP_SUSPENDED');
  });
});
