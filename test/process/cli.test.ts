/** The operator CLI as a child process, against the same database and Redis as a running app. */
import t from 'tap';
import { randomBytes, randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { appWithCli } from './cli-helpers.js';

t.test('create, list, rotate and suspend apps from the command line', async (t) => {
  const { app, cli, database } = await appWithCli(t, { APP_SECRET_PEPPER: randomBytes(32).toString('base64url') });
  const token = (clientId: string, clientSecret: string) =>
    app.inject({ method: 'POST', url: '/api/v3/auth/token', payload: { client_id: clientId, client_secret: clientSecret } });

  const code = `cli-${randomUUID().slice(0, 8)}`;
  const created = await cli('apps:create', '--code', code, '--name', 'CLI app', '--org', 'HQ', '--perm', 'orders.orders.read');
  t.equal(created.code, 0, created.stderr);
  const app1 = JSON.parse(created.stdout);
  t.match(app1, { client_id: /^cid_/, client_secret: /^pcs_/, secret_version: 1 });
  const issued = await token(app1.client_id, app1.client_secret);
  t.equal(issued.statusCode, 200, 'the running service issues tokens for an app the CLI created');
  t.equal(issued.json().data.organization_code, 'HQ');

  const listed = JSON.parse((await cli('apps:list')).stdout);
  t.ok(listed.some((row: { app_code: string; status: string }) => row.app_code === code && row.status === 'ACTIVE'));

  const rotated = JSON.parse((await cli('apps:rotate-secret', code, '--grace-hours', '0')).stdout);
  t.equal(rotated.secret_version, 2);
  t.equal(rotated.grace_until, null);
  t.equal((await token(app1.client_id, app1.client_secret)).json().error.code, 'V3_AUTH_SECRET_EXPIRED', 'old secret expired at once');
  t.equal((await token(app1.client_id, rotated.client_secret)).statusCode, 200, 'new secret works');

  const suspended = JSON.parse((await cli('apps:suspend', app1.app_id, '--reason', 'incident')).stdout);
  t.equal(suspended.status, 'SUSPENDED');
  t.equal((await token(app1.client_id, rotated.client_secret)).json().error.code, 'V3_AUTH_APP_SUSPENDED');

  const unknownPermission = await cli('apps:create', '--code', `${code}-2`, '--name', 'x', '--org', 'HQ', '--perm', 'no.such.permission');
  t.equal(unknownPermission.code, 1);
  t.match(unknownPermission.stderr, /V3_AUTH_VALIDATION_ERROR.*no\.such\.permission/);
  const missing = await cli('apps:suspend', 'no-such-app');
  t.equal(missing.code, 1);
  t.match(missing.stderr, /V3_AUTH_NOT_FOUND/);
  t.equal((await cli('apps:frobnicate')).code, 2, 'unknown command');

  const sql = postgres(database.url, { max: 1 });
  t.teardown(() => sql.end());
  const events = await sql<{ event_type: string }[]>`select event_type from audit_logs where app_id = ${app1.app_id} and actor = 'cli' order by created_at`;
  t.strictSame(
    events.map((row) => row.event_type),
    ['app.created', 'app.secret_rotated', 'app.suspended'],
    'CLI changes are audited (flushed before the CLI exits)',
  );
});
