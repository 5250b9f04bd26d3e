/**
 * What an app token sees of itself (GET /me, /me/permissions, /me/organizations), revoking it
 * (POST /token/revoke), expiry on a manual clock, how every refused token is reported (401 with a
 * reason, never 500 or 403), user tokens on app routes, and how admin changes to an app reach its
 * live tokens on their next use.
 */
import type { FastifyInstance } from 'fastify';
import { randomBytes, randomUUID } from 'node:crypto';
import t from 'tap';
import type { Test } from 'tap';
import { createAppCredentialCodec } from '../../src/lib/app-credentials.js';
import { createManualClock } from '../../src/lib/clock.js';
import { registerUser } from '../helpers/factories.js';
import {
  assertEnvelopeError,
  assertEnvelopeSuccess,
  assertInvalidTokenChallenge,
  auditRows,
  bearer,
  createApp,
  type CreatedApp,
  credentials,
  issueToken,
  type Json,
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
const ME_ROUTES = ['/me', '/me/permissions', '/me/organizations'] as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const revokeToken = (app: FastifyInstance, token: string | undefined, payload?: Json, headers: Record<string, string> = {}) =>
  app.inject({
    method: 'POST',
    url: `${V3}/token/revoke`,
    headers: { ...(token ? bearer(token) : {}), ...headers },
    ...(payload !== undefined ? { payload } : {}),
  });

/** Every app route refuses the token with this status and code (and a challenge for 401s). */
async function assertRefusedEverywhere(t: Test, app: FastifyInstance, token: string, status: number, code: string) {
  for (const path of ME_ROUTES) {
    const res = await v3Get(app, token, path);
    assertEnvelopeError(t, res, status, code);
    if (status === 401) assertInvalidTokenChallenge(t, res, code);
  }
  const revoke = await revokeToken(app, token, {});
  assertEnvelopeError(t, revoke, status, code);
}

async function meOf(t: Test, app: FastifyInstance, token: string): Promise<Json> {
  return assertEnvelopeSuccess(t, await v3Get(app, token, '/me'));
}

t.test('introspection of a live app token', async (t) => {
  const { app, admin } = await setupV3(t);
  const orgs = await organizationIds(app, admin.accessToken);
  const created = await createApp(app, admin.accessToken, {
    app_name: 'Introspected',
    organizations: ['HQ', 'ACME'],
    default_organization_id: 'HQ',
    permissions: ['orders.orders.read', 'inventory.items.read'],
  });
  const issued = await tokenFor(t, app, created, { organization_code: 'ACME' });
  const organizations = [
    { organization_id: orgs.ACME, organization_code: 'ACME', is_default: false },
    { organization_id: orgs.HQ, organization_code: 'HQ', is_default: true },
  ];

  t.test('GET /me', async (t) => {
    const data = await meOf(t, app, issued.access_token);
    t.strictSame(Object.keys(data).sort(), [
      'app_code', 'app_id', 'app_name', 'organization_id', 'organizations', 'permissions', 'status', 'token_expires_at', 'token_id',
    ]);
    t.match(data, { app_id: created.app_id, app_code: created.app_code, app_name: 'Introspected', status: 'ACTIVE' });
    t.match(data.token_id, UUID, 'token_id is a uuid');
    t.match(data.token_expires_at, V3_DATETIME);
    t.equal(data.token_expires_at, issued.expires_at, 'the expiry the token was issued with');
    t.equal(data.organization_id, orgs.ACME, 'the organization the token acts for');
    t.strictSame(data.organizations, organizations);
    t.strictSame(data.permissions, ['inventory.items.read', 'orders.orders.read']);
    t.equal((await meOf(t, app, issued.access_token)).token_id, data.token_id, 'stable across calls');
  });

  t.test('GET /me/permissions', async (t) => {
    const data = assertEnvelopeSuccess(t, await v3Get(app, issued.access_token, '/me/permissions'));
    t.strictSame(data, {
      app_code: created.app_code,
      permissions: [
        { permission_code: 'inventory.items.read', module_code: 'inventory', resource_code: 'items', action_code: 'read' },
        { permission_code: 'orders.orders.read', module_code: 'orders', resource_code: 'orders', action_code: 'read' },
      ],
    });
  });

  t.test('GET /me/organizations', async (t) => {
    const data = assertEnvelopeSuccess(t, await v3Get(app, issued.access_token, '/me/organizations'));
    t.strictSame(data, { app_code: created.app_code, organizations });
  });

  t.test('a token of the default organization', async (t) => {
    const byDefault = await tokenFor(t, app, created);
    const data = await meOf(t, app, byDefault.access_token);
    t.equal(data.organization_id, orgs.HQ);
    t.not(data.token_id, (await meOf(t, app, issued.access_token)).token_id, 'each token has its own id');
  });

  t.test('an app without permissions sees an empty list', async (t) => {
    const bare = await createApp(app, admin.accessToken, { permissions: [] });
    const token = (await tokenFor(t, app, bare)).access_token;
    t.strictSame((await meOf(t, app, token)).permissions, []);
    t.strictSame(assertEnvelopeSuccess(t, await v3Get(app, token, '/me/permissions')).permissions, []);
  });
});

t.test('POST /token/revoke', async (t) => {
  const { app, admin, databaseUrl } = await setupV3(t);
  const created = await createApp(app, admin.accessToken);

  t.test('revokes the presented token: {revoked, token_id, updated}; then 401 V3_AUTH_TOKEN_REVOKED', async (t) => {
    const token = (await tokenFor(t, app, created)).access_token;
    const other = (await tokenFor(t, app, created)).access_token;
    const tokenId = (await meOf(t, app, token)).token_id;
    const res = await revokeToken(app, token, { reason: 'rotating out' });
    const data = assertEnvelopeSuccess(t, res);
    t.strictSame(Object.keys(data).sort(), ['revoked', 'token_id', 'updated']);
    t.equal(data.revoked, true);
    t.equal(data.token_id, tokenId);
    t.match(data.updated, V3_DATETIME);
    t.ok(Math.abs(parseV3Datetime(data.updated) - Date.now()) < 5 * SECOND, 'updated is now');

    await assertRefusedEverywhere(t, app, token, 401, 'V3_AUTH_TOKEN_REVOKED');
    t.equal((await v3Get(app, other, '/me')).statusCode, 200, "the app's other tokens still work");
    assertEnvelopeSuccess(t, await issueToken(app, credentials(created)), 200, {});

    await app.audit.flush();
    const rows = await auditRows(databaseUrl, 'token.revoked', created.app_id);
    t.equal(rows.length, 1, 'audited');
    t.match(rows[0], { actor: `app:${created.app_id}`, details: { token_id: tokenId, reason: 'rotating out' } });
  });

  t.test('the reason is optional', async (t) => {
    const token = (await tokenFor(t, app, created)).access_token;
    t.equal(assertEnvelopeSuccess(t, await revokeToken(app, token, {})).revoked, true, 'empty JSON object');
    assertEnvelopeError(t, await v3Get(app, token, '/me'), 401, 'V3_AUTH_TOKEN_REVOKED');

    const bodiless = (await tokenFor(t, app, created)).access_token;
    const res = await revokeToken(app, bodiless);
    t.equal(res.statusCode, 200, 'no body at all');
    t.not(res.statusCode, 500);
    t.equal(res.json().status, res.statusCode === 200 ? 'success' : 'error', 'in the envelope either way');
  });

  t.test('unknown fields are 400 V3_AUTH_VALIDATION_ERROR and revoke nothing', async (t) => {
    const token = (await tokenFor(t, app, created)).access_token;
    assertEnvelopeError(t, await revokeToken(app, token, { reason: 'x', all: true }), 400, 'V3_AUTH_VALIDATION_ERROR');
    assertEnvelopeError(t, await revokeToken(app, token, { reason: 7 }), 400, 'V3_AUTH_VALIDATION_ERROR');
    t.equal((await v3Get(app, token, '/me')).statusCode, 200, 'the token still works');
  });

  t.test('needs an app token', async (t) => {
    const missing = await revokeToken(app, undefined, {});
    assertEnvelopeError(t, missing, 401, 'V3_AUTH_MISSING_CREDENTIAL');
    assertEnvelopeError(t, await revokeToken(app, admin.accessToken, {}), 403, 'V3_AUTH_PERMISSION_DENIED');
  });
});

t.test('an expired token is 401 V3_AUTH_TOKEN_EXPIRED (manual clock)', async (t) => {
  const clock = createManualClock(Math.floor(Date.now() / SECOND) * SECOND);
  const { app, admin } = await setupV3(t, { clock });
  const created = await createApp(app, admin.accessToken);
  const issued = await tokenFor(t, app, created);
  const expiresAt = parseV3Datetime(issued.expires_at);

  clock.set(expiresAt - SECOND);
  t.equal((await v3Get(app, issued.access_token, '/me')).statusCode, 200, 'works until its last second');

  clock.set(expiresAt);
  await assertRefusedEverywhere(t, app, issued.access_token, 401, 'V3_AUTH_TOKEN_EXPIRED');

  clock.advance(24 * 3_600_000);
  assertEnvelopeError(t, await v3Get(app, issued.access_token, '/me'), 401, 'V3_AUTH_TOKEN_EXPIRED');
  t.equal(assertEnvelopeSuccess(t, await issueToken(app, credentials(created))).expires_in, 3600, 'a new token is issued on the new clock');
});

t.test('malformed, foreign and unknown tokens are 401 with a reason, never 500 or 403', async (t) => {
  const { app, admin } = await setupV3(t);
  const created = await createApp(app, admin.accessToken);
  const real = (await tokenFor(t, app, created)).access_token;
  const body = real.slice('v3at_'.length);
  const flip = (text: string, index: number) => `${text.slice(0, index)}${text[index] === 'A' ? 'B' : 'A'}${text.slice(index + 1)}`;
  const foreignCodec = createAppCredentialCodec(randomBytes(32));
  const ourCodec = createAppCredentialCodec(Buffer.from(app.config.APP_SECRET_PEPPER));
  const farFuture = Date.now() + 3_600_000;

  /** [label, Authorization, goes through the shared user guard (not v3at_-shaped)] */
  const invalid: [string, string, boolean?][] = [
    ['v3at_ garbage', 'Bearer v3at_garbage'],
    ['v3at_ prefix alone', 'Bearer v3at_'],
    ['v3at_ garbage of the right length', `Bearer v3at_${'A'.repeat(body.length)}`],
    ['a tampered real token (middle)', `Bearer v3at_${flip(body, 10)}`],
    ['a tampered real token (expiry bytes)', `Bearer v3at_${flip(body, 22)}`],
    ['a tampered real token (MAC)', `Bearer v3at_${flip(body, body.length - 5)}`],
    ['a real token with one more character', `Bearer ${real}A`],
    ['a real token missing its last character', `Bearer ${real.slice(0, -1)}`],
    ['a token minted with another server pepper', `Bearer ${foreignCodec.issueToken(created.app_id, farFuture).token}`],
    ['a JWT-looking garbage string', 'Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl', true],
    ['a JWT with alg none', 'Bearer eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJ4Iiwicm9sZSI6IkFETUlOIn0.', true],
    ['three dots', 'Bearer a.b.c', true],
    ['"Bearer" with nothing', 'Bearer'],
    ['"Bearer " with spaces', 'Bearer    '],
    ['another scheme', `Basic ${Buffer.from('a:b').toString('base64')}`],
    ['a token without a scheme', real],
    ['characters outside the token alphabet', 'Bearer v3at_<script>'],
  ];
  // Regression: tokens refused by the shared user guard used to keep its own code in the challenge.
  for (const [label, authorization] of invalid) {
    const res = await app.inject({ method: 'GET', url: `${V3}/me`, headers: { authorization } });
    t.test(label, async (t) => {
      assertEnvelopeError(t, res, 401, 'V3_AUTH_TOKEN_INVALID');
      assertInvalidTokenChallenge(t, res, 'V3_AUTH_TOKEN_INVALID');
    });
  }

  t.test('a token with our MAC that was never issued is 401 (reported as revoked: its record is absent)', async (t) => {
    for (const appId of [created.app_id, randomUUID()]) {
      const minted = ourCodec.issueToken(appId, farFuture).token;
      const res = await v3Get(app, minted, '/me');
      assertEnvelopeError(t, res, 401, 'V3_AUTH_TOKEN_REVOKED');
      assertInvalidTokenChallenge(t, res, 'V3_AUTH_TOKEN_REVOKED');
    }
    const past = ourCodec.issueToken(created.app_id, Date.now() - 60_000).token;
    assertEnvelopeError(t, await v3Get(app, past, '/me'), 401, 'V3_AUTH_TOKEN_EXPIRED');
  });

  t.test('the real token still works', async (t) => {
    assertEnvelopeSuccess(t, await v3Get(app, real, '/me'));
    assertEnvelopeSuccess(t, await v3Get(app, undefined, '/me', { authorization: `bearer ${real}` }), 200, {});
  });
});

t.test('no Authorization header is 401 V3_AUTH_MISSING_CREDENTIAL with a bare challenge', async (t) => {
  const { app } = await setupV3(t);
  for (const path of ME_ROUTES) {
    const res = await v3Get(app, undefined, path);
    assertEnvelopeError(t, res, 401, 'V3_AUTH_MISSING_CREDENTIAL');
    t.equal(res.headers['www-authenticate'], 'Bearer realm="portcullis"', `${path}: no error attribute (RFC 6750 3.1)`);
  }
  assertEnvelopeError(t, await revokeToken(app, undefined, {}), 401, 'V3_AUTH_MISSING_CREDENTIAL');
});

t.test('user access tokens on app routes', async (t) => {
  const { app, admin } = await setupV3(t);
  const consumer = await registerUser(app);
  t.equal(consumer.role, 'CONSUMER');

  t.test('a live CONSUMER or ADMIN user token is 403 V3_AUTH_PERMISSION_DENIED', async (t) => {
    for (const user of [consumer, admin]) {
      for (const path of ME_ROUTES) assertEnvelopeError(t, await v3Get(app, user.accessToken, path), 403, 'V3_AUTH_PERMISSION_DENIED');
      assertEnvelopeError(t, await revokeToken(app, user.accessToken, {}), 403, 'V3_AUTH_PERMISSION_DENIED');
    }
  });

  t.test('a logged-out user token is 401, not 403', async (t) => {
    const user = await registerUser(app);
    const logout = await app.inject({ method: 'POST', url: '/api/auth/logout', headers: bearer(user.accessToken) });
    t.equal(logout.statusCode, 200, 'logged out');
    const res = await v3Get(app, user.accessToken, '/me');
    t.equal(res.statusCode, 401);
    t.match(res.json(), { status: 'error', data: null, error: { code: /^V3_AUTH_TOKEN_(REVOKED|EXPIRED|INVALID)$/ } });
  });
});

t.test('live tokens follow changes to their app on the next use', async (t) => {
  const { app, admin, redis } = await setupV3(t);
  const orgs = await organizationIds(app, admin.accessToken);
  const fresh = (overrides = {}) => createApp(app, admin.accessToken, overrides);
  const tokenOf = async (t: Test, created: CreatedApp, extra = {}) => (await tokenFor(t, app, created, extra)).access_token as string;

  t.test('suspend: 403 V3_AUTH_APP_SUSPENDED; reactivate: 200 again', async (t) => {
    const created = await fresh();
    const token = await tokenOf(t, created);
    assertEnvelopeSuccess(t, await suspendApp(app, admin.accessToken, created.app_id));
    await assertRefusedEverywhere(t, app, token, 403, 'V3_AUTH_APP_SUSPENDED');
    assertEnvelopeSuccess(t, await reactivateApp(app, admin.accessToken, created.app_id));
    const me = await meOf(t, app, token);
    t.equal(me.status, 'ACTIVE');
    assertEnvelopeSuccess(t, await v3Get(app, token, '/me/permissions'));
  });

  t.test('revoke: the token is gone, so 401 V3_AUTH_TOKEN_REVOKED, for good', async (t) => {
    // app-access evaluate(): revoking the app deletes its token records, and a well-formed token whose
    // record is gone before its embedded expiry is reported as revoked (401), not APP_REVOKED.
    const created = await fresh();
    const token = await tokenOf(t, created);
    const suspendedFirst = await fresh();
    const token2 = await tokenOf(t, suspendedFirst);
    assertEnvelopeSuccess(t, await suspendApp(app, admin.accessToken, suspendedFirst.app_id));
    for (const target of [created, suspendedFirst]) assertEnvelopeSuccess(t, await revokeApp(app, admin.accessToken, target.app_id));
    for (const revokedToken of [token, token2]) {
      await assertRefusedEverywhere(t, app, revokedToken, 401, 'V3_AUTH_TOKEN_REVOKED');
    }
    assertEnvelopeError(t, await reactivateApp(app, admin.accessToken, created.app_id), 409, 'V3_AUTH_CONFLICT');
    assertEnvelopeError(t, await v3Get(app, token, '/me'), 401, 'V3_AUTH_TOKEN_REVOKED');
  });

  t.test('replacing permissions: /me shows the new set on the next request', async (t) => {
    const created = await fresh({ permissions: ['orders.orders.read'] });
    const token = await tokenOf(t, created);
    t.strictSame((await meOf(t, app, token)).permissions, ['orders.orders.read']);
    assertEnvelopeSuccess(t, await replacePermissions(app, admin.accessToken, created.app_id, ['billing.invoices.read', 'inventory.items.write']));
    t.strictSame((await meOf(t, app, token)).permissions, ['billing.invoices.read', 'inventory.items.write']);
    const details = assertEnvelopeSuccess(t, await v3Get(app, token, '/me/permissions'));
    t.strictSame(details.permissions.map((p: Json) => p.permission_code), ['billing.invoices.read', 'inventory.items.write']);
    assertEnvelopeSuccess(t, await replacePermissions(app, admin.accessToken, created.app_id, []));
    t.strictSame((await meOf(t, app, token)).permissions, [], 'down to none');
  });

  t.test("replacing organizations without the token's organization: 403 V3_AUTH_ORG_DENIED", async (t) => {
    const created = await fresh({ organizations: ['HQ', 'ACME'], default_organization_id: 'HQ' });
    const hqToken = await tokenOf(t, created, { organization_code: 'HQ' });
    const acmeToken = await tokenOf(t, created, { organization_code: 'ACME' });
    const replaced = assertEnvelopeSuccess(t, await replaceOrganizations(app, admin.accessToken, created.app_id, { organizations: ['ACME', 'GLOBEX'] }));
    t.equal(replaced.default_organization_id, null, 'the default went with HQ');
    await assertRefusedEverywhere(t, app, hqToken, 403, 'V3_AUTH_ORG_DENIED');
    const me = await meOf(t, app, acmeToken);
    t.equal(me.organization_id, orgs.ACME);
    t.strictSame(me.organizations.map((org: Json) => org.organization_code), ['ACME', 'GLOBEX'], 'the new organizations, at once');
    const orgList = assertEnvelopeSuccess(t, await v3Get(app, acmeToken, '/me/organizations'));
    t.strictSame(orgList.organizations.map((org: Json) => org.organization_code), ['ACME', 'GLOBEX']);
  });

  t.test('rotating with revoke_existing_tokens: old tokens 401 V3_AUTH_TOKEN_REVOKED', async (t) => {
    const created = await fresh();
    const tokens = [await tokenOf(t, created), await tokenOf(t, created)];
    const rotated = assertEnvelopeSuccess(t, await rotateSecret(app, admin.accessToken, created.app_id, { grace_hours: 1, revoke_existing_tokens: true }));
    for (const token of tokens) await assertRefusedEverywhere(t, app, token, 401, 'V3_AUTH_TOKEN_REVOKED');
    const renewed = await tokenOf(t, { ...created, client_secret: rotated.client_secret });
    t.equal((await v3Get(app, renewed, '/me')).statusCode, 200, 'new tokens work');
    const graceToken = await tokenOf(t, created);
    t.equal((await v3Get(app, graceToken, '/me')).statusCode, 200, 'the old secret still issues during its grace');
  });

  t.test('rotating without revoke_existing_tokens: old tokens keep working', async (t) => {
    const created = await fresh();
    const token = await tokenOf(t, created);
    assertEnvelopeSuccess(t, await rotateSecret(app, admin.accessToken, created.app_id, { grace_hours: 0 }));
    assertEnvelopeSuccess(t, await v3Get(app, token, '/me'));
  });

  t.test('a snapshot the store lost is rebuilt from Postgres', async (t) => {
    t.ok(redis, 'Redis-backed app');
    if (!redis) return;
    const created = await fresh({ permissions: ['billing.invoices.read'] });
    const token = await tokenOf(t, created);
    t.equal(await redis.del(app.keys.appSnapshot(created.app_id)), 1, 'snapshot deleted');
    t.strictSame((await meOf(t, app, token)).permissions, ['billing.invoices.read'], 'token still works');
    t.equal(await redis.exists(app.keys.appSnapshot(created.app_id)), 1, 'and the snapshot is back');
    await redis.del(app.keys.appSnapshot(created.app_id));
    assertEnvelopeSuccess(t, await issueToken(app, credentials(created)), 200, {});
  });
});
