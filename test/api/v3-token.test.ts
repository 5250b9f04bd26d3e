/**
 * POST /api/v3/auth/token (client credentials): the success envelope and token shape in JSON and
 * form encoding, grant types, missing and wrong credentials (one indistinguishable failure),
 * organization selection, secret rotation and grace (on a manual clock), app status, input
 * validation, and the audit trail written off the request path.
 */
import { randomUUID } from 'node:crypto';
import t from 'tap';
import type { Test } from 'tap';
import { clientIdFor } from '../../src/lib/app-credentials.js';
import { createManualClock } from '../../src/lib/clock.js';
import {
  assertEnvelopeError,
  assertEnvelopeSuccess,
  auditRows,
  createApp,
  credentials,
  HOUR,
  issueToken,
  type Json,
  organizationIds,
  parseV3Datetime,
  reactivateApp,
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
const TOKEN_KEYS = ['access_token', 'app_code', 'expires_at', 'expires_in', 'organization_code', 'organization_id', 'token_type'];

/** A manual clock on a whole second (so the token's expiry, kept in whole seconds, is exact). */
const wholeSecondClock = () => createManualClock(Math.floor(Date.now() / SECOND) * SECOND);

function assertTokenData(t: Test, data: Json, expected: { appCode: string; orgId: string; orgCode: string; ttl: number; now: number }) {
  t.strictSame(Object.keys(data).sort(), TOKEN_KEYS, 'token data keys');
  t.match(data.access_token, /^v3at_[A-Za-z0-9_-]+$/, 'access_token has the v3at_ prefix');
  t.equal(data.token_type, 'Bearer');
  t.equal(data.expires_in, expected.ttl, `expires_in ${expected.ttl}`);
  t.match(data.expires_at, V3_DATETIME, 'expires_at is YYYY-MM-DD HH:MM:SS');
  const drift = Math.abs(parseV3Datetime(data.expires_at) - (expected.now + data.expires_in * SECOND));
  t.ok(drift <= 2 * SECOND, `expires_at is now + expires_in in UTC (drift ${drift} ms)`);
  t.equal(data.app_code, expected.appCode);
  t.equal(data.organization_id, expected.orgId);
  t.equal(data.organization_code, expected.orgCode);
}

t.test('issuing a token', async (t) => {
  const clock = wholeSecondClock();
  const { app, admin } = await setupV3(t, { clock });
  const orgs = await organizationIds(app, admin.accessToken);
  const created = await createApp(app, admin.accessToken, {}, t);
  const expected = { appCode: created.app_code, orgId: orgs.HQ!, orgCode: 'HQ', ttl: 3600, now: clock.now() };

  t.test('as JSON: the success envelope, the token, Cache-Control no-store', async (t) => {
    const res = await issueToken(app, credentials(created));
    const data = assertEnvelopeSuccess(t, res);
    assertTokenData(t, data, expected);
    t.match(String(res.headers['cache-control']), /no-store/, 'Cache-Control: no-store');
    t.equal((await v3Get(app, data.access_token, '/me')).statusCode, 200, 'the token works');
  });

  t.test('as application/x-www-form-urlencoded', async (t) => {
    const res = await issueToken(app, credentials(created, { grant_type: 'client_credentials' }), { form: true });
    const data = assertEnvelopeSuccess(t, res);
    assertTokenData(t, data, expected);
    t.match(String(res.headers['cache-control']), /no-store/);
    t.equal((await v3Get(app, data.access_token, '/me')).statusCode, 200, 'the token works');
  });

  t.test('meta.request_id echoes a well-formed x-request-id', async (t) => {
    const res = await issueToken(app, credentials(created), { headers: { 'x-request-id': 'req-v3-token.1' } });
    assertEnvelopeSuccess(t, res);
    t.equal(res.json().meta.request_id, 'req-v3-token.1');
  });

  t.test('every issuance is a new token', async (t) => {
    const first = await tokenFor(t, app, created);
    const second = await tokenFor(t, app, created);
    t.not(first.access_token, second.access_token);
  });

  t.test('grant_type: omitted or client_credentials is accepted; anything else is 400 V3_AUTH_UNSUPPORTED_GRANT_TYPE', async (t) => {
    for (const form of [false, true]) {
      assertEnvelopeSuccess(t, await issueToken(app, credentials(created), { form }));
      assertEnvelopeSuccess(t, await issueToken(app, credentials(created, { grant_type: 'client_credentials' }), { form }));
      for (const grant of ['password', 'authorization_code', 'refresh_token', 'CLIENT_CREDENTIALS']) {
        const res = await issueToken(app, credentials(created, { grant_type: grant }), { form });
        assertEnvelopeError(t, res, 400, 'V3_AUTH_UNSUPPORTED_GRANT_TYPE');
      }
    }
    // The grant type is judged before the credentials.
    assertEnvelopeError(t, await issueToken(app, { grant_type: 'password' }), 400, 'V3_AUTH_UNSUPPORTED_GRANT_TYPE');
  });
});

t.test('APP_TOKEN_TTL sets expires_in and expires_at', async (t) => {
  const clock = wholeSecondClock();
  const { app, admin } = await setupV3(t, { clock, env: { APP_TOKEN_TTL: '120' } });
  const orgs = await organizationIds(app, admin.accessToken);
  const created = await createApp(app, admin.accessToken);
  const data = await tokenFor(t, app, created);
  assertTokenData(t, data, { appCode: created.app_code, orgId: orgs.HQ!, orgCode: 'HQ', ttl: 120, now: clock.now() });
  t.equal(parseV3Datetime(data.expires_at), clock.now() + 120 * SECOND, 'exactly now + 120 s');
});

t.test('expires_at is now + expires_in on the system clock', async (t) => {
  const { app, admin } = await setupV3(t);
  const created = await createApp(app, admin.accessToken);
  const before = Date.now();
  const data = await tokenFor(t, app, created);
  t.match(data.expires_at, V3_DATETIME);
  const drift = Math.abs(parseV3Datetime(data.expires_at) - (before + data.expires_in * SECOND));
  t.ok(drift <= 2 * SECOND, `within 2 s (drift ${drift} ms)`);
  t.ok(data.expires_in >= 3599 && data.expires_in <= 3600, `expires_in about an hour (${data.expires_in})`);
});

t.test('regression: expires_in is APP_TOKEN_TTL whatever the millisecond of the request', async (t) => {
  // The token's expiry is kept in whole seconds (floored); expires_in is then rounded from the
  // remaining milliseconds, so a request in the second half of a second reports TTL - 1.
  const clock = createManualClock(Math.floor(Date.now() / SECOND) * SECOND + 700);
  const { app, admin } = await setupV3(t, { clock });
  const created = await createApp(app, admin.accessToken);
  const data = await tokenFor(t, app, created);
  // Regression: expires_in used to be 3599 when issued in the second half of a second.
  t.equal(data.expires_in, 3600, 'expires_in is 3600 at x.700 s');
  const drift = Math.abs(parseV3Datetime(data.expires_at) - (clock.now() + data.expires_in * SECOND));
  t.ok(drift <= 2 * SECOND, 'expires_at still within 2 s of now + expires_in');
});

t.test('missing credentials are 401 V3_AUTH_MISSING_CREDENTIAL, not a validation error', async (t) => {
  const { app, admin } = await setupV3(t);
  const created = await createApp(app, admin.accessToken);
  const cases: [string, Json][] = [
    ['empty body', {}],
    ['client_id only', { client_id: created.client_id }],
    ['client_secret only', { client_secret: created.client_secret }],
    ['grant_type only', { grant_type: 'client_credentials' }],
  ];
  for (const form of [false, true]) {
    for (const [label, body] of cases) {
      const res = await issueToken(app, body, { form });
      t.test(`${label} (${form ? 'form' : 'JSON'})`, async (t) => {
        assertEnvelopeError(t, res, 401, 'V3_AUTH_MISSING_CREDENTIAL');
      });
    }
  }
  const noBody = await app.inject({ method: 'POST', url: `${V3}/token` });
  t.test('no body at all (no content type)', async (t) => {
    assertEnvelopeError(t, noBody, 401, 'V3_AUTH_MISSING_CREDENTIAL');
  });
});

t.test('an unknown client and a wrong secret fail identically: 401 V3_AUTH_INVALID_CLIENT', async (t) => {
  const { app, admin } = await setupV3(t);
  const created = await createApp(app, admin.accessToken);
  const other = await createApp(app, admin.accessToken);
  const attempts: [string, Json][] = [
    ['well-formed client_id of no app', { client_id: clientIdFor(randomUUID()), client_secret: created.client_secret }],
    ['garbage client_id', { client_id: 'not-a-client-id', client_secret: created.client_secret }],
    ['cid_ prefix with garbage', { client_id: 'cid_!!!!', client_secret: created.client_secret }],
    ['wrong secret', { client_id: created.client_id, client_secret: `pcs_${randomUUID()}` }],
    ["another app's secret", { client_id: created.client_id, client_secret: other.client_secret }],
  ];
  const bodies: Json[] = [];
  for (const form of [false, true]) {
    for (const [label, body] of attempts) {
      const res = await issueToken(app, body, { form });
      t.test(`${label} (${form ? 'form' : 'JSON'})`, async (t) => {
        const envelope = assertEnvelopeError(t, res, 401, 'V3_AUTH_INVALID_CLIENT');
        t.notMatch(res.body, created.client_secret, 'the presented secret is not echoed');
        const { meta: _meta, ...rest } = envelope;
        bodies.push(rest);
      });
    }
  }
  t.test('identical bodies apart from meta', async (t) => {
    t.equal(bodies.length, attempts.length * 2);
    for (const body of bodies) t.strictSame(body, bodies[0]);
  });
  // The right credentials still work: nothing above locked the app.
  assertEnvelopeSuccess(t, await issueToken(app, credentials(created)));
});

t.test('organization selection', async (t) => {
  const { app, admin } = await setupV3(t);
  const orgs = await organizationIds(app, admin.accessToken);
  t.ok(orgs.HQ && orgs.ACME && orgs.GLOBEX, 'the seeded organizations exist');
  const withDefault = await createApp(app, admin.accessToken, { organizations: ['HQ', 'ACME'], default_organization_id: 'ACME' });
  const single = await createApp(app, admin.accessToken, { organizations: ['GLOBEX'] });
  const several = await createApp(app, admin.accessToken, { organizations: ['HQ', 'ACME'] });
  const selected = async (t: Test, created: typeof single, extra: Json, form = false) => {
    const data = assertEnvelopeSuccess(t, await issueToken(app, credentials(created, extra), { form }));
    return `${data.organization_code}:${data.organization_id}`;
  };

  t.test('organization_code of an assigned organization selects it', async (t) => {
    t.equal(await selected(t, withDefault, { organization_code: 'HQ' }), `HQ:${orgs.HQ}`);
    t.equal(await selected(t, withDefault, { organization_code: 'ACME' }), `ACME:${orgs.ACME}`);
    t.equal(await selected(t, several, { organization_code: 'ACME' }, true), `ACME:${orgs.ACME}`, 'form encoded too');
  });

  t.test('organization_id of an assigned organization selects it', async (t) => {
    t.equal(await selected(t, withDefault, { organization_id: orgs.HQ }), `HQ:${orgs.HQ}`);
    t.equal(await selected(t, several, { organization_id: orgs.ACME }), `ACME:${orgs.ACME}`);
    t.equal(await selected(t, several, { organization_id: orgs.HQ }, true), `HQ:${orgs.HQ}`, 'form encoded too');
  });

  t.test('an unassigned or unknown organization is 403 V3_AUTH_ORG_DENIED', async (t) => {
    const denied: [string, Json][] = [
      ['unassigned code', { organization_code: 'GLOBEX' }],
      ['unassigned id', { organization_id: orgs.GLOBEX }],
      ['unknown code', { organization_code: `NOPE-${randomUUID().slice(0, 8)}` }],
      ['unknown id', { organization_id: randomUUID() }],
      ['code of one org with the id of another', { organization_code: 'HQ', organization_id: orgs.ACME }],
    ];
    for (const [label, extra] of denied) {
      for (const created of [withDefault, several]) {
        const res = await issueToken(app, credentials(created, extra));
        t.test(label, async (t) => {
          assertEnvelopeError(t, res, 403, 'V3_AUTH_ORG_DENIED');
        });
      }
    }
    const onSingle = await issueToken(app, credentials(single, { organization_code: 'HQ' }));
    assertEnvelopeError(t, onSingle, 403, 'V3_AUTH_ORG_DENIED');
  });

  t.test('none given: the default organization', async (t) => {
    t.equal(await selected(t, withDefault, {}), `ACME:${orgs.ACME}`);
    t.equal(await selected(t, withDefault, {}, true), `ACME:${orgs.ACME}`);
  });

  t.test('none given and exactly one organization: that one', async (t) => {
    t.equal(await selected(t, single, {}), `GLOBEX:${orgs.GLOBEX}`);
  });

  t.test('none given, several organizations and no default: 400 V3_AUTH_ORG_REQUIRED', async (t) => {
    assertEnvelopeError(t, await issueToken(app, credentials(several)), 400, 'V3_AUTH_ORG_REQUIRED');
    assertEnvelopeError(t, await issueToken(app, credentials(several), { form: true }), 400, 'V3_AUTH_ORG_REQUIRED');
  });

  t.test('no organizations at all: 400 V3_AUTH_ORG_REQUIRED', async (t) => {
    const none = await createApp(app, admin.accessToken, { organizations: [] });
    assertEnvelopeError(t, await issueToken(app, credentials(none)), 400, 'V3_AUTH_ORG_REQUIRED');
  });
});

t.test('secret rotation', async (t) => {
  t.test('the previous secret keeps working during its grace period and expires after it', async (t) => {
    const clock = wholeSecondClock();
    const { app, admin } = await setupV3(t, { clock });
    const created = await createApp(app, admin.accessToken);
    const rotated = assertEnvelopeSuccess(t, await rotateSecret(app, admin.accessToken, created.app_id, { grace_hours: 2 }));
    t.match(rotated.client_secret, /^pcs_/);
    t.not(rotated.client_secret, created.client_secret);
    t.equal(rotated.secret_version, 2);
    t.match(rotated.grace_until, V3_DATETIME);
    t.equal(parseV3Datetime(rotated.grace_until), clock.now() + 2 * HOUR, 'grace_until is now + 2 h');
    const renewed = { ...created, client_secret: rotated.client_secret };

    assertEnvelopeSuccess(t, await issueToken(app, credentials(created)), 200);
    assertEnvelopeSuccess(t, await issueToken(app, credentials(renewed)), 200);

    clock.advance(2 * HOUR - SECOND);
    assertEnvelopeSuccess(t, await issueToken(app, credentials(created)), 200);

    clock.advance(2 * SECOND);
    assertEnvelopeError(t, await issueToken(app, credentials(created)), 401, 'V3_AUTH_SECRET_EXPIRED');
    assertEnvelopeError(t, await issueToken(app, credentials(created), { form: true }), 401, 'V3_AUTH_SECRET_EXPIRED');
    assertEnvelopeSuccess(t, await issueToken(app, credentials(renewed)), 200);
  });

  t.test('grace_hours 0: the previous secret is expired at once, the new one works', async (t) => {
    const { app, admin } = await setupV3(t);
    const created = await createApp(app, admin.accessToken);
    const rotated = assertEnvelopeSuccess(t, await rotateSecret(app, admin.accessToken, created.app_id, { grace_hours: 0 }));
    t.equal(rotated.grace_until, null);
    assertEnvelopeError(t, await issueToken(app, credentials(created)), 401, 'V3_AUTH_SECRET_EXPIRED');
    assertEnvelopeSuccess(t, await issueToken(app, credentials({ ...created, client_secret: rotated.client_secret })));
  });

  t.test('many rotations within the grace period: every previous secret still works until its grace_until', async (t) => {
    const { app, admin } = await setupV3(t);
    const created = await createApp(app, admin.accessToken);
    const secrets = [created.client_secret];
    for (let i = 0; i < 5; i++) {
      secrets.push(assertEnvelopeSuccess(t, await rotateSecret(app, admin.accessToken, created.app_id, { grace_hours: 24 })).client_secret);
    }
    for (const [index, secret] of secrets.entries()) {
      const res = await issueToken(app, credentials({ ...created, client_secret: secret }));
      // Regression: the snapshot used to keep only the newest 5 secrets, dropping v1 while in grace.
      t.equal(res.statusCode, 200, `secret v${index + 1} issues`);
    }
  });

  t.test('two rotations: both previous secrets in grace, the newest active', async (t) => {
    const { app, admin } = await setupV3(t);
    const created = await createApp(app, admin.accessToken);
    const second = assertEnvelopeSuccess(t, await rotateSecret(app, admin.accessToken, created.app_id, { grace_hours: 1 }));
    const third = assertEnvelopeSuccess(t, await rotateSecret(app, admin.accessToken, created.app_id, { grace_hours: 1 }));
    t.equal(third.secret_version, 3);
    for (const secret of [created.client_secret, second.client_secret, third.client_secret]) {
      assertEnvelopeSuccess(t, await issueToken(app, credentials({ ...created, client_secret: secret })));
    }
  });
});


t.test('app status', async (t) => {
  const { app, admin } = await setupV3(t);
  const wrong = (created: { client_id: string }) => ({ client_id: created.client_id, client_secret: `pcs_${randomUUID()}` });

  t.test('suspended: right secret 403 V3_AUTH_APP_SUSPENDED, wrong secret 401 V3_AUTH_INVALID_CLIENT; reactivated: issues again', async (t) => {
    const created = await createApp(app, admin.accessToken);
    assertEnvelopeSuccess(t, await suspendApp(app, admin.accessToken, created.app_id));
    assertEnvelopeError(t, await issueToken(app, credentials(created)), 403, 'V3_AUTH_APP_SUSPENDED');
    assertEnvelopeError(t, await issueToken(app, credentials(created), { form: true }), 403, 'V3_AUTH_APP_SUSPENDED');
    assertEnvelopeError(t, await issueToken(app, wrong(created)), 401, 'V3_AUTH_INVALID_CLIENT');
    assertEnvelopeSuccess(t, await reactivateApp(app, admin.accessToken, created.app_id));
    assertEnvelopeSuccess(t, await issueToken(app, credentials(created)));
  });

  t.test('revoked: right secret 403 V3_AUTH_APP_REVOKED, wrong secret 401 V3_AUTH_INVALID_CLIENT', async (t) => {
    const created = await createApp(app, admin.accessToken);
    assertEnvelopeSuccess(t, await revokeApp(app, admin.accessToken, created.app_id));
    const res = await issueToken(app, credentials(created));
    // Regression: a revoked app with its (revoked) secret used to get 401 V3_AUTH_SECRET_EXPIRED.
    assertEnvelopeError(t, res, 403, 'V3_AUTH_APP_REVOKED');
    t.not(res.statusCode, 200, 'never issues');
    assertEnvelopeError(t, await issueToken(app, wrong(created)), 401, 'V3_AUTH_INVALID_CLIENT');
    const reactivate = await reactivateApp(app, admin.accessToken, created.app_id);
    assertEnvelopeError(t, reactivate, 409, 'V3_AUTH_CONFLICT');
  });
});

t.test('input validation, content types and unknown routes, all in the envelope', async (t) => {
  const { app, admin } = await setupV3(t);
  const created = await createApp(app, admin.accessToken);

  t.test('unknown fields are 400 V3_AUTH_VALIDATION_ERROR naming the field', async (t) => {
    for (const form of [false, true]) {
      const res = await issueToken(app, credentials(created, { scope: 'admin' }), { form });
      const body = assertEnvelopeError(t, res, 400, 'V3_AUTH_VALIDATION_ERROR');
      t.match(body.error.details, [{ field: 'body/scope' }], 'details name the unknown field');
    }
  });

  t.test('wrong types and over-long values are 400 V3_AUTH_VALIDATION_ERROR', async (t) => {
    const bad: Json[] = [
      { client_id: 12345, client_secret: created.client_secret },
      { client_id: created.client_id, client_secret: ['a'] },
      { ...credentials(created), organization_code: { code: 'HQ' } },
      { ...credentials(created), client_secret: 'x'.repeat(257) },
      { ...credentials(created), grant_type: null },
    ];
    for (const body of bad) assertEnvelopeError(t, await issueToken(app, body), 400, 'V3_AUTH_VALIDATION_ERROR');
    const array = await app.inject({ method: 'POST', url: `${V3}/token`, headers: { 'content-type': 'application/json' }, payload: '[]' });
    assertEnvelopeError(t, array, 400, 'V3_AUTH_VALIDATION_ERROR');
  });

  t.test('malformed JSON is 400 V3_AUTH_VALIDATION_ERROR', async (t) => {
    for (const payload of ['{"client_id": ', '{client_id: 1}', 'nope']) {
      const res = await app.inject({ method: 'POST', url: `${V3}/token`, headers: { 'content-type': 'application/json' }, payload });
      assertEnvelopeError(t, res, 400, 'V3_AUTH_VALIDATION_ERROR');
    }
  });

  t.test('text/xml and text/plain are 415', async (t) => {
    for (const type of ['text/xml', 'application/xml', 'text/plain']) {
      const res = await app.inject({
        method: 'POST',
        url: `${V3}/token`,
        headers: { 'content-type': type },
        payload: `<token><client_id>${created.client_id}</client_id></token>`,
      });
      assertEnvelopeError(t, res, 415, 'V3_AUTH_UNSUPPORTED_MEDIA_TYPE');
    }
  });

  t.test('an over-large body is 413', async (t) => {
    const res = await issueToken(app, { ...credentials(created), padding: 'x'.repeat(20_000) });
    assertEnvelopeError(t, res, 413, 'V3_AUTH_PAYLOAD_TOO_LARGE');
  });

  t.test('router-level errors under /api/v3/auth (bad percent-encoding, over-long params) are in the envelope too', async (t) => {
    for (const url of [`${V3}/%E0%A4%A`, `${V3}/apps/%zz`, `${V3}/apps/${'a'.repeat(300)}`]) {
      const res = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${admin.accessToken}` } });
      t.equal(res.statusCode, 400, `${url.slice(0, 40)}: 400`);
      const body = res.json() as Json;
      t.strictSame(Object.keys(body).sort(), ['data', 'error', 'meta', 'status'], 'envelope keys');
      t.equal(body.status, 'error', 'status error');
      t.equal(body.error?.code, 'V3_AUTH_VALIDATION_ERROR', 'V3_AUTH_VALIDATION_ERROR');
    }
  });

  t.test('unknown routes under /api/v3/auth are 404 V3_AUTH_NOT_FOUND', async (t) => {
    assertEnvelopeError(t, await app.inject({ method: 'GET', url: `${V3}/x` }), 404, 'V3_AUTH_NOT_FOUND');
    assertEnvelopeError(t, await app.inject({ method: 'POST', url: `${V3}/tokens`, payload: {} }), 404, 'V3_AUTH_NOT_FOUND');
    assertEnvelopeError(t, await app.inject({ method: 'GET', url: `${V3}/token` }), 404, 'V3_AUTH_NOT_FOUND');
  });
});

t.test('audit trail: written off the request path, token.issued and token.denied', async (t) => {
  // A long flush interval: nothing reaches Postgres until the test flushes.
  const { app, admin, databaseUrl } = await setupV3(t, { env: { AUDIT_FLUSH_INTERVAL_MS: '60000' } });
  const orgs = await organizationIds(app, admin.accessToken);
  const created = await createApp(app, admin.accessToken);
  await app.audit.flush();

  t.test('a successful issuance is audited after the flush, not before', async (t) => {
    const res = await issueToken(app, credentials(created), { headers: { 'x-request-id': `audit-${created.app_id}` } });
    const data = assertEnvelopeSuccess(t, res);
    t.strictSame(await auditRows(databaseUrl, 'token.issued', created.app_id), [], 'no audit row yet: issuance did not write to Postgres');
    t.ok(app.audit.buffer.pending >= 1, 'the event waits in the buffer');
    await app.audit.flush();
    const rows = await auditRows(databaseUrl, 'token.issued', created.app_id);
    t.equal(rows.length, 1, 'one token.issued row after flush');
    const me = assertEnvelopeSuccess(t, await v3Get(app, data.access_token, '/me'));
    t.match(rows[0], {
      app_id: created.app_id,
      event_type: 'token.issued',
      actor: `app:${created.app_id}`,
      request_id: `audit-${created.app_id}`,
      details: { token_id: me.token_id, organization_id: orgs.HQ, secret_version: 1 },
    });
    t.notMatch(JSON.stringify(rows[0]), data.access_token, 'the token itself is not in the audit trail');
    t.notMatch(JSON.stringify(rows[0]), created.client_secret, 'nor the secret');
  });

  t.test('refusals are audited as token.denied with the reason', async (t) => {
    const suspended = await createApp(app, admin.accessToken);
    assertEnvelopeSuccess(t, await suspendApp(app, admin.accessToken, suspended.app_id));
    const unknownId = randomUUID();
    const several = await createApp(app, admin.accessToken, { organizations: ['HQ', 'ACME'] });
    await app.audit.flush();

    const wrongSecret = { client_id: created.client_id, client_secret: `pcs_${randomUUID()}` };
    assertEnvelopeError(t, await issueToken(app, wrongSecret), 401, 'V3_AUTH_INVALID_CLIENT');
    assertEnvelopeError(t, await issueToken(app, { client_id: 'garbage-client', client_secret: 'x' }), 401, 'V3_AUTH_INVALID_CLIENT');
    assertEnvelopeError(t, await issueToken(app, { client_id: clientIdFor(unknownId), client_secret: 'x' }), 401, 'V3_AUTH_INVALID_CLIENT');
    assertEnvelopeError(t, await issueToken(app, credentials(suspended)), 403, 'V3_AUTH_APP_SUSPENDED');
    assertEnvelopeError(t, await issueToken(app, credentials(created, { organization_code: 'GLOBEX' })), 403, 'V3_AUTH_ORG_DENIED');
    assertEnvelopeError(t, await issueToken(app, credentials(several)), 400, 'V3_AUTH_ORG_REQUIRED');
    t.strictSame(await auditRows(databaseUrl, 'token.denied'), [], 'nothing written before the flush');
    await app.audit.flush();

    const reasons = async (appId: string | null) => (await auditRows(databaseUrl, 'token.denied', appId)).map((row) => row.details.reason);
    t.strictSame(await reasons(created.app_id), ['V3_AUTH_INVALID_CLIENT', 'V3_AUTH_ORG_DENIED'], 'wrong secret, then org denied');
    t.strictSame(await reasons(null), ['V3_AUTH_INVALID_CLIENT'], 'a client_id that names no app has no app_id');
    t.strictSame(await reasons(unknownId), ['V3_AUTH_INVALID_CLIENT'], 'a well-formed client_id of no app');
    t.strictSame(await reasons(suspended.app_id), ['V3_AUTH_APP_SUSPENDED']);
    t.strictSame(await reasons(several.app_id), ['V3_AUTH_ORG_REQUIRED']);
    const [garbage] = await auditRows(databaseUrl, 'token.denied', null);
    t.equal(garbage?.actor, 'client:garbage-client', 'actor names the presented client_id');
    const [wrong] = await auditRows(databaseUrl, 'token.denied', created.app_id);
    t.notMatch(JSON.stringify(wrong), wrongSecret.client_secret, 'the presented secret is not audited');
  });

  t.test('a secret past its grace is denied as V3_AUTH_SECRET_EXPIRED', async (t) => {
    const rotating = await createApp(app, admin.accessToken);
    assertEnvelopeSuccess(t, await rotateSecret(app, admin.accessToken, rotating.app_id, { grace_hours: 0 }));
    assertEnvelopeError(t, await issueToken(app, credentials(rotating)), 401, 'V3_AUTH_SECRET_EXPIRED');
    await app.audit.flush();
    const rows = await auditRows(databaseUrl, 'token.denied', rotating.app_id);
    t.strictSame(rows.map((row) => row.details.reason), ['V3_AUTH_SECRET_EXPIRED']);
  });

});
