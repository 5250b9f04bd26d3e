/**
 * Signing keys end to end through the app: the JWKS, rotation with its publish delay, retirement,
 * who may rotate, and the cache never skipping the session check (more in signing-keys-instances).
 */
import t from 'tap';
import { createManualClock } from '../../src/lib/clock.js';
import { CLOCK_SKEW_MS } from '../../src/lib/signing-key-schedule.js';
import { buildTestApp } from '../helpers/app.js';
import { adminEnv, login, me, registerAdmin, registerUser } from '../helpers/factories.js';
import { auth, jwksOf, KEYS, kidOf, verifiesWithJose } from './signing-keys-helpers.js';
import { withSql } from './v3-helpers.js';

t.test('the JWKS publishes the signing key with Cache-Control, and only its public part', async (t) => {
  const { app, config } = await buildTestApp(t);
  const user = await registerUser(app);
  const { response, keys } = await jwksOf(app);
  t.equal(response.statusCode, 200);
  t.equal(response.headers['cache-control'], `public, max-age=${config.JWKS_MAX_AGE}`);
  t.equal(keys.length, 1);
  t.equal(keys[0]!.kid, kidOf(user.accessToken), 'the token names the published key');
  t.match(keys[0], { kty: 'RSA', alg: 'RS256', use: 'sig', n: String, e: 'AQAB' });
  for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi']) t.notOk(member in keys[0]!, `no private member ${member}`);
  const { payload } = await verifiesWithJose(app, user.accessToken);
  t.equal(payload.sub, user.id, 'a standard JOSE library verifies our token from the JWKS alone');
});

t.test('rotation: published at once, signs after the publish delay, the old key verifies until its tokens expire, then retires', async (t) => {
  const clock = createManualClock();
  const { emails, env } = adminEnv();
  const { app, config } = await buildTestApp(t, { clock, env });
  const admin = await registerAdmin(app, emails[0]!);
  const oldKid = kidOf(admin.accessToken);

  const rotated = await app.inject({ method: 'POST', url: KEYS, headers: auth(admin.accessToken), payload: {} });
  t.equal(rotated.statusCode, 201);
  const created = rotated.json();
  t.match(created, { algorithm: 'RS256', status: 'pending', retires_at: null, created_by: `user:${admin.id}` });
  t.equal(Date.parse(created.activates_at), clock.now() + config.SIGNING_KEY_PUBLISH_DELAY * 1000, 'activates after the publish delay');
  t.not(created.kid, oldKid);
  t.strictSame((await jwksOf(app)).keys.map((key) => key.kid).sort(), [oldKid, created.kid].sort(), 'both keys published before the new one signs');

  const beforeActivation = await login(app, admin.email, admin.password);
  t.equal(kidOf(beforeActivation.json().accessToken), oldKid, 'the old key still signs during the publish delay');

  clock.advance(config.SIGNING_KEY_PUBLISH_DELAY * 1000);
  const fresh = (await login(app, admin.email, admin.password)).json().accessToken;
  t.equal(kidOf(fresh), created.kid, 'the new key signs once the delay has passed');
  t.equal((await me(app, fresh)).statusCode, 200);
  t.equal((await verifiesWithJose(app, fresh)).protectedHeader.kid, created.kid);
  const oldToken = beforeActivation.json().accessToken;
  t.equal((await me(app, oldToken)).statusCode, 200, 'tokens of the old key keep working');

  const listed = await app.inject({ method: 'GET', url: KEYS, headers: auth(fresh) });
  t.equal(listed.statusCode, 200);
  const old = listed.json().keys.find((key: { kid: string }) => key.kid === oldKid);
  t.equal(old.status, 'verifying');
  t.equal(Date.parse(old.retires_at), clock.now() + config.JWT_ACCESS_TTL * 1000 + CLOCK_SKEW_MS, 'retires when its last token has expired');
  t.notOk(JSON.stringify(listed.json()).includes('PRIVATE'), 'no key material in the listing');

  clock.advance(config.JWT_ACCESS_TTL * 1000 + CLOCK_SKEW_MS);
  t.strictSame((await jwksOf(app)).keys.map((key) => key.kid), [created.kid], 'the retired key leaves the JWKS');
  const refused = await me(app, oldToken);
  t.equal(refused.statusCode, 401);
  t.equal(refused.json().code, 'TOKEN_INVALID', 'a retired key verifies nothing (checked before expiry)');
  const latest = (await login(app, admin.email, admin.password)).json().accessToken;
  const relisted = (await app.inject({ method: 'GET', url: KEYS, headers: auth(latest) })).json().keys;
  t.equal(relisted.find((key: { kid: string }) => key.kid === oldKid).status, 'retired');

});

