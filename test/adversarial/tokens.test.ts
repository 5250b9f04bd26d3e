/**
 * Adversarial user credentials: forged and tampered access tokens (JWT) on GET /api/auth/me, and
 * tampered refresh cookies on /api/auth/refresh. Every row: exact status and code, no 5xx, nothing
 * changed in Postgres or Redis (see ./state.ts); after every refresh row the victim's real
 * session still refreshes.
 */
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { randomBytes, randomUUID } from 'node:crypto';
import t from 'tap';
import type { Test } from 'tap';
import { createManualClock } from '../../src/lib/clock.js';
import { CLOCK_SKEW_MS } from '../../src/lib/signing-key-schedule.js';
import { buildTestApp } from '../helpers/app.js';
import { adminEnv, refresh, refreshCookieOf, registerAdmin, registerUser } from '../helpers/factories.js';
import { attackerKey, claimsOf, currentSigningKey, refusalReason, serviceClaims, serviceHeader, signJws, signLikeTheService, unsignedJws } from '../helpers/jwt.js';
import { bearer, type Case, flipChar, runCases, stateContext } from './state.js';

type Claims = Record<string, unknown>;

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const decode = claimsOf;

const FAKE_PUBLIC_KEY = [
  '-----BEGIN PUBLIC KEY-----',
  'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEf83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEXH8UTNG72bfocs3+257rn0s2ldbqkLJK2KRiumfGn/tg==',
  '-----END PUBLIC KEY-----',
].join('\n');

const me = (token: string): InjectOptions => ({ method: 'GET', url: '/api/auth/me', headers: bearer(token) });
const refreshWith = (cookie: string | undefined, headers: Record<string, string> = {}, url = '/api/auth/refresh'): InjectOptions => ({
  method: 'POST',
  url,
  headers: { ...(cookie === undefined ? {} : { cookie }), ...headers },
});

/** Same bytes, different text: the last character's two unused bits flipped. */
function nonCanonical(token: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(token.at(-1)!);
  return token.slice(0, -1) + alphabet[last ^ 1];
}

/*
 * Each token row names the check that must refuse it (test/helpers/jwt.ts refusalReason): a
 * fast-jwt code, SERVICE (refused around fast-jwt: kid lookup or a claim the service checks
 * itself) or ACCEPTED (a well-signed token the session check refuses). With the control row, that
 * shows every row fails for its own defect.
 */
const SERVICE = 'service';
const ACCEPTED = 'accepted';
const SIGNATURE = 'FAST_JWT_INVALID_SIGNATURE';
const ALG = 'FAST_JWT_INVALID_ALGORITHM';
/** exp is type-checked by fast-jwt, or by the service where it checks exp against its own clock. */
const EXP_TYPE = /^(FAST_JWT_INVALID_CLAIM_TYPE|service)$/;

