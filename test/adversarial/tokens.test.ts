/**
 * Adversarial user credentials: forged and tampered access tokens (JWT) on GET /api/auth/me, and
 * tampered refresh cookies on /api/auth/refresh. Every row: exact status and code, no 5xx, nothing
 * changed in Postgres or Redis (see ./state.ts); after every refresh row the victim's real
 * session still refreshes.
 */
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import t from 'tap';
import type { Test } from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { refresh, refreshCookieOf, registerUser } from '../helpers/factories.js';
import { bearer, type Case, flipChar, runCases, stateContext } from './state.js';

type Claims = Record<string, unknown>;

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const decode = (token: string): Claims => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Claims;

/** A JWS compact token signed with HMAC (`hash` sha256 for HS256) over header.payload. */
function sign(header: Claims, payload: Claims, key: string | Buffer, hash = 'sha256'): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac(hash, key).update(input).digest('base64url')}`;
}

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

t.test('forged and tampered access tokens on GET /api/auth/me', async (t) => {
  const built = await buildTestApp(t);
  const { app, config } = built;
  const ctx = stateContext(t, built);
  const victim = await registerUser(app);
  const other = await registerUser(app);
  const claims = decode(victim.accessToken);
  const now = Math.floor(Date.now() / 1000);
  const HEADER = { alg: 'HS256', typ: 'at+jwt' };
  const forge = (patch: Claims = {}, header: Claims = HEADER, key: string | Buffer = config.JWT_SECRET) =>
    sign(header, { ...claims, jti: randomUUID(), ...patch }, key);
  const without = (name: string) => {
    const { [name]: _dropped, ...rest } = claims;
    return sign(HEADER, rest, config.JWT_SECRET);
  };
  const unsigned = (header: Claims) => `${b64(header)}.${b64(claims)}.`;
  const honest = forge();
  const attackerKey = randomBytes(32);

  // Control: the forging helper reproduces a real token, so every refusal below is the attack's doing.
  t.equal((await app.inject(me(honest))).statusCode, 200, 'a token re-signed with the real key and claims is accepted');

  // A second session of the victim, logged out: its token keeps a valid signature.
  const second = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: victim.email, password: victim.password } });
  const revokedToken = second.json().accessToken as string;
  await app.inject({ method: 'POST', url: '/api/auth/logout', headers: bearer(revokedToken) });

  const jwt = (name: string, token: string, code: Case['code'] = 'TOKEN_INVALID', extra: Partial<Case> = {}): Case => ({
    name,
    request: me(token),
    status: 401,
    code,
    ...extra,
  });
  const cases: Case[] = [
    jwt('alg none, no signature', unsigned({ alg: 'none', typ: 'at+jwt' })),
    jwt('alg "None", no signature', unsigned({ alg: 'None', typ: 'at+jwt' })),
    jwt('alg none, HMAC signature kept', forge({}, { alg: 'none', typ: 'at+jwt' })),
    jwt('alg RS256 header, HMAC signature (confusion)', forge({}, { alg: 'RS256', typ: 'at+jwt' })),
    jwt('alg ES256 header, HMAC signature (confusion)', forge({}, { alg: 'ES256', typ: 'at+jwt' })),
    jwt('HS512 with the real secret', sign({ alg: 'HS512', typ: 'at+jwt' }, claims, config.JWT_SECRET, 'sha512')),
    jwt('HS256 keyed with a made-up public key PEM', forge({}, HEADER, FAKE_PUBLIC_KEY)),
    jwt('HS256 with another secret', forge({}, HEADER, attackerKey)),
    jwt('one signature character flipped', flipChar(honest, honest.lastIndexOf('.') + 10)),
    jwt('signature stripped', `${honest.slice(0, honest.lastIndexOf('.'))}.`),
    jwt('payload not JSON', `${b64(HEADER)}.${b64('not json')}.${honest.split('.')[2]}`),
    jwt('expired', forge({ iat: now - 960, exp: now - 60 }), 'TOKEN_EXPIRED'),
    jwt('iat an hour in the future', forge({ iat: now + 3600, exp: now + 4500 })),
    jwt('nbf an hour in the future', forge({ nbf: now + 3600 })),
    jwt('exp as a string', forge({ exp: String(now + 600) })),
    jwt('another issuer', forge({ iss: 'https://evil.example' })),
    jwt('another audience', forge({ aud: 'someone-else' })),
    jwt('no sid', without('sid')),
    jwt('no jti', without('jti')),
    jwt('no exp (a token that never expires)', without('exp')),
    jwt('no iat', without('iat')),
    jwt('unknown role', forge({ role: 'SUPERADMIN' })),
    jwt('role ADMIN on a consumer session', forge({ role: 'ADMIN' }), 'TOKEN_STALE'),
    jwt("another user's sub with the victim's sid", forge({ sub: other.id }), 'SESSION_EXPIRED'),
    jwt('typ JWT', forge({}, { alg: 'HS256', typ: 'JWT' })),
    jwt('no typ', forge({}, { alg: 'HS256' })),
    jwt('kid path traversal, signed with an empty key', forge({}, { ...HEADER, kid: '../../../../../../dev/null' }, '')),
    jwt('jku to an attacker JWKS, signed with the attacker key', forge({}, { ...HEADER, jku: 'https://evil.example/jwks.json' }, attackerKey)),
    jwt('x5u to an attacker certificate, signed with the attacker key', forge({}, { ...HEADER, x5u: 'https://evil.example/cert.pem' }, attackerKey)),
    jwt('kid with SQL, signed with the injected key', forge({}, { ...HEADER, kid: "x' UNION SELECT 'k' --" }, 'k')),
    jwt('valid signature, revoked session', revokedToken, 'SESSION_REVOKED'),
    jwt('8 KiB token, attacker key', forge({ pad: 'x'.repeat(8 * 1024) }, HEADER, attackerKey)),
    jwt('8 KiB of base64url', 'A'.repeat(8 * 1024)),
    jwt('trailing segment', `${honest}.extra`),
    { name: 'two tokens in one header', request: { method: 'GET', url: '/api/auth/me', headers: { authorization: `Bearer ${honest} ${honest}` } }, status: 401, code: 'TOKEN_INVALID' },
    { name: 'Basic scheme', request: { method: 'GET', url: '/api/auth/me', headers: { authorization: `Basic ${b64('admin:admin')}` } }, status: 401, code: 'TOKEN_INVALID' },
  ];
  await runCases(t, ctx, 'json', cases);
  t.equal((await app.inject(me(victim.accessToken))).statusCode, 200, "the victim's token still works");
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
