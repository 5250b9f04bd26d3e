/**
 * The access-token guard end to end, with GET /api/auth/me as the probe: every malformed, forged,
 * expired or out-of-date token is a 401 (or 403 for a disabled account) with a precise code and
 * an RFC 6750 challenge, never a 500; admin changes to a user bite on the very next request.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { randomBytes, randomUUID } from 'node:crypto';
import t from 'tap';
import type { Test } from 'tap';
import { createManualClock } from '../../src/lib/clock.js';
import { CLOCK_SKEW_MS } from '../../src/lib/signing-key-schedule.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/database.js';
import { adminEnv, login, me, refresh, registerAdmin, registerUser } from '../helpers/factories.js';
import {
  attackerKey,
  b64url,
  claimsOf,
  currentSigningKey,
  headerOf,
  type Json,
  refusalReason,
  serviceClaims,
  serviceHeader,
  signatureOf,
  signJws,
  signLikeTheService,
  unsignedJws,
} from '../helpers/jwt.js';
import { withSql } from './v3-helpers.js';

const REALM = 'Bearer realm="portcullis"';
const SIGNATURE_FAILURE = 'FAST_JWT_INVALID_SIGNATURE';
const nowSeconds = () => Math.floor(Date.now() / 1000);
const ALGORITHMS = ['RS256', 'ES256', 'EdDSA', 'HS256'] as const;
type Algorithm = (typeof ALGORITHMS)[number];

/** An app whose only signing key is of `algorithm` (the template database holds an RS256 key). */
async function appSigningWith(t: Test, algorithm: Algorithm): Promise<TestApp> {
  if (algorithm === 'RS256') return buildTestApp(t);
  if (algorithm === 'HS256') return buildTestApp(t, { env: { JWT_ALGORITHM: 'HS256' } });
  const database = await createTestDatabase();
  await withSql(database.url, (sql) => sql`delete from signing_keys`);
  const built = await buildTestApp(t, { env: { DATABASE_URL: database.url, JWT_ALGORITHM: algorithm } });
  t.teardown(() => database.drop());
  return built;
}

function probe(app: FastifyInstance, authorization?: string) {
  return app.inject({ method: 'GET', url: '/api/auth/me', headers: authorization === undefined ? {} : { authorization } });
}

function assertRejected(t: Test, res: LightMyRequestResponse, status: number, code: string) {
  t.equal(res.statusCode, status, `status ${status} (got ${res.statusCode})`);
  t.equal(res.json().code, code, `code ${code}`);
}

function assertInvalidTokenChallenge(t: Test, res: LightMyRequestResponse) {
  const challenge = String(res.headers['www-authenticate'] ?? '');
  t.ok(challenge.startsWith(REALM), 'challenge names the realm');
  t.match(challenge, /error="invalid_token"/, 'challenge carries error="invalid_token"');
}

t.test('no Authorization header: 401 TOKEN_MISSING with a bare challenge', async (t) => {
  const { app } = await buildTestApp(t);
  const res = await probe(app);
  assertRejected(t, res, 401, 'TOKEN_MISSING');
  t.equal(res.json().error, 'Access token required');
  t.equal(res.headers['www-authenticate'], REALM);
  t.notMatch(String(res.headers['www-authenticate']), /error=/, 'RFC 6750 3.1: no error attribute without credentials');
});

t.test('Authorization values that are not a single bearer token: 401 TOKEN_INVALID', async (t) => {
  const { app } = await buildTestApp(t);
  for (const value of ['Basic abc', 'Bearer', 'Bearer ', 'Bearer a b', 'Token abc.def.ghi', 'Bearer a\tb']) {
    const res = await probe(app, value);
    t.equal(res.statusCode, 401, `${JSON.stringify(value)} -> 401`);
    t.equal(res.json().code, 'TOKEN_INVALID', `${JSON.stringify(value)} -> TOKEN_INVALID`);
    assertInvalidTokenChallenge(t, res);
  }
});

/** The same algorithm family, a stronger hash (or RFC 9864's fully specified name): pinned away. */
const SIBLING: Record<Algorithm, string> = { RS256: 'RS512', ES256: 'ES384', EdDSA: 'Ed25519', HS256: 'HS512' };
/** An asymmetric algorithm other than the key's. */
const OTHER: Record<Algorithm, string> = { RS256: 'ES256', ES256: 'RS256', EdDSA: 'ES256', HS256: 'ES256' };

