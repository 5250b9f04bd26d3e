/**
 * The access-token guard end to end, with GET /api/auth/me as the probe: every malformed, forged,
 * expired or out-of-date token is a 401 (or 403 for a disabled account) with a precise code and
 * an RFC 6750 challenge, never a 500; admin changes to a user bite on the very next request.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { createHmac, randomUUID } from 'node:crypto';
import t from 'tap';
import type { Test } from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { adminEnv, login, me, refresh, registerAdmin, registerUser } from '../helpers/factories.js';

type Json = Record<string, unknown>;

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact JWS signed with HMAC (`hash` sha256 for HS256, sha512 for HS512), whatever the header claims. */
function signJwt(header: Json, payload: Json, secret: string, hash = 'sha256'): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`;
}

function claimsOf(token: string): Json {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Json;
}

const HEADER = { alg: 'HS256', typ: 'at+jwt' };
const REALM = 'Bearer realm="portcullis"';
const nowSeconds = () => Math.floor(Date.now() / 1000);

function probe(app: FastifyInstance, authorization?: string) {
  return app.inject({ method: 'GET', url: '/api/auth/me', headers: authorization === undefined ? {} : { authorization } });
}

function assertRejected(t: Test, res: LightMyRequestResponse, status: number, code: string) {
  t.equal(res.statusCode, status, `status ${status}`);
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

t.test('forged, malformed and mis-claimed tokens', async (t) => {
  const { app } = await buildTestApp(t);
  const secret = app.config.JWT_SECRET;
  const user = await registerUser(app);
  const base = claimsOf(user.accessToken);
  const without = (claim: string) => Object.fromEntries(Object.entries(base).filter(([key]) => key !== claim));

  t.test('control: the same claims re-signed by this helper are accepted', async (t) => {
    const res = await probe(app, `Bearer ${signJwt(HEADER, base, secret)}`);
    t.equal(res.statusCode, 200, 'helper signs exactly like the service, so each case below fails for its one defect');
    t.equal(res.json().id, user.id);
  });

  const cases: [string, string][] = [
    ['not a JWT at all', 'abc'],
    ['three segments of garbage', 'abc.def.ghi'],
    ['header that is not JSON', `${Buffer.from('{nope').toString('base64url')}.${b64url(base)}.sig`],
    ['wrong signature (other secret)', signJwt(HEADER, base, `${secret}x`)],
    ['signature of a different payload', `${signJwt(HEADER, base, secret).split('.').slice(0, 2).join('.')}.${signJwt(HEADER, { ...base, role: 'ADMIN' }, secret).split('.')[2]}`],
    ['alg none, unsigned', `${b64url({ alg: 'none', typ: 'at+jwt' })}.${b64url(base)}.`],
    ['alg none with an HS256 signature attached', signJwt({ alg: 'none', typ: 'at+jwt' }, base, secret)],
    ['HS512 signed with the right secret (algorithm is pinned)', signJwt({ alg: 'HS512', typ: 'at+jwt' }, base, secret, 'sha512')],
    ['RS256 header over an HMAC signature (key confusion)', signJwt({ alg: 'RS256', typ: 'at+jwt' }, base, secret)],
    ['unknown critical header', signJwt({ ...HEADER, crit: ['x-portcullis-future'], 'x-portcullis-future': true }, base, secret)],
    ['typ JWT instead of at+jwt', signJwt({ alg: 'HS256', typ: 'JWT' }, base, secret)],
    ['no typ', signJwt({ alg: 'HS256' }, base, secret)],
    ['wrong issuer', signJwt(HEADER, { ...base, iss: 'https://evil.example' }, secret)],
    ['wrong audience', signJwt(HEADER, { ...base, aud: 'someone-else' }, secret)],
    ['missing sid', signJwt(HEADER, without('sid'), secret)],
    ['missing jti', signJwt(HEADER, without('jti'), secret)],
    ['missing role', signJwt(HEADER, without('role'), secret)],
    ['missing sub', signJwt(HEADER, without('sub'), secret)],
    ['missing exp', signJwt(HEADER, without('exp'), secret)],
    ['role ROOT', signJwt(HEADER, { ...base, role: 'ROOT' }, secret)],
    ['role in lower case', signJwt(HEADER, { ...base, role: 'consumer' }, secret)],
    ['sid that is not a string', signJwt(HEADER, { ...base, sid: 12345 }, secret)],
    ['not valid before the future', signJwt(HEADER, { ...base, nbf: nowSeconds() + 3600 }, secret)],
  ];
  for (const [label, token] of cases) {
    t.test(label, async (t) => {
      const res = await probe(app, `Bearer ${token}`);
      assertRejected(t, res, 401, 'TOKEN_INVALID');
      t.equal(res.json().error, 'Invalid or expired token');
      assertInvalidTokenChallenge(t, res);
    });
  }

  t.test('expired, otherwise correct: 401 TOKEN_EXPIRED', async (t) => {
    const now = nowSeconds();
    const res = await probe(app, `Bearer ${signJwt(HEADER, { ...base, iat: now - 1000, exp: now - 100 }, secret)}`);
    assertRejected(t, res, 401, 'TOKEN_EXPIRED');
    t.equal(res.json().error, 'Invalid or expired token');
    assertInvalidTokenChallenge(t, res);
  });

  t.test('correctly signed for a session that does not exist: 401 SESSION_EXPIRED', async (t) => {
    const res = await probe(app, `Bearer ${signJwt(HEADER, { ...base, sid: randomUUID() }, secret)}`);
    assertRejected(t, res, 401, 'SESSION_EXPIRED');
    assertInvalidTokenChallenge(t, res);
  });

  t.test("someone else's session id under my subject: 401 SESSION_EXPIRED", async (t) => {
    const other = await registerUser(app);
    const res = await probe(app, `Bearer ${signJwt(HEADER, { ...base, sid: claimsOf(other.accessToken).sid }, secret)}`);
    assertRejected(t, res, 401, 'SESSION_EXPIRED');
  });
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
