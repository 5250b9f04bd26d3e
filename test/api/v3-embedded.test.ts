/**
 * The API V3 core flow on the embedded backends (PGlite in memory, the in-process app token
 * store): register an app, issue a token (JSON and form), introspect it, revoke it, expiry, and
 * suspension, revocation, rotation with grace, permission and organization changes reaching live
 * tokens, route permissions, and the audit trail.
 */
import { and, eq } from 'drizzle-orm';
import t from 'tap';
import type { Test } from 'tap';
import { auditLogs, routePermissions } from '../../src/db/schema.js';
import { createManualClock } from '../../src/lib/clock.js';
import {
  assertEnvelopeError,
  assertEnvelopeSuccess,
  assertInvalidTokenChallenge,
  bearer,
  createApp,
  credentials,
  HOUR,
  issueToken,
  organizationIds,
  parseV3Datetime,
  reactivateApp,
  replaceOrganizations,
  replacePermissions,
  revokeApp,
  rotateSecret,
  setupV3,
  suspendApp,
  tokenFor,
  V3,
  V3_DATETIME,
  v3Get,
} from './v3-helpers.js';

const SECOND = 1000;

// One embedded app for the whole file (PGlite start-up and migrations take seconds); each subtest
// registers its own apps. The subtests that move the clock come last.