for (const algorithm of ALGORITHMS) {
  t.test(`forged, malformed and mis-claimed tokens (${algorithm} key)`, async (t) => {
    const { app } = await appSigningWith(t, algorithm);
    const key = currentSigningKey(app);
    t.equal(key.algorithm, algorithm, `the app signs with ${algorithm}`);
    const user = await registerUser(app);
    t.equal(headerOf(user.accessToken).kid, key.kid, "the service's token names the key");
    const base = claimsOf(user.accessToken);
    const without = (claim: string) => Object.fromEntries(Object.entries(base).filter(([name]) => name !== claim));
    const forge = (claims: Json = base, header: Json = {}) => signLikeTheService(app, claims, header, key);
    /** The real kid and header, signed by `material` under `alg` (default: the header's alg). */
    const signedBy = (material: Parameters<typeof signJws>[2], header: Json = {}, alg?: string) => signJws(serviceHeader(key, header), base, material, alg);
    const asymmetric = algorithm !== 'HS256';
    const foreign = attackerKey(OTHER[algorithm]);
    // The attacker's key of the ring's own algorithm (a key pair, or a secret for HS256), and
    // its public JWK (an oct JWK holding the secret for HS256).
    const secret = randomBytes(32);
    const own = asymmetric ? attackerKey(algorithm) : null;
    const injected = own ? { material: own.privateKey, jwk: own.publicJwk } : { material: secret, jwk: { kty: 'oct', k: secret.toString('base64url'), alg: 'HS256' } };

    t.test('control: the same claims re-signed by this helper are accepted', async (t) => {
      const [signingInput] = user.accessToken.split(/\.(?=[^.]*$)/);
      t.equal(forge().startsWith(`${signingInput}.`), true, "header and payload are the service's own, byte for byte");
      // ECDSA signatures are randomised; the others are deterministic, so the whole token matches.
      if (algorithm !== 'ES256') t.equal(forge(), user.accessToken, "the whole token is the service's own");
      const res = await probe(app, `Bearer ${forge()}`);
      t.equal(res.statusCode, 200, 'helper signs exactly like the service, so each case below fails for its one defect');
      t.equal(res.json().id, user.id);
      const fresh = await probe(app, `Bearer ${forge(serviceClaims(app, { sub: user.id, sid: String(base.sid), role: String(base.role) }))}`);
      t.equal(fresh.statusCode, 200, 'and so are fresh claims from serviceClaims');
    });

    t.test("a verified (cached) token's signature under another payload: TOKEN_INVALID", async (t) => {
      t.equal((await probe(app, `Bearer ${user.accessToken}`)).statusCode, 200, 'the real token is verified, and so remembered');
      const [header, , signature] = user.accessToken.split('.');
      const borrowed = `${header}.${b64url({ ...base, role: 'ADMIN' })}.${signature}`;
      t.equal(borrowed.slice(-32), user.accessToken.slice(-32), "it ends like the cached token, so a key made of the token's end finds that entry");
      t.equal(refusalReason(app, borrowed), SIGNATURE_FAILURE, 'the signature is checked, not taken from the cache');
      assertRejected(t, await probe(app, `Bearer ${borrowed}`), 401, 'TOKEN_INVALID');
      t.equal((await probe(app, `Bearer ${user.accessToken}`)).statusCode, 200, 'and the real token still passes');
    });

    const input = forge().split('.').slice(0, 2).join('.');
    // The reason is the check that must refuse the case (see refusalReason): proof that each case
    // fails for its own defect. SERVICE: refused around fast-jwt (kid lookup, own claim checks).
    const SERVICE = 'service';
    const SIGNATURE = 'FAST_JWT_INVALID_SIGNATURE';
    const ALG = 'FAST_JWT_INVALID_ALGORITHM';
    // exp is type-checked by fast-jwt, or by the service where it checks exp against its own clock.
    const EXP_TYPE = /^(FAST_JWT_INVALID_CLAIM_TYPE|service)$/;
    const cases: [string, string, string | RegExp][] = [
      ['not a JWT at all', 'abc', SERVICE],
      ['three segments of garbage', 'abc.def.ghi', SERVICE],
      ['header that is not JSON', `${Buffer.from('{nope').toString('base64url')}.${b64url(base)}.sig`, SERVICE],
      ['wrong signature (another key of the same algorithm, under the real kid)', signedBy(injected.material), SIGNATURE],
      ['signature of a different payload', `${input}.${forge({ ...base, role: 'ADMIN' }).split('.')[2]}`, SIGNATURE],
      ['alg none, unsigned', unsignedJws(serviceHeader(key, { alg: 'none' }), base), 'FAST_JWT_MISSING_SIGNATURE'],
      ['alg "None", unsigned', unsignedJws(serviceHeader(key, { alg: 'None' }), base), 'FAST_JWT_MISSING_SIGNATURE'],
      ['alg none with a real signature attached', forge(base, { alg: 'none' }), ALG],
      [`${SIBLING[algorithm]} signed with the right key (algorithm is pinned)`, signedBy(key.signingKey, { alg: SIBLING[algorithm] }), ALG],
      [`${OTHER[algorithm]} signed by an attacker key under the real kid`, signedBy(foreign.privateKey, { alg: OTHER[algorithm] }), ALG],
      ['unknown critical header', forge(base, { crit: ['x-portcullis-future'], 'x-portcullis-future': true }), 'FAST_JWT_INVALID_CRIT_HEADER'],
      ['typ JWT instead of at+jwt', forge(base, { typ: 'JWT' }), 'FAST_JWT_INVALID_TYPE'],
      ['no typ', forge(base, { typ: undefined }), 'FAST_JWT_INVALID_TYPE'],
      ['no kid', forge(base, { kid: undefined }), SERVICE],
      ['a kid no key of the ring has', forge(base, { kid: `${key.kid}x` }), SERVICE],
      ['kid that is not a string', forge(base, { kid: 12345 }), SERVICE],
      ['kid as an array holding the real kid', forge(base, { kid: [key.kid] }), SERVICE],
      ['kid "__proto__"', forge(base, { kid: '__proto__' }), SERVICE],
      // An attacker embedding or pointing at its own key: the header must not choose the key.
      ["jwk header embedding the attacker's key, signed with it", signedBy(injected.material, { jwk: injected.jwk }), SIGNATURE],
      ["jwk header embedding the attacker's key, no kid", signedBy(injected.material, { jwk: injected.jwk, kid: undefined }), SERVICE],
      ['jku to an attacker JWKS, signed with the attacker key', signedBy(injected.material, { jku: 'https://evil.example/jwks.json' }), SIGNATURE],
      ['x5u to an attacker certificate, signed with the attacker key', signedBy(injected.material, { x5u: 'https://evil.example/cert.pem' }), SIGNATURE],
      ["x5c carrying the attacker's key, signed with it", signedBy(injected.material, { x5c: [foreign.publicPem.replace(/-----[^-]+-----|\s/g, '')] }), SIGNATURE],
      // Only the service signs, and its headers are small: a big one is not read at all.
      ["8 KiB header, otherwise exactly the service's token", forge(base, { pad: 'x'.repeat(8 * 1024) }), SERVICE],
      ['64 KiB header', forge(base, { pad: 'x'.repeat(64 * 1024) }), SERVICE],
      ['wrong issuer', forge({ ...base, iss: 'https://evil.example' }), 'FAST_JWT_INVALID_CLAIM_VALUE'],
      ['wrong audience', forge({ ...base, aud: 'someone-else' }), 'FAST_JWT_INVALID_CLAIM_VALUE'],
      ['audience as an array without ours', forge({ ...base, aud: ['someone-else'] }), 'FAST_JWT_INVALID_CLAIM_VALUE'],
      ...['sid', 'jti', 'role', 'sub', 'exp', 'iat', 'iss', 'aud'].map((claim): [string, string, string | RegExp] => [`missing ${claim}`, forge(without(claim)), 'FAST_JWT_MISSING_REQUIRED_CLAIM']),
      ['exp as a string', forge({ ...base, exp: String(Number(base.exp)) }), EXP_TYPE],
      ['iat an hour in the future', forge({ ...base, iat: nowSeconds() + 3600, exp: nowSeconds() + 4500 }), SERVICE],
      ['role ROOT', forge({ ...base, role: 'ROOT' }), SERVICE],
      ['role in lower case', forge({ ...base, role: 'consumer' }), SERVICE],
      ['sid that is not a string', forge({ ...base, sid: 12345 }), SERVICE],
      ['not valid before the future', forge({ ...base, nbf: nowSeconds() + 3600 }), 'FAST_JWT_INACTIVE'],
    ];
    if (asymmetric) {
      // Key confusion (CVE-2015-9235 and kin): HMAC keyed with what the JWKS publishes.
      cases.push(['HS256 keyed with the published public key PEM (key confusion)', signedBy(key.verificationKey, { alg: 'HS256' }), ALG]);
      cases.push(['HS256 keyed with the published JWK (key confusion)', signedBy(JSON.stringify(app.signingKeys.jwks(app.clock.now()).keys[0]), { alg: 'HS256' }), ALG]);
      cases.push(['HS256 with an empty key', signedBy('', { alg: 'HS256' }), ALG]);
    } else {
      cases.push(['RS256 header over an HMAC signature (key confusion)', forge(base, { alg: 'RS256' }), ALG]);
      cases.push(['HS256 with an empty secret', signedBy(''), SIGNATURE]);
    }
    if (algorithm === 'ES256') {
      cases.push(['the right ECDSA signature, DER-encoded instead of r || s', `${input}.${signatureOf('ES256', input, key.signingKey, { dsaEncoding: 'der' }).toString('base64url')}`, 'FAST_JWT_VERIFY_ERROR']);
      cases.push(['an all-zero ECDSA signature (r = s = 0, CVE-2022-21449)', `${input}.${Buffer.alloc(64).toString('base64url')}`, SIGNATURE]);
    }
    if (algorithm === 'RS256') cases.push(['PS256 signed with the right key (padding confusion)', signedBy(key.signingKey, { alg: 'PS256' }), ALG]);

    for (const [label, token, reason] of cases) {
      t.test(label, async (t) => {
        t.match(refusalReason(app, token), typeof reason === 'string' ? new RegExp(`^${reason}$`) : reason, `refused by its own defect: ${reason}`);
        const res = await probe(app, `Bearer ${token}`);
        t.ok(res.statusCode < 500, `no 5xx (got ${res.statusCode})`);
        assertRejected(t, res, 401, 'TOKEN_INVALID');
        t.equal(res.json().error, 'Invalid or expired token');
        assertInvalidTokenChallenge(t, res);
      });
    }

    t.test('expired, otherwise correct: 401 TOKEN_EXPIRED', async (t) => {
      const now = nowSeconds();
      const token = forge({ ...base, iat: now - 1000, exp: now - 100 });
      t.equal(refusalReason(app, token), 'expired', 'refused for its expiry alone');
      const res = await probe(app, `Bearer ${token}`);
      assertRejected(t, res, 401, 'TOKEN_EXPIRED');
      t.equal(res.json().error, 'Invalid or expired token');
      assertInvalidTokenChallenge(t, res);
    });

    t.test('correctly signed for a session that does not exist: 401 SESSION_EXPIRED', async (t) => {
      const token = forge({ ...base, sid: randomUUID() });
      t.equal(refusalReason(app, token), 'accepted', 'the token itself verifies: the session is what is missing');
      const res = await probe(app, `Bearer ${token}`);
      assertRejected(t, res, 401, 'SESSION_EXPIRED');
      assertInvalidTokenChallenge(t, res);
    });

    t.test("someone else's session id under my subject: 401 SESSION_EXPIRED", async (t) => {
      const other = await registerUser(app);
      const res = await probe(app, `Bearer ${forge({ ...base, sid: claimsOf(other.accessToken).sid })}`);
      assertRejected(t, res, 401, 'SESSION_EXPIRED');
    });

    t.equal((await probe(app, `Bearer ${user.accessToken}`)).statusCode, 200, "the user's own token still works after all of it");
  });
}

