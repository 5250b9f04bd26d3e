/**
 * POST /oauth2/introspect (RFC 7662): a resource server (an app holding auth.introspect) asks
 * about app tokens and user access tokens. Active answers carry every claim; everything refused
 * by our own routes for token or session reasons is exactly {active: false}; client errors are
 * RFC 6749 bodies and change nothing; one introspection is two Redis commands in one round trip.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { SignJWT } from 'jose';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import t from 'tap';
import type { Test } from 'tap';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createManualClock } from '../../src/lib/clock.js';
import { testEnv } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/database.js';
import { adminEnv, registerAdmin, registerUser } from '../helpers/factories.js';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { createTcpProxy } from '../helpers/tcp-proxy.js';
import {
  bearer,
  createApp,
  type CreatedApp,
  type Json,
  organizationIds,
  replacePermissions,
  setupV3,
  suspendApp,
  V3,
  v3Get,
} from './v3-helpers.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const RESOURCE_SERVER = ['auth.introspect'];
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const basicOf = (client: CreatedApp) => ({ authorization: basic(client.client_id, client.client_secret) });

function introspect(app: FastifyInstance, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url: '/oauth2/introspect', payload: form(fields), headers: { ...FORM, ...headers } });
}

/** client_secret_basic. */
const introspectAs = (app: FastifyInstance, caller: CreatedApp, token: string, extra: Record<string, string> = {}) =>
  introspect(app, { token, ...extra }, basicOf(caller));

async function oauthToken(app: FastifyInstance, client: CreatedApp, extra: Record<string, string> = {}): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/oauth2/token', payload: form({ grant_type: 'client_credentials', ...extra }), headers: { ...FORM, ...basicOf(client) } });
  if (res.statusCode !== 200) throw new Error(`token failed: ${res.statusCode} ${res.body}`);
  return res.json().access_token as string;
}

function assertInactive(t: Test, res: LightMyRequestResponse, label: string) {
  t.equal(res.statusCode, 200, `${label}: 200${res.statusCode === 200 ? '' : ` (${res.body})`}`);
  t.strictSame(res.json(), { active: false }, `${label}: exactly {active: false}`);
  t.equal(res.headers['cache-control'], 'no-store', `${label}: no-store`);
}

function assertOAuthError(t: Test, res: LightMyRequestResponse, status: number, error: string) {
  t.equal(res.statusCode, status, `${status} ${error}${res.statusCode === status ? '' : ` (${res.body})`}`);
  t.equal(res.json().error, error);
  t.strictSame(Object.keys(res.json()).sort(), ['error', 'error_description'], 'an RFC 6749 error body, nothing about the token');
}

const jwtPayload = (jwt: string): Json => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'));

/** The token still works where it is used: nothing a refused introspection did changed it. */
async function assertStillLive(t: Test, app: FastifyInstance, token: string) {
  t.equal((await v3Get(app, token, '/me')).statusCode, 200, 'the token still works on the V3 API');
}

