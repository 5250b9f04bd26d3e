/**
 * API V3 admin: an app's life after registration. Secret rotation (grace windows, the configured
 * default, revoking live tokens), suspension, reactivation and permanent revocation, and the
 * replacement of permission grants and organizations (all or nothing). Each change is checked
 * where it matters: the detail view, token issuance and live tokens.
 */
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { createManualClock } from '../../src/lib/clock.js';
import { buildTestApp } from '../helpers/app.js';
import { adminEnv, registerAdmin } from '../helpers/factories.js';
import {
  appMe,
  appToken,
  assertEnvelope,
  call,
  createApp,
  type CreatedApp,
  errorText,
  expectData,
  expectError,
  getApp,
  HOUR,
  issueToken,
  type Json,
  openSql,
  organizationIds,
  parseV3Datetime,
  V3_DATETIME,
} from './v3-admin-helpers.js';

const SUMMARY_KEYS = ['app_code', 'app_id', 'app_name', 'client_id', 'created_at', 'default_organization_id', 'description', 'status', 'updated_at'];
t.test('rotate-secret', async (t) => {
  const { emails, env } = adminEnv(1);
  const { app, config } = await buildTestApp(t, { env: { ...env, APP_SECRET_GRACE_HOURS: '5' } });
  const admin = await registerAdmin(app, emails[0]!);
  const token = admin.accessToken;
  const rotate = (appId: string, payload?: unknown) => call(app, 'POST', `/apps/${appId}/rotate-secret`, { token, ...(payload !== undefined ? { payload } : {}) });
  const secretsOf = async (appId: string) => expectData(t, await getApp(app, token, appId)).secrets as Json[];
  const withSecret = (created: CreatedApp, client_secret: string) => ({ client_id: created.client_id, client_secret });

  t.test('a new secret, version 2, and grace_until = now + grace_hours; both secrets work during the grace', async (t) => {
    const created = await createApp(app, token);
    const before = Date.now();
    const res = await rotate(created.app_id, { grace_hours: 2 });
    const data = expectData(t, res);
    t.strictSame(Object.keys(data).sort(), ['client_secret', 'grace_until', 'secret_version']);
    t.match(data.client_secret, /^pcs_[A-Za-z0-9_-]{43}$/);
    t.not(data.client_secret, created.client_secret, 'a new secret');
    t.equal(data.secret_version, 2);
    t.match(data.grace_until, V3_DATETIME);
    t.ok(Math.abs(parseV3Datetime(data.grace_until) - (before + 2 * HOUR)) <= 2000, `grace_until ${data.grace_until} is now + 2 h (within 2 s)`);
    t.equal(res.headers['cache-control'], 'no-store');

    const detailRes = await getApp(app, token, created.app_id);
    const secrets = expectData(t, detailRes).secrets as Json[];
    t.equal(secrets.length, 2);
    t.match(secrets[0], { version: 2, status: 'ACTIVE', grace_until: null, revoked_at: null });
    t.match(secrets[1], { version: 1, status: 'GRACE', grace_until: data.grace_until, revoked_at: null });
    t.notOk(detailRes.body.includes(data.client_secret), 'the detail never shows the new secret');
    t.notOk(detailRes.body.includes(created.client_secret), 'nor the old one');

    const viaOld = await issueToken(app, created);
    t.equal(viaOld.statusCode, 200, 'the old secret still issues tokens during the grace');
    t.equal((await appMe(app, viaOld.json().data.access_token)).statusCode, 200, 'and its token works');
    t.equal((await issueToken(app, withSecret(created, data.client_secret))).statusCode, 200, 'the new secret issues tokens');
    expectError(t, await issueToken(app, withSecret(created, `${data.client_secret.slice(0, -2)}xx`)), 401, 'V3_AUTH_INVALID_CLIENT');
  });

  t.test('without grace_hours the grace is APP_SECRET_GRACE_HOURS (5 here)', async (t) => {
    t.equal(config.APP_SECRET_GRACE_HOURS, 5, 'the env reached the config');
    const created = await createApp(app, token);
    const before = Date.now();
    const data = expectData(t, await rotate(created.app_id, {}));
    t.equal(data.secret_version, 2);
    t.ok(Math.abs(parseV3Datetime(data.grace_until) - (before + 5 * HOUR)) <= 2000, `grace_until ${data.grace_until} is now + 5 h (within 2 s)`);
    t.match((await secretsOf(created.app_id))[1], { version: 1, status: 'GRACE', grace_until: data.grace_until });
    t.equal((await issueToken(app, created)).statusCode, 200, 'the old secret works in the default grace');
  });

  t.test('grace_hours 0: grace_until null and the old secret is EXPIRED at once', async (t) => {
    const created = await createApp(app, token);
    const data = expectData(t, await rotate(created.app_id, { grace_hours: 0 }));
    t.equal(data.grace_until, null);
    t.equal(data.secret_version, 2);
    const secrets = await secretsOf(created.app_id);
    t.match(secrets[0], { version: 2, status: 'ACTIVE' });
    t.match(secrets[1], { version: 1, status: 'EXPIRED' });
    expectError(t, await issueToken(app, created), 401, 'V3_AUTH_SECRET_EXPIRED');
    t.equal((await issueToken(app, withSecret(created, data.client_secret))).statusCode, 200, 'the new secret works');
  });

  t.test('rotating again: version 3; earlier secrets keep their own grace windows', async (t) => {
    const created = await createApp(app, token);
    const second = expectData(t, await rotate(created.app_id, { grace_hours: 1 }));
    const third = expectData(t, await rotate(created.app_id, { grace_hours: 3 }));
    t.equal(third.secret_version, 3);
    const secrets = await secretsOf(created.app_id);
    t.strictSame(secrets.map((s) => [s.version, s.status]), [[3, 'ACTIVE'], [2, 'GRACE'], [1, 'GRACE']]);
    t.equal(secrets[2]!.grace_until, second.grace_until, 'the first secret keeps its 1 h window');
    t.equal(secrets[1]!.grace_until, third.grace_until, 'the second gets the new window');
    for (const secret of [created.client_secret, second.client_secret, third.client_secret]) {
      t.equal((await issueToken(app, withSecret(created, secret))).statusCode, 200);
    }
  });

  t.test('live tokens survive a rotation, unless revoke_existing_tokens', async (t) => {
    const created = await createApp(app, token);
    const early = await appToken(app, created);
    const kept = expectData(t, await rotate(created.app_id, { grace_hours: 1, revoke_existing_tokens: false }));
    t.equal((await appMe(app, early)).statusCode, 200, 'a plain rotation leaves live tokens alone');

    const viaGrace = await appToken(app, created);
    const viaNew = await appToken(app, withSecret(created, kept.client_secret));
    const killed = expectData(t, await rotate(created.app_id, { grace_hours: 1, revoke_existing_tokens: true, reason: 'leaked' }));
    for (const [label, live] of [['issued before the first rotation', early], ['issued with the grace secret', viaGrace], ['issued with the current secret', viaNew]] as const) {
      expectError(t, await appMe(app, live), 401, 'V3_AUTH_TOKEN_REVOKED');
      t.pass(`token ${label} is revoked`);
    }
    const fresh = await appToken(app, withSecret(created, killed.client_secret));
    t.equal((await appMe(app, fresh)).statusCode, 200, 'a token from the newest secret works');
    t.equal((await issueToken(app, withSecret(created, kept.client_secret))).statusCode, 200, 'the previous secret is still in its grace');
  });

  t.test('input: grace_hours 0 to 8760 integer, known fields only; unknown app 404', async (t) => {
    const created = await createApp(app, token);
    for (const payload of [{ grace_hours: -1 }, { grace_hours: 8761 }, { grace_hours: 1.5 }, { grace_hours: '2' }, { revoke_existing_tokens: 'yes' }, { status: 'ACTIVE' }, { client_secret: 'pcs_mine' }]) {
      expectError(t, await rotate(created.app_id, payload), 400, 'V3_AUTH_VALIDATION_ERROR');
    }
    t.equal((await secretsOf(created.app_id)).length, 1, 'no refused request rotated');
    const longest = expectData(t, await rotate(created.app_id, { grace_hours: 8760 }));
    t.equal(longest.secret_version, 2, '8760 hours is allowed');
    expectError(t, await rotate(randomUUID(), {}), 404, 'V3_AUTH_NOT_FOUND');
    expectError(t, await rotate('not-a-uuid', {}), 400, 'V3_AUTH_VALIDATION_ERROR');
  });

  // Regression: the body validator once saw Fastify's null for a missing body and answered 400 "body must be object".
  t.test('no payload at all rotates with the defaults (every field is optional)', async (t) => {
    const created = await createApp(app, token);
    const res = await rotate(created.app_id);
    t.notOk(res.raw.req.headers['content-type'], 'no content type was sent');
    const data = expectData(t, res);
    t.equal(data.secret_version, 2, 'version 2');
    t.ok(Math.abs(parseV3Datetime(data.grace_until) - (Date.now() + 5 * HOUR)) <= 2000, 'the default grace');
  });
});