t.test('API V3 on the embedded backends', async (t: Test) => {
  const clock = createManualClock(Math.floor(Date.now() / SECOND) * SECOND);
  // The admin's access token must outlive the clock jumps below (expiry follows the injected clock).
  const { app, admin, redis, databaseUrl } = await setupV3(t, { embedded: true, clock, env: { JWT_ACCESS_TTL: '1d' } });

  t.test('runs on PGlite and the in-process store', async (t) => {
    t.equal(redis, null);
    t.equal(databaseUrl, undefined);
    t.equal(app.kv.kind, 'memory');
  });

  t.test('create an app, issue tokens, introspect, revoke the token', async (t) => {
    const orgs = await organizationIds(app, admin.accessToken);
    const created = await createApp(app, admin.accessToken, { organizations: ['HQ', 'ACME'], default_organization_id: 'HQ' }, t);
    t.match(created.client_id, /^cid_/);
    t.match(created.client_secret, /^pcs_/);

    const issued = await tokenFor(t, app, created);
    t.match(issued, { token_type: 'Bearer', expires_in: 3600, app_code: created.app_code, organization_id: orgs.HQ, organization_code: 'HQ' });
    t.match(issued.access_token, /^v3at_/);
    t.match(issued.expires_at, V3_DATETIME);
    t.equal(parseV3Datetime(issued.expires_at), clock.now() + 3600 * SECOND);

    const form = assertEnvelopeSuccess(t, await issueToken(app, credentials(created, { grant_type: 'client_credentials', organization_code: 'ACME' }), { form: true }));
    t.equal(form.organization_id, orgs.ACME, 'form encoded, with an organization');

    const me = assertEnvelopeSuccess(t, await v3Get(app, issued.access_token, '/me'));
    t.match(me, { app_id: created.app_id, app_code: created.app_code, status: 'ACTIVE', organization_id: orgs.HQ, permissions: ['orders.orders.read'] });
    const perms = assertEnvelopeSuccess(t, await v3Get(app, issued.access_token, '/me/permissions'));
    t.strictSame(perms.permissions, [{ permission_code: 'orders.orders.read', module_code: 'orders', resource_code: 'orders', action_code: 'read' }]);
    const orgList = assertEnvelopeSuccess(t, await v3Get(app, issued.access_token, '/me/organizations'));
    t.strictSame(orgList.organizations, [
      { organization_id: orgs.ACME, organization_code: 'ACME', is_default: false },
      { organization_id: orgs.HQ, organization_code: 'HQ', is_default: true },
    ]);

    const revoked = assertEnvelopeSuccess(t, await app.inject({ method: 'POST', url: `${V3}/token/revoke`, headers: bearer(issued.access_token), payload: { reason: 'done' } }));
    t.match(revoked, { revoked: true, token_id: me.token_id });
    const after = await v3Get(app, issued.access_token, '/me');
    assertEnvelopeError(t, after, 401, 'V3_AUTH_TOKEN_REVOKED');
    assertInvalidTokenChallenge(t, after, 'V3_AUTH_TOKEN_REVOKED');
    assertEnvelopeSuccess(t, await v3Get(app, form.access_token, '/me'), 200, {});

    await app.audit.flush();
    const events = await app.db.select().from(auditLogs).where(eq(auditLogs.appId, created.app_id));
    const types = events.map((event) => event.eventType).sort();
    t.strictSame(types, ['app.created', 'token.issued', 'token.issued', 'token.revoked'], 'the audit trail on PGlite');
  });

  t.test('credential failures and organization rules', async (t) => {
    const created = await createApp(app, admin.accessToken, { organizations: ['HQ', 'ACME'] });
    assertEnvelopeError(t, await issueToken(app, {}), 401, 'V3_AUTH_MISSING_CREDENTIAL');
    assertEnvelopeError(t, await issueToken(app, { client_id: created.client_id, client_secret: 'pcs_wrong' }), 401, 'V3_AUTH_INVALID_CLIENT');
    assertEnvelopeError(t, await issueToken(app, { client_id: 'cid_AAAAAAAAAAAAAAAAAAAAAA', client_secret: 'x' }), 401, 'V3_AUTH_INVALID_CLIENT');
    assertEnvelopeError(t, await issueToken(app, credentials(created, { grant_type: 'password' })), 400, 'V3_AUTH_UNSUPPORTED_GRANT_TYPE');
    assertEnvelopeError(t, await issueToken(app, credentials(created)), 400, 'V3_AUTH_ORG_REQUIRED');
    assertEnvelopeError(t, await issueToken(app, credentials(created, { organization_code: 'GLOBEX' })), 403, 'V3_AUTH_ORG_DENIED');
    assertEnvelopeSuccess(t, await issueToken(app, credentials(created, { organization_code: 'ACME' })));
    assertEnvelopeError(t, await v3Get(app, 'v3at_garbage', '/me'), 401, 'V3_AUTH_TOKEN_INVALID');
    assertEnvelopeError(t, await app.inject({ method: 'GET', url: `${V3}/nope` }), 404, 'V3_AUTH_NOT_FOUND');
  });

  t.test('suspend and reactivate reach live tokens and issuance', async (t) => {
    const created = await createApp(app, admin.accessToken);
    const token = (await tokenFor(t, app, created)).access_token as string;
    assertEnvelopeSuccess(t, await suspendApp(app, admin.accessToken, created.app_id));
    assertEnvelopeError(t, await v3Get(app, token, '/me'), 403, 'V3_AUTH_APP_SUSPENDED');
    assertEnvelopeError(t, await issueToken(app, credentials(created)), 403, 'V3_AUTH_APP_SUSPENDED');
    assertEnvelopeSuccess(t, await reactivateApp(app, admin.accessToken, created.app_id));
    assertEnvelopeSuccess(t, await v3Get(app, token, '/me'));
    assertEnvelopeSuccess(t, await issueToken(app, credentials(created)));
  });

  t.test('revoking the app ends its tokens for good', async (t) => {
    const created = await createApp(app, admin.accessToken);
    const token = (await tokenFor(t, app, created)).access_token as string;
    assertEnvelopeSuccess(t, await revokeApp(app, admin.accessToken, created.app_id));
    // app-access evaluate(): the records are deleted, so an unexpired token is reported as revoked (401).
    assertEnvelopeError(t, await v3Get(app, token, '/me'), 401, 'V3_AUTH_TOKEN_REVOKED');
    const issue = await issueToken(app, credentials(created));
    assertEnvelopeError(t, issue, 403, 'V3_AUTH_APP_REVOKED');
    t.not(issue.statusCode, 200, 'never issues');
    assertEnvelopeError(t, await reactivateApp(app, admin.accessToken, created.app_id), 409, 'V3_AUTH_CONFLICT');
  });

  t.test('permission and organization changes reach live tokens; route permissions apply', async (t) => {
    const created = await createApp(app, admin.accessToken, { organizations: ['HQ', 'ACME'], default_organization_id: 'HQ', permissions: ['inventory.items.read'] });
    const hq = (await tokenFor(t, app, created)).access_token as string;
    const acme = (await tokenFor(t, app, created, { organization_code: 'ACME' })).access_token as string;

    await app.db.insert(routePermissions).values({ method: 'GET', routePattern: '/api/v3/auth/me/permissions', permissionCode: 'orders.orders.read' });
    await app.routePermissions.reload();
    assertEnvelopeError(t, await v3Get(app, hq, '/me/permissions'), 403, 'V3_AUTH_PERMISSION_DENIED');
    assertEnvelopeSuccess(t, await v3Get(app, hq, '/me'));

    assertEnvelopeSuccess(t, await replacePermissions(app, admin.accessToken, created.app_id, ['orders.orders.read']));
    t.strictSame(assertEnvelopeSuccess(t, await v3Get(app, hq, '/me')).permissions, ['orders.orders.read']);
    assertEnvelopeSuccess(t, await v3Get(app, hq, '/me/permissions'));

    await app.db
      .update(routePermissions)
      .set({ isActive: false })
      .where(and(eq(routePermissions.method, 'GET'), eq(routePermissions.routePattern, '/api/v3/auth/me/permissions')));
    await app.routePermissions.reload();
    assertEnvelopeSuccess(t, await replacePermissions(app, admin.accessToken, created.app_id, []));
    assertEnvelopeSuccess(t, await v3Get(app, hq, '/me/permissions'), 200, {});

    assertEnvelopeSuccess(t, await replaceOrganizations(app, admin.accessToken, created.app_id, { organizations: ['ACME'] }));
    assertEnvelopeError(t, await v3Get(app, hq, '/me'), 403, 'V3_AUTH_ORG_DENIED');
    assertEnvelopeSuccess(t, await v3Get(app, acme, '/me'));
  });

  t.test('a token expires with the clock', async (t) => {
    const created = await createApp(app, admin.accessToken);
    const issued = await tokenFor(t, app, created);
    clock.advance(3600 * SECOND - SECOND);
    assertEnvelopeSuccess(t, await v3Get(app, issued.access_token, '/me'));
    clock.advance(2 * SECOND);
    const res = await v3Get(app, issued.access_token, '/me');
    assertEnvelopeError(t, res, 401, 'V3_AUTH_TOKEN_EXPIRED');
    assertInvalidTokenChallenge(t, res, 'V3_AUTH_TOKEN_EXPIRED');
  });

  t.test('rotation: grace, expiry after grace, grace_hours 0, revoke_existing_tokens', async (t) => {
    const created = await createApp(app, admin.accessToken);
    const oldToken = (await tokenFor(t, app, created)).access_token as string;
    const rotated = assertEnvelopeSuccess(t, await rotateSecret(app, admin.accessToken, created.app_id, { grace_hours: 1 }));
    t.equal(parseV3Datetime(rotated.grace_until), clock.now() + HOUR);
    const renewed = { ...created, client_secret: rotated.client_secret };
    assertEnvelopeSuccess(t, await issueToken(app, credentials(created)), 200, {});
    assertEnvelopeSuccess(t, await v3Get(app, oldToken, '/me'), 200, {});

    const immediate = await createApp(app, admin.accessToken);
    const zero = assertEnvelopeSuccess(t, await rotateSecret(app, admin.accessToken, immediate.app_id, { grace_hours: 0 }));
    assertEnvelopeError(t, await issueToken(app, credentials(immediate)), 401, 'V3_AUTH_SECRET_EXPIRED');
    assertEnvelopeSuccess(t, await issueToken(app, credentials({ ...immediate, client_secret: zero.client_secret })));

    const revoking = await createApp(app, admin.accessToken);
    const live = (await tokenFor(t, app, revoking)).access_token as string;
    assertEnvelopeSuccess(t, await rotateSecret(app, admin.accessToken, revoking.app_id, { revoke_existing_tokens: true }));
    assertEnvelopeError(t, await v3Get(app, live, '/me'), 401, 'V3_AUTH_TOKEN_REVOKED');

    clock.advance(HOUR + SECOND);
    assertEnvelopeError(t, await issueToken(app, credentials(created)), 401, 'V3_AUTH_SECRET_EXPIRED');
    assertEnvelopeSuccess(t, await issueToken(app, credentials(renewed)));
  });
});