t.test('introspection', async (t) => {
  // A whole second, so iat and exp are exact; the clock stands still.
  const clock = createManualClock(Math.floor(Date.now() / 1000) * 1000);
  const { app, admin } = await setupV3(t, { clock });
  const config = app.config;
  const orgs = await organizationIds(app, admin.accessToken);
  const resourceServer = async () => createApp(app, admin.accessToken, { permissions: RESOURCE_SERVER });
  const subjectApp = async (permissions = ['orders.orders.read', 'orders.orders.write']) =>
    createApp(app, admin.accessToken, { organizations: ['HQ', 'ACME'], default_organization_id: 'HQ', permissions });

  t.test('an active app token, with every claim, through client_secret_basic and client_secret_post', async (t) => {
    const caller = await resourceServer();
    const subject = await subjectApp();
    const token = await oauthToken(app, subject, { organization_code: 'ACME' });
    const expected = {
      active: true,
      token_type: 'Bearer',
      sub: subject.client_id,
      client_id: subject.client_id,
      scope: 'orders.orders.read orders.orders.write',
      exp: clock.now() / 1000 + config.APP_TOKEN_TTL,
      iat: clock.now() / 1000,
      iss: config.ISSUER,
      app_id: subject.app_id,
      app_code: subject.app_code,
      organization_id: orgs.ACME,
      organization_code: 'ACME',
    };
    const viaBasic = await introspectAs(app, caller, token);
    t.equal(viaBasic.statusCode, 200);
    const sortedScope = (body: Json) => ({ ...body, scope: String(body.scope).split(' ').sort().join(' ') });
    t.strictSame(sortedScope(viaBasic.json()), expected, 'client_secret_basic: every claim');
    t.equal(viaBasic.headers['cache-control'], 'no-store', 'Cache-Control: no-store');
    t.match(String(viaBasic.headers['content-type']), /^application\/json/);

    const viaPost = await introspect(app, { token, client_id: caller.client_id, client_secret: caller.client_secret });
    t.equal(viaPost.statusCode, 200);
    t.strictSame(sortedScope(viaPost.json()), expected, 'client_secret_post: the same answer');

    for (const hint of ['access_token', 'refresh_token', 'something_else']) {
      const hinted = await introspectAs(app, caller, token, { token_type_hint: hint, ignored_parameter: 'x' });
      t.equal(hinted.json().active, true, `token_type_hint=${hint} and unknown parameters are ignored (RFC 7662 2.1)`);
    }
  });

  t.test('a scope-limited token shows its scope, narrowed further by the app\'s current grants', async (t) => {
    const caller = await resourceServer();
    const subject = await subjectApp(['orders.orders.read', 'orders.orders.write', 'inventory.items.read']);
    const token = await oauthToken(app, subject, { scope: 'orders.orders.read inventory.items.read' });
    const scopeOf = async () => String((await introspectAs(app, caller, token)).json().scope).split(' ').sort();
    t.strictSame(await scopeOf(), ['inventory.items.read', 'orders.orders.read'], 'the scope it was issued with');

    t.equal((await replacePermissions(app, admin.accessToken, subject.app_id, ['orders.orders.read', 'orders.orders.write'])).statusCode, 200);
    t.strictSame(await scopeOf(), ['orders.orders.read'], 'a grant taken away leaves the scope at once');

    t.equal((await replacePermissions(app, admin.accessToken, subject.app_id, [])).statusCode, 200);
    const bare = (await introspectAs(app, caller, token)).json();
    t.equal(bare.active, true, 'still a live token');
    t.notOk('scope' in bare, 'no effective permission: no scope claim (never an empty string)');
  });

  t.test('an active user access token', async (t) => {
    const caller = await resourceServer();
    const user = await registerUser(app);
    const claims = jwtPayload(user.accessToken);
    const res = await introspectAs(app, caller, user.accessToken);
    t.equal(res.statusCode, 200);
    t.strictSame(res.json(), {
      active: true,
      token_type: 'Bearer',
      sub: user.id,
      exp: claims.exp,
      iat: claims.iat,
      iss: config.ISSUER,
      aud: config.JWT_AUDIENCE,
      jti: claims.jti,
      sid: claims.sid,
      role: 'CONSUMER',
    });
    t.equal(res.json().exp - res.json().iat, config.JWT_ACCESS_TTL, 'the access token lifetime');
    t.equal(res.headers['cache-control'], 'no-store');
  });

  t.test('user tokens our routes refuse are inactive: logout, disabled account, changed role', async (t) => {
    const caller = await resourceServer();
    const loggedOut = await registerUser(app);
    t.equal((await introspectAs(app, caller, loggedOut.accessToken)).json().active, true, 'active before');
    await app.inject({ method: 'POST', url: '/api/auth/logout', headers: bearer(loggedOut.accessToken) });
    assertInactive(t, await introspectAs(app, caller, loggedOut.accessToken), 'after logout');

    const disabled = await registerUser(app);
    const patch = (id: string, payload: Json) => app.inject({ method: 'PATCH', url: `/api/admin/users/${id}`, headers: bearer(admin.accessToken), payload });
    t.equal((await patch(disabled.id, { disabled: true })).statusCode, 200);
    assertInactive(t, await introspectAs(app, caller, disabled.accessToken), 'account disabled');

    const promoted = await registerUser(app);
    t.equal((await patch(promoted.id, { role: 'PARTNER' })).statusCode, 200);
    assertInactive(t, await introspectAs(app, caller, promoted.accessToken), 'role changed (the token is stale)');
  });

  t.test('revoked app tokens are inactive: via /oauth2/revoke and via the V3 revoke', async (t) => {
    const caller = await resourceServer();
    const subject = await subjectApp();
    const viaOAuth = await oauthToken(app, subject);
    const revoked = await app.inject({ method: 'POST', url: '/oauth2/revoke', payload: form({ token: viaOAuth }), headers: { ...FORM, ...basicOf(subject) } });
    t.equal(revoked.statusCode, 200);
    assertInactive(t, await introspectAs(app, caller, viaOAuth), 'revoked through /oauth2/revoke');

    const viaV3 = await oauthToken(app, subject);
    t.equal((await app.inject({ method: 'POST', url: `${V3}/token/revoke`, headers: bearer(viaV3), payload: {} })).statusCode, 200);
    assertInactive(t, await introspectAs(app, caller, viaV3), 'revoked through POST /api/v3/auth/token/revoke');
  });

  t.test("a suspended app's tokens are inactive", async (t) => {
    const caller = await resourceServer();
    const subject = await subjectApp();
    const token = await oauthToken(app, subject);
    t.equal((await introspectAs(app, caller, token)).json().active, true, 'active before');
    t.equal((await suspendApp(app, admin.accessToken, subject.app_id)).statusCode, 200);
    assertInactive(t, await introspectAs(app, caller, token), 'app suspended');
  });

  t.test('malformed and foreign strings are inactive, never an error', async (t) => {
    const caller = await resourceServer();
    const subject = await subjectApp();
    const live = await oauthToken(app, subject);
    const user = await registerUser(app);
    const [header, payload, signature] = user.accessToken.split('.') as [string, string, string];
    const flipped = `${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`;
    const claims = jwtPayload(user.accessToken);
    const kid = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')).kid as string;
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid }).sign(randomBytes(32));
    const strings: Record<string, string> = {
      'random text': 'not-a-token',
      'v3at_ prefix only': 'v3at_garbage',
      'an app token with one character changed': `${live.slice(0, -5)}${live.at(-5) === 'A' ? 'B' : 'A'}${live.slice(-4)}`,
      'an app token truncated': live.slice(0, -1),
      'a JWT with a bad signature': `${header}.${payload}.${flipped}`,
      'a JWT signed with another key (HS256)': forged,
      'a JWT without a signature': `${header}.${payload}.`,
      'three dots': 'a.b.c',
      'a refresh token': user.refreshToken,
      'a client secret': subject.client_secret,
      'spaces inside': 'abc def',
      'unicode': 'tökén',
    };
    for (const [label, value] of Object.entries(strings)) assertInactive(t, await introspectAs(app, caller, value), label);
    t.equal((await introspectAs(app, caller, live)).json().active, true, 'the real token beside them is active');
  });

  t.test('client errors: status, RFC 6749 body, and nothing changes', async (t) => {
    const caller = await resourceServer();
    const subject = await subjectApp();
    const token = await oauthToken(app, subject);

    const wrongBasic = await introspect(app, { token }, { authorization: basic(caller.client_id, 'pcs_wrong') });
    assertOAuthError(t, wrongBasic, 401, 'invalid_client');
    t.equal(wrongBasic.headers['www-authenticate'], 'Basic realm="portcullis"', 'Basic was used: a Basic challenge');
    const wrongPost = await introspect(app, { token, client_id: caller.client_id, client_secret: 'pcs_wrong' });
    assertOAuthError(t, wrongPost, 401, 'invalid_client');
    t.equal(wrongPost.headers['www-authenticate'], undefined, 'client_secret_post: no challenge');
    assertOAuthError(t, await introspect(app, { token }), 401, 'invalid_client');
    assertOAuthError(t, await introspect(app, { token }, { authorization: 'Basic !!!' }), 401, 'invalid_client');
    assertOAuthError(t, await introspect(app, { token, client_id: 'cid_unknown', client_secret: caller.client_secret }), 401, 'invalid_client');
    assertOAuthError(t, await introspect(app, { token, client_secret: caller.client_secret }, basicOf(caller)), 400, 'invalid_request');

    const missing = await introspect(app, {}, basicOf(caller));
    assertOAuthError(t, missing, 400, 'invalid_request');
    assertOAuthError(t, await introspect(app, { token: '' }, basicOf(caller)), 400, 'invalid_request');

    // Authenticated, but not a resource server: 403, and not a word about the token.
    const plain = await subjectApp();
    const forbidden = await introspectAs(app, plain, token);
    assertOAuthError(t, forbidden, 403, 'insufficient_scope');
    t.match(forbidden.json().error_description, 'auth.introspect');
    assertOAuthError(t, await introspect(app, { token, client_id: plain.client_id, client_secret: plain.client_secret }), 403, 'insufficient_scope');
    t.notMatch(forbidden.body, subject.client_id, 'the token\'s owner is not revealed');

    await assertStillLive(t, app, token);
    t.equal((await introspectAs(app, caller, token)).json().active, true, 'and the caller can still introspect it');
  });

  t.test('the caller\'s current grants and status decide, at once', async (t) => {
    const caller = await resourceServer();
    const subject = await subjectApp();
    const token = await oauthToken(app, subject);
    t.equal((await introspectAs(app, caller, token)).statusCode, 200);
    t.equal((await replacePermissions(app, admin.accessToken, caller.app_id, ['orders.orders.read'])).statusCode, 200);
    assertOAuthError(t, await introspectAs(app, caller, token), 403, 'insufficient_scope');
    t.equal((await replacePermissions(app, admin.accessToken, caller.app_id, RESOURCE_SERVER)).statusCode, 200);
    t.equal((await introspectAs(app, caller, token)).json().active, true, 'granted again: allowed again');
    t.equal((await suspendApp(app, admin.accessToken, caller.app_id)).statusCode, 200);
    assertOAuthError(t, await introspectAs(app, caller, token), 401, 'invalid_client');
    await assertStillLive(t, app, token);
  });

  t.test('OpenAPI documents the route, its body and every status', async (t) => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const op = doc.paths?.['/oauth2/introspect']?.post as Json;
    t.ok(op, 'documented');
    t.strictSame(Object.keys(op.responses).map(Number).sort((a, b) => a - b), [200, 400, 401, 403, 429, 503]);
    const body = op.requestBody?.content?.['application/x-www-form-urlencoded']?.schema as Json;
    t.strictSame(body?.required, ['token']);
    t.ok(body?.properties?.token_type_hint, 'token_type_hint documented');
    t.match(op.description, 'auth.introspect');
  });
});