t.test('suspend, reactivate, revoke', async (t) => {
  const { emails, env } = adminEnv(1);
  const { app } = await buildTestApp(t, { env });
  const admin = await registerAdmin(app, emails[0]!);
  const token = admin.accessToken;
  const act = (appId: string, action: string, payload?: unknown) =>
    call(app, 'POST', `/apps/${appId}/${action}`, { token, ...(payload !== undefined ? { payload } : {}) });
  const statusOf = async (appId: string) => expectData(t, await getApp(app, token, appId)).status as string;

  t.test('suspend: SUSPENDED; issuance 403 V3_AUTH_APP_SUSPENDED; live tokens refused', async (t) => {
    const created = await createApp(app, token);
    const live = await appToken(app, created);
    const data = expectData(t, await act(created.app_id, 'suspend', {}));
    t.strictSame(Object.keys(data).sort(), SUMMARY_KEYS);
    t.match(data, { app_id: created.app_id, status: 'SUSPENDED' });
    t.equal(await statusOf(created.app_id), 'SUSPENDED');
    expectError(t, await issueToken(app, created), 403, 'V3_AUTH_APP_SUSPENDED');
    const me = await appMe(app, live);
    t.not(me.statusCode, 200, 'a live token stops working');
    expectError(t, me, 403, 'V3_AUTH_APP_SUSPENDED');
    t.equal(expectData(t, await act(created.app_id, 'suspend', { reason: 'again' })).status, 'SUSPENDED', 'suspending twice is harmless');
  });

  t.test('reactivate: ACTIVE and issuance works again', async (t) => {
    const created = await createApp(app, token);
    expectData(t, await act(created.app_id, 'suspend', { reason: 'investigating' }));
    const data = expectData(t, await act(created.app_id, 'reactivate', { reason: 'cleared' }));
    t.match(data, { app_id: created.app_id, status: 'ACTIVE' });
    t.equal(await statusOf(created.app_id), 'ACTIVE');
    const issued = await issueToken(app, created);
    t.equal(issued.statusCode, 200, 'issuance works');
    t.equal((await appMe(app, issued.json().data.access_token)).statusCode, 200, 'and the token works');
    t.equal(expectData(t, await act(created.app_id, 'reactivate', {})).status, 'ACTIVE', 'reactivating an active app is harmless');
  });

  t.test('revoke: REVOKED, every secret REVOKED, live tokens stop, and it is permanent', async (t) => {
    const created = await createApp(app, token);
    const rotated = expectData(t, await call(app, 'POST', `/apps/${created.app_id}/rotate-secret`, { token, payload: { grace_hours: 4 } }));
    const live = [await appToken(app, created), await appToken(app, { client_id: created.client_id, client_secret: rotated.client_secret })];

    const data = expectData(t, await act(created.app_id, 'revoke', { reason: 'compromised' }));
    t.match(data, { app_id: created.app_id, status: 'REVOKED' });
    const detail = expectData(t, await getApp(app, token, created.app_id));
    t.equal(detail.status, 'REVOKED');
    t.equal(detail.secrets.length, 2);
    for (const secret of detail.secrets as Json[]) {
      t.equal(secret.status, 'REVOKED', `secret v${secret.version} is REVOKED`);
      t.match(secret.revoked_at, V3_DATETIME, `secret v${secret.version} has revoked_at`);
    }
    for (const liveToken of live) {
      const me = await appMe(app, liveToken);
      assertEnvelope(t, me);
      t.not(me.statusCode, 200, 'a live token never works again');
      t.ok([401, 403].includes(me.statusCode), `refused with 401/403 (got ${me.statusCode} ${String(me.json().error?.code)})`);
    }
    for (const secret of [created.client_secret, rotated.client_secret]) {
      const issued = await issueToken(app, { client_id: created.client_id, client_secret: secret });
      assertEnvelope(t, issued);
      t.ok([401, 403].includes(issued.statusCode), `no token for a revoked app (got ${issued.statusCode} ${String(issued.json().error?.code)})`);
    }

    expectError(t, await act(created.app_id, 'reactivate', {}), 409, 'V3_AUTH_CONFLICT');
    expectError(t, await act(created.app_id, 'suspend', {}), 409, 'V3_AUTH_CONFLICT');
    expectError(t, await call(app, 'POST', `/apps/${created.app_id}/rotate-secret`, { token, payload: { grace_hours: 1 } }), 409, 'V3_AUTH_CONFLICT');
    const after = expectData(t, await getApp(app, token, created.app_id));
    t.equal(after.status, 'REVOKED', 'still revoked');
    t.equal(after.secrets.length, 2, 'no secret was added by the refused rotation');
  });

  t.test('an empty JSON object and {reason} are accepted; other bodies are not', async (t) => {
    const created = await createApp(app, token);
    for (const [action, status] of [['suspend', 'SUSPENDED'], ['reactivate', 'ACTIVE']] as const) {
      t.equal(expectData(t, await act(created.app_id, action, {})).status, status, `${action} {}`);
      t.equal(expectData(t, await act(created.app_id, action, { reason: `why ${action}` })).status, status, `${action} {reason}`);
      for (const payload of [{ reason: '' }, { reason: 'x'.repeat(501) }, { reason: 42 }, { force: true }, { status: 'REVOKED' }]) {
        expectError(t, await act(created.app_id, action, payload), 400, 'V3_AUTH_VALIDATION_ERROR');
      }
    }
    for (const payload of [{ reason: 7 }, { permanently: true }]) {
      expectError(t, await act(created.app_id, 'revoke', payload), 400, 'V3_AUTH_VALIDATION_ERROR');
    }
    t.equal(await statusOf(created.app_id), 'ACTIVE', 'refused bodies changed nothing');
    t.equal(expectData(t, await act(created.app_id, 'revoke', {})).status, 'REVOKED', 'revoke {}');
  });

  // Regression: the body validator once saw Fastify's null for a missing body and answered 400 "body must be object".
  t.test('no payload at all (no body, no content type) is accepted by all three', async (t) => {
    const created = await createApp(app, token);
    for (const [action, status] of [['suspend', 'SUSPENDED'], ['reactivate', 'ACTIVE'], ['revoke', 'REVOKED']] as const) {
      const res = await act(created.app_id, action);
      t.notOk(res.raw.req.headers['content-type'], 'no content type was sent');
      t.equal(expectData(t, res).status, status, `${action} with no payload -> ${status}`);
      t.equal(await statusOf(created.app_id), status, 'and the detail agrees');
    }
  });

  t.test('an unknown app is 404; a non-uuid id is 400', async (t) => {
    for (const action of ['suspend', 'reactivate', 'revoke']) {
      expectError(t, await act(randomUUID(), action, {}), 404, 'V3_AUTH_NOT_FOUND');
      expectError(t, await act('nope', action, {}), 400, 'V3_AUTH_VALIDATION_ERROR');
    }
  });
});