t.test('forged and tampered access tokens on GET /api/auth/me', async (t) => {
  const built = await buildTestApp(t);
  const { app } = built;
  const ctx = stateContext(t, built);
  const victim = await registerUser(app);
  const other = await registerUser(app);
  const claims = decode(victim.accessToken);
  const now = Math.floor(Date.now() / 1000);
  const key = currentSigningKey(app);
  t.equal(key.algorithm, 'RS256', 'the default ring signs with RS256 (the confusion rows below assume an RSA key)');
  const header = (patch: Claims = {}) => serviceHeader(key, patch);
  /** The victim's claims with a new jti and `patch`, signed like the service, header patched. */
  const forge = (patch: Claims = {}, headerPatch: Claims = {}) => signLikeTheService(app, { ...claims, jti: randomUUID(), ...patch }, headerPatch, key);
  const without = (name: string) => {
    const { [name]: _dropped, ...rest } = claims;
    return signLikeTheService(app, rest, {}, key);
  };
  /** The service's header (real kid) patched, over the victim's claims, signed by `material` under the header's alg. */
  const signedWith = (headerPatch: Claims, material: Parameters<typeof signJws>[2], patch: Claims = {}) => signJws(header(headerPatch), { ...claims, jti: randomUUID(), ...patch }, material);
  const unsigned = (headerPatch: Claims) => unsignedJws(header(headerPatch), claims);
  const honest = forge();
  const attackerSecret = randomBytes(32);
  const attackerRsa = attackerKey('RS256');
  const attackerEc = attackerKey('ES256');
  const publishedJwk = JSON.stringify(app.signingKeys.jwks(app.clock.now()).keys[0]);

  // Control: the forging helper reproduces a real token, so every refusal below is the attack's doing.
  t.equal((await app.inject(me(honest))).statusCode, 200, 'a token re-signed with the real key and claims is accepted');
  t.equal(refusalReason(app, honest), ACCEPTED);

  // A second session of the victim, logged out: its token keeps a valid signature.
  const second = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: victim.email, password: victim.password } });
  const revokedToken = second.json().accessToken as string;
  await app.inject({ method: 'POST', url: '/api/auth/logout', headers: bearer(revokedToken) });

  const jwt = (name: string, token: string, reason: string | RegExp, code: Case['code'] = 'TOKEN_INVALID', extra: Partial<Case> = {}): Case => ({
    name,
    request: me(token),
    status: 401,
    code,
    check: (t: Test) => t.match(refusalReason(app, token), typeof reason === 'string' ? new RegExp(`^${reason}$`) : reason, `refused by its own defect: ${reason}`),
    ...extra,
  });
  const cases: Case[] = [
    jwt('alg none, no signature', unsigned({ alg: 'none' }), 'FAST_JWT_MISSING_SIGNATURE'),
    jwt('alg "None", no signature', unsigned({ alg: 'None' }), 'FAST_JWT_MISSING_SIGNATURE'),
    jwt('alg none, real signature kept', forge({}, { alg: 'none' }), ALG),
    jwt('alg HS256, HMAC keyed with the published public key PEM (confusion)', signedWith({ alg: 'HS256' }, key.verificationKey), ALG),
    jwt('alg HS256, HMAC keyed with the published JWK (confusion)', signedWith({ alg: 'HS256' }, publishedJwk), ALG),
    jwt('alg ES256, signed by an attacker EC key under the real kid (confusion)', signedWith({ alg: 'ES256' }, attackerEc.privateKey), ALG),
    jwt('RS512 with the real key', signedWith({ alg: 'RS512' }, key.signingKey), ALG),
    jwt('PS256 with the real key', signedWith({ alg: 'PS256' }, key.signingKey), ALG),
    jwt('HS256 keyed with a made-up public key PEM', signedWith({ alg: 'HS256' }, FAKE_PUBLIC_KEY), ALG),
    jwt('HS256 with another secret', signedWith({ alg: 'HS256' }, attackerSecret), ALG),
    jwt('RS256 with another key, under the real kid', signedWith({}, attackerRsa.privateKey), SIGNATURE),
    jwt('one signature character flipped', flipChar(honest, honest.lastIndexOf('.') + 10), SIGNATURE),
    jwt('signature stripped', `${honest.slice(0, honest.lastIndexOf('.'))}.`, 'FAST_JWT_MISSING_SIGNATURE'),
    jwt('payload not JSON', `${b64(header())}.${b64('not json')}.${honest.split('.')[2]}`, 'FAST_JWT_MALFORMED'),
    jwt('expired', forge({ iat: now - 960, exp: now - 60 }), 'expired', 'TOKEN_EXPIRED'),
    jwt('iat an hour in the future', forge({ iat: now + 3600, exp: now + 4500 }), SERVICE),
    jwt('nbf an hour in the future', forge({ nbf: now + 3600 }), 'FAST_JWT_INACTIVE'),
    jwt('exp as a string', forge({ exp: String(now + 600) }), EXP_TYPE),
    jwt('another issuer', forge({ iss: 'https://evil.example' }), 'FAST_JWT_INVALID_CLAIM_VALUE'),
    jwt('another audience', forge({ aud: 'someone-else' }), 'FAST_JWT_INVALID_CLAIM_VALUE'),
    jwt('no sid', without('sid'), 'FAST_JWT_MISSING_REQUIRED_CLAIM'),
    jwt('no jti', without('jti'), 'FAST_JWT_MISSING_REQUIRED_CLAIM'),
    jwt('no exp (a token that never expires)', without('exp'), 'FAST_JWT_MISSING_REQUIRED_CLAIM'),
    jwt('no iat', without('iat'), 'FAST_JWT_MISSING_REQUIRED_CLAIM'),
    jwt('unknown role', forge({ role: 'SUPERADMIN' }), SERVICE),
    jwt('role ADMIN on a consumer session', forge({ role: 'ADMIN' }), ACCEPTED, 'TOKEN_STALE'),
    jwt("another user's sub with the victim's sid", forge({ sub: other.id }), ACCEPTED, 'SESSION_EXPIRED'),
    jwt('typ JWT', forge({}, { typ: 'JWT' }), 'FAST_JWT_INVALID_TYPE'),
    jwt('no typ', forge({}, { typ: undefined }), 'FAST_JWT_INVALID_TYPE'),
    jwt('no kid', forge({}, { kid: undefined }), SERVICE),
    jwt('a kid of no key of the ring, signed with the real key', forge({}, { kid: randomUUID() }), SERVICE),
    jwt('kid path traversal, signed with an empty key', signedWith({ alg: 'HS256', kid: '../../../../../../dev/null' }, ''), SERVICE),
    jwt('kid with SQL, signed with the injected key', signedWith({ alg: 'HS256', kid: "x' UNION SELECT 'k' --" }, 'k'), SERVICE),
    jwt("jwk: the attacker's public key embedded, signed with it", signedWith({ jwk: attackerRsa.publicJwk }, attackerRsa.privateKey), SIGNATURE),
    jwt("jwk: the attacker's public key embedded, no kid", signedWith({ jwk: attackerRsa.publicJwk, kid: undefined }, attackerRsa.privateKey), SERVICE),
    jwt('jku to an attacker JWKS, signed with the attacker key', signedWith({ jku: 'https://evil.example/jwks.json' }, attackerRsa.privateKey), SIGNATURE),
    jwt('jku to an attacker JWKS naming its own kid', signedWith({ jku: 'https://evil.example/jwks.json', kid: 'attacker-key' }, attackerRsa.privateKey), SERVICE),
    jwt('x5u to an attacker certificate, signed with the attacker key', signedWith({ x5u: 'https://evil.example/cert.pem' }, attackerRsa.privateKey), SIGNATURE),
    jwt('valid signature, revoked session', revokedToken, ACCEPTED, 'SESSION_REVOKED'),
    jwt('16 KiB header, signed with the real key', forge({}, { pad: 'x'.repeat(16 * 1024) }), SERVICE),
    jwt('8 KiB token, attacker key', signedWith({}, attackerRsa.privateKey, { pad: 'x'.repeat(8 * 1024) }), SIGNATURE),
    jwt('8 KiB of base64url', 'A'.repeat(8 * 1024), SERVICE),
    jwt('trailing segment', `${honest}.extra`, 'FAST_JWT_MALFORMED'),
    { name: 'two tokens in one header', request: { method: 'GET', url: '/api/auth/me', headers: { authorization: `Bearer ${honest} ${honest}` } }, status: 401, code: 'TOKEN_INVALID' },
    { name: 'Basic scheme', request: { method: 'GET', url: '/api/auth/me', headers: { authorization: `Basic ${b64('admin:admin')}` } }, status: 401, code: 'TOKEN_INVALID' },
  ];
  await runCases(t, ctx, 'json', cases);
  t.equal((await app.inject(me(victim.accessToken))).statusCode, 200, "the victim's token still works");
});