t.test('expired app tokens are inactive (manual clock)', async (t) => {
  const clock = createManualClock();
  const { app, admin } = await setupV3(t, { clock });
  const caller = await createApp(app, admin.accessToken, { permissions: RESOURCE_SERVER });
  const subject = await createApp(app, admin.accessToken);
  const token = await oauthToken(app, subject);
  const exp = (await introspectAs(app, caller, token)).json().exp as number;
  t.ok(exp * 1000 - clock.now() >= app.config.APP_TOKEN_TTL * 1000, 'exp is at least APP_TOKEN_TTL away');
  clock.set(exp * 1000 - 1);
  t.equal((await introspectAs(app, caller, token)).json().active, true, 'active 1 ms before exp');
  clock.set(exp * 1000);
  assertInactive(t, await introspectAs(app, caller, token), 'at exp');
  const fresh = await oauthToken(app, subject);
  t.equal((await introspectAs(app, caller, fresh)).json().active, true, 'a new token of the same app is active');
});

/** Counts commands on the app's own client, and how many replies had arrived when each was sent. */
async function commandsAndRoundTrips(client: Redis, action: () => Promise<unknown>) {
  const sent: { name: string; repliesBefore: number }[] = [];
  let replies = 0;
  const original = client.sendCommand;
  client.sendCommand = function (this: Redis, ...args: Parameters<Redis['sendCommand']>) {
    sent.push({ name: args[0].name, repliesBefore: replies });
    void args[0].promise.then(() => replies++, () => replies++);
    return original.apply(this, args);
  };
  try {
    await action();
  } finally {
    client.sendCommand = original;
  }
  return sent;
}