t.test('PUT /apps/:id/permissions', async (t) => {
  const { emails, env } = adminEnv(1);
  const { app } = await buildTestApp(t, { env });
  const admin = await registerAdmin(app, emails[0]!);
  const token = admin.accessToken;
  const put = (appId: string, payload: unknown) => call(app, 'PUT', `/apps/${appId}/permissions`, { token, payload });
  const grantsOf = async (appId: string) => (expectData(t, await getApp(app, token, appId)).permissions as Json[]).map((p) => p.permission_code);

  t.test('replaces the grants; the response lists them with module/resource/action; live tokens see it', async (t) => {
    const created = await createApp(app, token, { permissions: ['orders.orders.read', 'orders.orders.write'] });
    const live = await appToken(app, created);
    const data = expectData(t, await put(created.app_id, { permissions: ['inventory.items.read', 'billing.invoices.read'] }));
    t.strictSame(data, {
      app_id: created.app_id,
      permissions: [
        { permission_code: 'billing.invoices.read', module_code: 'billing', resource_code: 'invoices', action_code: 'read' },
        { permission_code: 'inventory.items.read', module_code: 'inventory', resource_code: 'items', action_code: 'read' },
      ],
    });
    t.strictSame(await grantsOf(created.app_id), ['billing.invoices.read', 'inventory.items.read'], 'the old grants are gone');
    const me = expectData(t, await appMe(app, live));
    t.strictSame([...me.permissions].sort(), ['billing.invoices.read', 'inventory.items.read'], 'a live token carries the new grants');
  });

  t.test('[] removes every grant; duplicates are granted once', async (t) => {
    const created = await createApp(app, token);
    t.strictSame(expectData(t, await put(created.app_id, { permissions: [] })).permissions, []);
    t.strictSame(await grantsOf(created.app_id), []);
    const twice = expectData(t, await put(created.app_id, { permissions: ['orders.orders.read', 'orders.orders.read'] }));
    t.strictSame(twice.permissions.map((p: Json) => p.permission_code), ['orders.orders.read']);
  });

  t.test('an unknown code: 400 naming it, and the previous grants are unchanged', async (t) => {
    const created = await createApp(app, token, { permissions: ['orders.orders.read'] });
    const live = await appToken(app, created);
    const error = expectError(t, await put(created.app_id, { permissions: ['inventory.items.read', 'ghost.things.read', 'ghost.things.write'] }), 400, 'V3_AUTH_VALIDATION_ERROR');
    t.ok(errorText(error).includes('ghost.things.read'), 'names ghost.things.read');
    t.ok(errorText(error).includes('ghost.things.write'), 'names ghost.things.write');
    t.strictSame(await grantsOf(created.app_id), ['orders.orders.read'], 'grants unchanged');
    t.strictSame(expectData(t, await appMe(app, live)).permissions, ['orders.orders.read'], 'the live token is unchanged too');
  });

  t.test('input: permissions is a required array of codes; unknown app 404', async (t) => {
    const created = await createApp(app, token);
    for (const payload of [{}, { permissions: 'orders.orders.read' }, { permissions: [42] }, { permissions: [''] }, { permissions: [], extra: 1 }]) {
      expectError(t, await put(created.app_id, payload), 400, 'V3_AUTH_VALIDATION_ERROR');
    }
    t.strictSame(await grantsOf(created.app_id), ['orders.orders.read']);
    expectError(t, await put(randomUUID(), { permissions: [] }), 404, 'V3_AUTH_NOT_FOUND');
  });
});