t.test('rotation is for admins only, validates its body and changes nothing when refused', async (t) => {
  const { emails, env } = adminEnv();
  const { app } = await buildTestApp(t, { env });
  const admin = await registerAdmin(app, emails[0]!);
  const partner = await registerUser(app, { role: 'PARTNER' });
  const count = async () => (await jwksOf(app)).keys.length;

  const anonymous = await app.inject({ method: 'POST', url: KEYS, payload: {} });
  t.equal(anonymous.statusCode, 401);
  t.equal(anonymous.json().code, 'TOKEN_MISSING');
  const forbidden = await app.inject({ method: 'POST', url: KEYS, headers: auth(partner.accessToken), payload: {} });
  t.equal(forbidden.statusCode, 403);
  t.equal(forbidden.json().code, 'ROLE_REQUIRED');
  t.equal((await app.inject({ method: 'GET', url: KEYS, headers: auth(partner.accessToken) })).statusCode, 403, 'listing too');
  for (const payload of [{ algorithm: 'HS256' }, { algorithm: 'none' }, { algorithm: 'RS256', extra: 1 }, { algorithm: 256 }]) {
    const bad = await app.inject({ method: 'POST', url: KEYS, headers: auth(admin.accessToken), payload });
    t.equal(bad.statusCode, 400, JSON.stringify(payload));
    t.equal(bad.json().code, 'VALIDATION_ERROR');
  }
  t.equal(await count(), 1, 'no key was added by a refused request');

  const es256 = await app.inject({ method: 'POST', url: KEYS, headers: auth(admin.accessToken), payload: { algorithm: 'ES256' } });
  t.equal(es256.statusCode, 201);
  t.equal(es256.json().algorithm, 'ES256', 'an operator may rotate to another algorithm');
  t.equal(await count(), 2);
  await app.audit.flush();
  const rows = await withSql(app.config.DATABASE_URL, (sql) => sql`select actor, details from audit_logs where event_type = 'signing_key.created'`);
  t.equal(rows.length, 1, 'the rotation is audited');
  t.match(rows[0], { actor: `user:${admin.id}`, details: { kid: es256.json().kid, algorithm: 'ES256' } });
});

t.test('private keys at rest are sealed', async (t) => {
  const { app } = await buildTestApp(t);
  const rows = await withSql(app.config.DATABASE_URL, (sql) => sql`select private_key_sealed, public_jwk from signing_keys`);
  t.ok(rows.length >= 1);
  for (const row of rows) {
    const sealed = String(row.private_key_sealed);
    t.notMatch(sealed, /PRIVATE KEY/, 'no PEM at rest');
    // Not "MII" anywhere: random base64url holds it by chance (CI hit one). DER would show as the
    // OID of the key's algorithm in the bytes, which ciphertext does not hold.
    const bytes = Buffer.from(sealed.replace(/^v\d+\./, ''), 'base64url');
    for (const [name, oid] of [['rsaEncryption', '06092a864886f70d010101'], ['id-ecPublicKey', '06072a8648ce3d0201'], ['Ed25519', '06032b6570']]) {
      t.notOk(bytes.includes(Buffer.from(oid, 'hex')), `no DER ${name} key at rest`);
    }
    t.notOk('d' in row.public_jwk);
  }
});

t.test('a cached verification never skips the session check', async (t) => {
  const { app } = await buildTestApp(t);
  const user = await registerUser(app);
  t.equal((await me(app, user.accessToken)).statusCode, 200, 'verified once, now in the cache');
  await app.inject({ method: 'POST', url: '/api/auth/logout', headers: auth(user.accessToken), cookies: { [app.config.REFRESH_COOKIE_NAME]: user.refreshToken } });
  const after = await me(app, user.accessToken);
  t.equal(after.statusCode, 401);
  t.equal(after.json().code, 'SESSION_REVOKED');
});

t.test('expiry follows the injected clock, for cached verifications too', async (t) => {
  const clock = createManualClock();
  const { app, config } = await buildTestApp(t, { clock });
  const user = await registerUser(app);
  t.equal((await me(app, user.accessToken)).statusCode, 200, 'verified and cached');
  clock.advance(config.JWT_ACCESS_TTL * 1000 - 1000);
  t.equal((await me(app, user.accessToken)).statusCode, 200, 'a second before exp');
  clock.advance(1000);
  const expired = await me(app, user.accessToken);
  t.equal(expired.statusCode, 401);
  t.equal(expired.json().code, 'TOKEN_EXPIRED', 'at exp, although the cache holds the token');
});

t.test('a reload keeps the loaded key objects, so the verified-token cache survives it', async (t) => {
  const { app } = await buildTestApp(t);
  const before = app.signingKeys.signingKeyAt(Date.now());
  await app.signingKeys.reload();
  t.equal(app.signingKeys.signingKeyAt(Date.now()), before, 'the same object after a reload');
});