t.test('the hot path: two Redis commands written together (one round trip), no Postgres', async (t) => {
  // Postgres behind a proxy the test cuts; the address allowlisted, as in the benchmark, so the
  // rate limit's own command is not counted.
  const database = await createTestDatabase();
  const url = new URL(database.url);
  const proxy = await createTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
  url.port = String(proxy.port);
  const prefix = uniquePrefix();
  const { emails, env } = adminEnv(1);
  const app = await buildApp(
    loadConfig(testEnv({ ...env, DATABASE_URL: url.toString(), REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix, RATE_LIMIT_ALLOWLIST: '127.0.0.1' })),
  );
  const redis = new Redis(TEST_REDIS_URL);
  t.teardown(async () => {
    proxy.unblock();
    await app.close();
    await proxy.close();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    await database.drop();
  });
  const client = app.kv.kind === 'redis' ? app.kv.client : undefined;
  t.ok(client, 'runs on Redis');
  const admin = await registerAdmin(app, emails[0]!);
  const caller = await createApp(app, admin.accessToken, { permissions: RESOURCE_SERVER });
  const subject = await createApp(app, admin.accessToken);
  const token = await oauthToken(app, subject);
  const user = await registerUser(app);

  proxy.block();
  const appToken = await commandsAndRoundTrips(client!, async () => {
    const res = await introspectAs(app, caller, token);
    t.equal(res.json().active, true, 'app token active with Postgres cut off');
  });
  t.strictSame(appToken.map((c) => c.name).sort(), ['get', 'mget'], 'app token: GET of the caller\'s snapshot, MGET of the token and its app');
  t.strictSame(appToken.map((c) => c.repliesBefore), [0, 0], 'both written before either reply: one round trip');
  const userToken = await commandsAndRoundTrips(client!, async () => {
    const res = await introspectAs(app, caller, user.accessToken);
    t.equal(res.json().active, true, 'user token active with Postgres cut off');
  });
  t.strictSame(userToken.map((c) => c.name).sort(), ['get', 'hmget'], 'user token: GET of the caller\'s snapshot, HMGET of the session');
  t.strictSame(userToken.map((c) => c.repliesBefore), [0, 0], 'one round trip');
  const inactive = await commandsAndRoundTrips(client!, async () => assertInactive(t, await introspectAs(app, caller, 'not-a-token'), 'garbage'));
  t.strictSame(inactive.map((c) => c.name), ['get'], 'a malformed token costs no lookup');
});