t.test('a token under the kid of a retired key: 401 TOKEN_INVALID, even with fresh claims', async (t) => {
  const clock = createManualClock();
  const { emails, env } = adminEnv(1);
  const { app, config } = await buildTestApp(t, { clock, env });
  const admin = await registerAdmin(app, emails[0]!);
  const user = await registerUser(app);
  const subject = { sub: user.id, sid: String(claimsOf(user.accessToken).sid), role: user.role };
  const oldKey = currentSigningKey(app);

  const rotated = await app.inject({ method: 'POST', url: '/api/admin/signing-keys', headers: { authorization: `Bearer ${admin.accessToken}` }, payload: {} });
  t.equal(rotated.statusCode, 201, 'a new key is added');
  const newKid = rotated.json().kid as string;

  clock.advance(config.SIGNING_KEY_PUBLISH_DELAY * 1000);
  t.equal(currentSigningKey(app).kid, newKid, 'the new key signs once the publish delay has passed');
  t.equal((await me(app, user.accessToken)).statusCode, 200, 'control: a token of the old key verifies while the key is verifying');

  clock.advance(config.JWT_ACCESS_TTL * 1000 + CLOCK_SKEW_MS + 1000);
  t.notOk(app.signingKeys.find(oldKey.kid, clock.now()), 'the old key has retired');
  const control = await me(app, signLikeTheService(app, serviceClaims(app, subject)));
  t.equal(control.statusCode, 200, 'control: fresh claims signed with the current key are accepted');

  const underOldKid = signLikeTheService(app, serviceClaims(app, subject), {}, oldKey);
  t.equal(refusalReason(app, underOldKid), 'service', 'refused at the kid lookup, before any signature check');
  const refused = await me(app, underOldKid);
  assertRejected(t, refused, 401, 'TOKEN_INVALID');
  assertInvalidTokenChallenge(t, refused);
  assertRejected(t, await me(app, user.accessToken), 401, 'TOKEN_INVALID');
});