t.test('PUT /apps/:id/organizations', async (t) => {
  const { emails, env } = adminEnv(1);
  const { app, databaseUrl } = await buildTestApp(t, { env });
  const admin = await registerAdmin(app, emails[0]!);
  const token = admin.accessToken;
  const sql = openSql(t, databaseUrl);
  const org = await organizationIds(sql);
  const put = (appId: string, payload: unknown) => call(app, 'PUT', `/apps/${appId}/organizations`, { token, payload });
  const stateOf = async (appId: string) => {
    const detail = expectData(t, await getApp(app, token, appId));
    return { default: detail.default_organization_id as string | null, codes: (detail.organizations as Json[]).map((o) => o.organization_code) };
  };

  t.test('replaces by codes or ids; the response lists them with is_default; issuance follows', async (t) => {
    const created = await createApp(app, token, { organizations: ['HQ'], default_organization_id: 'HQ' });
    const data = expectData(t, await put(created.app_id, { organizations: ['ACME', org.GLOBEX], default_organization_id: 'GLOBEX' }));
    t.strictSame(data, {
      app_id: created.app_id,
      default_organization_id: org.GLOBEX,
      organizations: [
        { organization_id: org.ACME, organization_code: 'ACME', organization_name: 'Acme Corporation', is_default: false },
        { organization_id: org.GLOBEX, organization_code: 'GLOBEX', organization_name: 'Globex', is_default: true },
      ],
    });
    t.strictSame(await stateOf(created.app_id), { default: org.GLOBEX, codes: ['ACME', 'GLOBEX'] });
    expectError(t, await issueToken(app, created, { extra: { organization_code: 'HQ' } }), 403, 'V3_AUTH_ORG_DENIED');
    t.equal(expectData(t, await issueToken(app, created)).organization_code, 'GLOBEX', 'the new default is used');

    const byIds = expectData(t, await put(created.app_id, { organizations: [org.HQ, org.ACME], default_organization_id: org.HQ }));
    t.equal(byIds.default_organization_id, org.HQ);
    t.strictSame(byIds.organizations.map((o: Json) => o.organization_code), ['ACME', 'HQ']);
  });

  t.test('the current default is kept when it stays assigned and none is given', async (t) => {
    const created = await createApp(app, token, { organizations: ['HQ', 'ACME'], default_organization_id: 'ACME' });
    const data = expectData(t, await put(created.app_id, { organizations: ['ACME', 'GLOBEX'] }));
    t.equal(data.default_organization_id, org.ACME);
    t.strictSame(await stateOf(created.app_id), { default: org.ACME, codes: ['ACME', 'GLOBEX'] });
  });

  t.test('the default is cleared when its organization is removed and none is given, or when null is given', async (t) => {
    const created = await createApp(app, token, { organizations: ['HQ', 'ACME'], default_organization_id: 'HQ' });
    t.equal(expectData(t, await put(created.app_id, { organizations: ['ACME', 'GLOBEX'] })).default_organization_id, null);
    t.strictSame(await stateOf(created.app_id), { default: null, codes: ['ACME', 'GLOBEX'] });
    expectData(t, await put(created.app_id, { organizations: ['ACME', 'GLOBEX'], default_organization_id: 'ACME' }));
    t.equal(expectData(t, await put(created.app_id, { organizations: ['ACME', 'GLOBEX'], default_organization_id: null })).default_organization_id, null, 'explicit null');
  });

  t.test('a default outside the new list is 400 and nothing changes', async (t) => {
    const created = await createApp(app, token, { organizations: ['HQ'], default_organization_id: 'HQ' });
    for (const ref of ['HQ', org.GLOBEX!]) {
      const error = expectError(t, await put(created.app_id, { organizations: ['ACME'], default_organization_id: ref }), 400, 'V3_AUTH_VALIDATION_ERROR');
      t.match(errorText(error), /default_organization_id/);
    }
    t.strictSame(await stateOf(created.app_id), { default: org.HQ, codes: ['HQ'] });
  });

  t.test('an unknown organization: 400 naming it, and nothing changes', async (t) => {
    const created = await createApp(app, token, { organizations: ['HQ', 'ACME'], default_organization_id: 'HQ' });
    const ghostId = randomUUID();
    const error = expectError(t, await put(created.app_id, { organizations: ['GLOBEX', 'ATLANTIS', ghostId] }), 400, 'V3_AUTH_VALIDATION_ERROR');
    t.ok(errorText(error).includes('ATLANTIS'), 'names ATLANTIS');
    t.ok(errorText(error).includes(ghostId), 'names the unknown id');
    expectError(t, await put(created.app_id, { organizations: ['GLOBEX'], default_organization_id: 'ATLANTIS' }), 400, 'V3_AUTH_VALIDATION_ERROR');
    t.strictSame(await stateOf(created.app_id), { default: org.HQ, codes: ['ACME', 'HQ'] });
    t.equal(expectData(t, await issueToken(app, created)).organization_code, 'HQ', 'issuance is unchanged');
  });

  t.test('[] removes every organization and the default', async (t) => {
    const created = await createApp(app, token, { organizations: ['HQ'], default_organization_id: 'HQ' });
    const data = expectData(t, await put(created.app_id, { organizations: [] }));
    t.strictSame(data, { app_id: created.app_id, default_organization_id: null, organizations: [] });
  });

  t.test('input: organizations is a required array; known fields only; unknown app 404', async (t) => {
    const created = await createApp(app, token);
    for (const payload of [{}, { default_organization_id: 'HQ' }, { organizations: 'HQ' }, { organizations: [''] }, { organizations: ['HQ'], extra: true }]) {
      expectError(t, await put(created.app_id, payload), 400, 'V3_AUTH_VALIDATION_ERROR');
    }
    t.strictSame(await stateOf(created.app_id), { default: org.HQ, codes: ['HQ'] });
    expectError(t, await put(randomUUID(), { organizations: ['HQ'] }), 404, 'V3_AUTH_NOT_FOUND');
  });
});