t.test("a retired key's kid: refused however fresh the claims", async (t) => {
  const clock = createManualClock();
  const { emails, env } = adminEnv(1);
  const built = await buildTestApp(t, { clock, env });
  const { app, config } = built;
  const admin = await registerAdmin(app, emails[0]!);
  const victim = await registerUser(app);
  const subject = { sub: victim.id, sid: String(decode(victim.accessToken).sid), role: victim.role };
  const retiring = currentSigningKey(app);
  const rotated = await app.inject({ method: 'POST', url: '/api/admin/signing-keys', headers: bearer(admin.accessToken), payload: {} });
  t.equal(rotated.statusCode, 201, 'a new key is added');
  clock.advance((config.SIGNING_KEY_PUBLISH_DELAY + config.JWT_ACCESS_TTL) * 1000 + CLOCK_SKEW_MS + 1000);
  t.notOk(app.signingKeys.find(retiring.kid, clock.now()), 'the first key has retired');

  const ctx = stateContext(t, built);
  const control = signLikeTheService(app, serviceClaims(app, subject));
  t.equal((await app.inject(me(control))).statusCode, 200, 'control: the same fresh claims under the current key are accepted');
  const token = signLikeTheService(app, serviceClaims(app, subject), {}, retiring);
  await runCases(t, ctx, 'json', [
    { name: 'fresh claims signed by the retired key', request: me(token), status: 401, code: 'TOKEN_INVALID', check: (t) => t.equal(refusalReason(app, token), SERVICE) },
    { name: "the victim's token of the retired key", request: me(victim.accessToken), status: 401, code: 'TOKEN_INVALID' },
  ]);
});