function patchUser(app: FastifyInstance, adminToken: string, id: string, payload: Json) {
  return app.inject({ method: 'PATCH', url: `/api/admin/users/${id}`, headers: { authorization: `Bearer ${adminToken}` }, payload });
}

t.test('admin changes take effect on the next request', async (t) => {
  const { emails, env } = adminEnv(1);
  const { app } = await buildTestApp(t, { env });
  const admin = await registerAdmin(app, emails[0]!);

  t.test('a role change makes the old token stale; a refreshed one carries the new role', async (t) => {
    const user = await registerUser(app, { role: 'CONSUMER' });
    t.equal((await me(app, user.accessToken)).statusCode, 200);
    t.equal((await patchUser(app, admin.accessToken, user.id, { role: 'PARTNER' })).statusCode, 200);

    const stale = await me(app, user.accessToken);
    assertRejected(t, stale, 401, 'TOKEN_STALE');
    assertInvalidTokenChallenge(t, stale);

    const refreshed = await refresh(app, user.refreshToken);
    t.equal(refreshed.statusCode, 200);
    const fresh = await me(app, refreshed.json().accessToken);
    t.equal(fresh.statusCode, 200);
    t.equal(fresh.json().role, 'PARTNER');
  });

  t.test('disabling locks the user out at once; re-enabling revives no old session', async (t) => {
    const user = await registerUser(app);
    t.equal((await patchUser(app, admin.accessToken, user.id, { disabled: true })).statusCode, 200);

    const next = await me(app, user.accessToken);
    assertRejected(t, next, 403, 'ACCOUNT_DISABLED');
    t.equal(next.json().error, 'This account is disabled');
    assertRejected(t, await refresh(app, user.refreshToken), 403, 'ACCOUNT_DISABLED');
    assertRejected(t, await login(app, user.email, user.password), 403, 'ACCOUNT_DISABLED');

    t.equal((await patchUser(app, admin.accessToken, user.id, { disabled: false })).statusCode, 200);
    // Regression: old sessions used to keep answering ACCOUNT_DISABLED after re-enabling.
    assertRejected(t, await me(app, user.accessToken), 401, 'SESSION_REVOKED');
    const oldRefresh = await refresh(app, user.refreshToken);
    t.equal(oldRefresh.statusCode, 401, 'the old refresh token stays dead');
    t.equal(oldRefresh.json().code, 'SESSION_REVOKED');

    const again = await login(app, user.email, user.password);
    t.equal(again.statusCode, 200, 'login works again');
    t.equal((await me(app, again.json().accessToken)).statusCode, 200);
  });
});