t.test('a grace window ends (manual clock); revoking later leaves no usable secret', async (t) => {
  const { emails, env } = adminEnv(1);
  const clock = createManualClock(Date.now());
  // The admin's access token must outlive the clock jumps below (expiry follows the injected clock).
  const { app } = await buildTestApp(t, { env: { ...env, JWT_ACCESS_TTL: '1d' }, clock });
  const admin = await registerAdmin(app, emails[0]!);
  const token = admin.accessToken;
  const created = await createApp(app, token);
  const rotated = expectData(t, await call(app, 'POST', `/apps/${created.app_id}/rotate-secret`, { token, payload: { grace_hours: 1 } }));
  t.equal(parseV3Datetime(rotated.grace_until), Math.floor((clock.now() + HOUR) / 1000) * 1000, 'grace_until is the injected now + 1 h');

  clock.advance(HOUR - 60_000);
  t.equal((await issueToken(app, created)).statusCode, 200, 'a minute before the end of the grace the old secret works');
  clock.advance(2 * 60_000);
  expectError(t, await issueToken(app, created), 401, 'V3_AUTH_SECRET_EXPIRED');
  t.equal((await issueToken(app, { client_id: created.client_id, client_secret: rotated.client_secret })).statusCode, 200, 'the new secret works');

  const third = expectData(t, await call(app, 'POST', `/apps/${created.app_id}/rotate-secret`, { token, payload: { grace_hours: 0 } }));
  expectData(t, await call(app, 'POST', `/apps/${created.app_id}/revoke`, { token, payload: {} }));
  const secrets = expectData(t, await getApp(app, token, created.app_id)).secrets as Json[];
  t.equal(secrets.length, 3);
  t.ok(secrets.every((secret) => secret.status === 'REVOKED' || secret.status === 'EXPIRED'), `no secret is ACTIVE or GRACE after revoke (${secrets.map((s) => `v${s.version}:${s.status}`).join(', ')})`);
  t.equal(secrets[0]!.status, 'REVOKED', 'the active secret is REVOKED');
  for (const secret of [created.client_secret, rotated.client_secret, third.client_secret]) {
    t.not((await issueToken(app, { client_id: created.client_id, client_secret: secret })).statusCode, 200, 'no secret issues tokens');
  }
});