t.test('tampered refresh cookies', async (t) => {
  const built = await buildTestApp(t);
  const { app } = built;
  const ctx = stateContext(t, built);
  const name = app.config.REFRESH_COOKIE_NAME;
  const victim = await registerUser(app);
  const other = await registerUser(app);
  const victimSid = decode(victim.accessToken).sid as string;
  let current = victim.refreshToken;

  const stillRefreshes = async (t: Test) => {
    const res = await refresh(app, current);
    t.equal(res.statusCode, 200, `the victim's session still refreshes (got ${res.statusCode} ${res.body.slice(0, 80)})`);
    current = refreshCookieOf(res, name)?.value ?? current;
  };
  const noCookieSmuggled = (t: Test, res: LightMyRequestResponse) => {
    t.notOk(String(res.headers['set-cookie'] ?? '').includes('admin'), 'no cookie smuggled into the response');
    return stillRefreshes(t);
  };
  /** The victim's current token with bytes [from, to) of its body replaced by random ones. */
  const splice = (token: string, from: number, to: number, source?: string) => {
    const raw = Buffer.from(token.slice(3), 'base64url');
    const donor = source ? Buffer.from(source.slice(3), 'base64url') : randomBytes(raw.length);
    donor.copy(raw, from, from, to);
    return `rt_${raw.toString('base64url')}`;
  };
  const row = (title: string, cookie: () => string | undefined, code: Case['code'] = 'REFRESH_TOKEN_INVALID', url?: string): Case => ({
    name: title,
    request: () => refreshWith(cookie(), {}, url),
    status: 401,
    code,
    check: stillRefreshes,
  });

  t.equal(current.length, 110, 'a refresh token is rt_ + 107 base64url characters (layout the rows below rely on)');
  const cases: Case[] = [
    row('no cookie', () => undefined, 'REFRESH_TOKEN_MISSING'),
    row('empty cookie', () => `${name}=`, 'REFRESH_TOKEN_MISSING'),
    row('a character of the random part flipped', () => `${name}=${flipChar(current, 60)}`),
    row('a character of the MAC flipped', () => `${name}=${flipChar(current, 100)}`),
    row('a character of the ids flipped', () => `${name}=${flipChar(current, 10)}`, 'REFRESH_TOKEN_INVALID', '/api/auth/refresh-token'),
    row('truncated', () => `${name}=${current.slice(0, -4)}`),
    row('extended', () => `${name}=${current}AAAA`),
    row("the victim's ids, random secret and MAC (valid layout)", () => `${name}=${splice(current, 32, 80)}`),
    row("another user's token with the victim's ids spliced in", () => `${name}=${splice(other.refreshToken, 0, 32, current)}`),
    row('same bytes, non-canonical spelling', () => `${name}=${nonCanonical(current)}`),
    row('wrong prefix case', () => `${name}=RT_${current.slice(3)}`),
    { ...row('encoded ; and a second cookie in the value', () => `${name}=${encodeURIComponent(`${current};admin=1`)}`), check: noCookieSmuggled },
    { ...row('quoted value with ;', () => `${name}="${current};admin=1"`), check: noCookieSmuggled },
    { ...row('CRLF-encoded Set-Cookie in the value', () => `${name}=${current}%0D%0ASet-Cookie%3A%20admin%3D1`), check: noCookieSmuggled },
    row("two cookies: garbage first, the victim's second", () => `${name}=rt_garbage; ${name}=${current}`),
    {
      name: "the victim's cookie from a foreign Origin",
      request: () => refreshWith(`${name}=${current}`, { origin: 'https://evil.example' }),
      status: 403,
      code: 'ORIGIN_DENIED',
      check: stillRefreshes,
    },
    {
      name: "the victim's cookie from Origin null",
      request: () => refreshWith(`${name}=${current}`, { origin: 'null' }, '/api/auth/refresh-token'),
      status: 403,
      code: 'ORIGIN_DENIED',
      check: stillRefreshes,
    },
    {
      name: "logout with a forged cookie naming the victim's session",
      request: () => ({ ...refreshWith(`${name}=${splice(current, 64, 80)}`), url: '/api/auth/logout' }),
      status: 200,
      code: null,
      check: stillRefreshes,
    },
    {
      name: "another user deletes the victim's session",
      request: { method: 'DELETE', url: `/api/auth/sessions/${victimSid}`, headers: bearer(other.accessToken) },
      status: 404,
      code: 'SESSION_NOT_FOUND',
      check: stillRefreshes,
    },
  ];
  await runCases(t, ctx, 'json', cases);
});
