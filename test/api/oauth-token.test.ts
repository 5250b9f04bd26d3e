/** POST /oauth2/token (client_credentials) and the RFC 8414 metadata, in the standard wire format. */
import t from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { adminEnv, registerAdmin } from '../helpers/factories.js';

type App = Awaited<ReturnType<typeof buildTestApp>>['app'];
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const token = (app: App, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: '/oauth2/token', payload: form(fields), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

t.test('oauth2', async (t) => {
  const { emails, env } = adminEnv(1);
  const { app } = await buildTestApp(t, { env });
  const admin = await registerAdmin(app, emails[0]!);
  const created = await app.inject({
    method: 'POST',
    url: '/api/v3/auth/apps',
    headers: { authorization: `Bearer ${admin.accessToken}` },
    payload: { app_code: `oauth-${Date.now()}`, app_name: 'OAuth client', organizations: ['HQ'], permissions: ['orders.orders.read', 'orders.orders.write'] },
  });
  const { client_id, client_secret } = created.json().data;

  t.test('client_secret_post and client_secret_basic; standard response; no-store', async (t) => {
    const post = await token(app, { grant_type: 'client_credentials', client_id, client_secret });
    t.equal(post.statusCode, 200);
    t.match(post.json(), { access_token: /^v3at_/, token_type: 'Bearer', expires_in: 3600 });
    t.equal(post.json().scope, undefined, 'no scope requested: none echoed');
    t.equal(post.headers['cache-control'], 'no-store');
    const viaBasic = await token(app, { grant_type: 'client_credentials' }, { authorization: basic(client_id, client_secret) });
    t.equal(viaBasic.statusCode, 200);
    const me = await app.inject({ method: 'GET', url: '/api/v3/auth/me', headers: { authorization: `Bearer ${viaBasic.json().access_token}` } });
    t.equal(me.statusCode, 200, 'the token works on the V3 API');
    t.strictSame(me.json().data.permissions, ['orders.orders.read', 'orders.orders.write']);
  });

  t.test('scope: a subset narrows the token; anything else is invalid_scope', async (t) => {
    const scoped = await token(app, { grant_type: 'client_credentials', client_id, client_secret, scope: 'orders.orders.read' });
    t.equal(scoped.statusCode, 200);
    t.equal(scoped.json().scope, 'orders.orders.read');
    const me = await app.inject({ method: 'GET', url: '/api/v3/auth/me', headers: { authorization: `Bearer ${scoped.json().access_token}` } });
    t.strictSame(me.json().data.permissions, ['orders.orders.read'], 'the token holds only its scope');
    const wide = await token(app, { grant_type: 'client_credentials', client_id, client_secret, scope: 'orders.orders.read billing.invoices.read' });
    t.equal(wide.statusCode, 400);
    t.equal(wide.json().error, 'invalid_scope');
  });

  t.test('RFC 6749 errors', async (t) => {
    const wrong = await token(app, { grant_type: 'client_credentials', client_id, client_secret: 'pcs_wrong' });
    t.equal(wrong.statusCode, 401);
    t.equal(wrong.json().error, 'invalid_client');
    t.equal(wrong.headers['www-authenticate'], undefined, 'no Basic challenge for client_secret_post');
    const wrongBasic = await token(app, { grant_type: 'client_credentials' }, { authorization: basic(client_id, 'pcs_wrong') });
    t.equal(wrongBasic.statusCode, 401);
    t.equal(wrongBasic.headers['www-authenticate'], 'Basic realm="portcullis"');
    t.equal((await token(app, { grant_type: 'password', client_id, client_secret })).json().error, 'unsupported_grant_type');
    t.equal((await token(app, { client_id, client_secret })).json().error, 'invalid_request', 'grant_type is required');
    const both = await token(app, { grant_type: 'client_credentials', client_secret }, { authorization: basic(client_id, client_secret) });
    t.equal(both.json().error, 'invalid_request', 'two authentication methods');
    t.equal((await token(app, { grant_type: 'client_credentials' })).json().error, 'invalid_client', 'no credentials');
    const garbled = await token(app, { grant_type: 'client_credentials' }, { authorization: 'Basic !!!' });
    t.equal(garbled.json().error, 'invalid_client');
    const extra = await token(app, { grant_type: 'client_credentials', client_id, client_secret, audience: 'ignored' });
    t.equal(extra.statusCode, 200, 'unknown parameters are ignored (RFC 6749 3.2)');
    for (const res of [wrong, both, garbled]) t.strictSame(Object.keys(res.json()).sort(), ['error', 'error_description']);
  });

  t.test('revocation (RFC 7009): own tokens only, 200 for anything else, client authentication required', async (t) => {
    const issue = async (id: string, secret: string) => (await token(app, { grant_type: 'client_credentials', client_id: id, client_secret: secret })).json().access_token as string;
    const revoke = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
      app.inject({ method: 'POST', url: '/oauth2/revoke', payload: form(fields), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });
    const meWith = (bearer: string) => app.inject({ method: 'GET', url: '/api/v3/auth/me', headers: { authorization: `Bearer ${bearer}` } });

    const mine = await issue(client_id, client_secret);
    const done = await revoke({ token: mine }, { authorization: basic(client_id, client_secret) });
    t.equal(done.statusCode, 200);
    t.strictSame(done.json(), {});
    t.equal((await meWith(mine)).json().error.code, 'V3_AUTH_TOKEN_REVOKED', 'the token is dead');
    t.equal((await revoke({ token: mine, client_id, client_secret })).statusCode, 200, 'again: still 200');
    t.equal((await revoke({ token: 'v3at_garbage', client_id, client_secret })).statusCode, 200, 'unknown tokens: 200');

    const other = await app.inject({
      method: 'POST',
      url: '/api/v3/auth/apps',
      headers: { authorization: `Bearer ${admin.accessToken}` },
      payload: { app_code: `oauth-other-${Date.now()}`, app_name: 'Other', organizations: ['HQ'], permissions: [] },
    });
    const theirs = await issue(other.json().data.client_id, other.json().data.client_secret);
    t.equal((await revoke({ token: theirs, client_id, client_secret })).statusCode, 200, "another app's token: 200 ...");
    t.equal((await meWith(theirs)).statusCode, 200, '... and it still works');

    const live = await issue(client_id, client_secret);
    const refused = await revoke({ token: live, client_id, client_secret: 'pcs_wrong' });
    t.equal(refused.statusCode, 401);
    t.equal(refused.json().error, 'invalid_client');
    t.equal((await revoke({ token: live })).json().error, 'invalid_client', 'no client authentication');
    t.equal((await revoke({ client_id, client_secret })).json().error, 'invalid_request', 'no token');
    t.equal((await meWith(live)).statusCode, 200, 'refused revocations change nothing');
  });

  t.test('authorization server metadata: the issuer is ISSUER (default http://HOST:PORT), never the request\'s Host', async (t) => {
    const res = await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server', headers: { host: 'attacker.example', 'x-forwarded-host': 'attacker.example' } });
    t.equal(res.statusCode, 200);
    const issuer = app.config.ISSUER;
    t.equal(issuer, 'http://127.0.0.1:3000', 'the default: this service\'s own base URL');
    t.strictSame(res.json(), {
      issuer,
      token_endpoint: `${issuer}/oauth2/token`,
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      revocation_endpoint: `${issuer}/oauth2/revoke`,
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      introspection_endpoint: `${issuer}/oauth2/introspect`,
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      jwks_uri: `${issuer}/.well-known/jwks.json`,
      grant_types_supported: ['client_credentials'],
      response_types_supported: [],
      service_documentation: `${issuer}/docs`,
    });
    t.equal(res.headers['cache-control'], `public, max-age=${app.config.JWKS_MAX_AGE}`);
    t.notMatch(res.body, 'attacker.example', 'the Host header does not leak into the metadata');
    const jwks = await app.inject({ method: 'GET', url: new URL(res.json().jwks_uri).pathname });
    t.equal(jwks.statusCode, 200, 'jwks_uri is served');
    t.ok(Array.isArray(jwks.json().keys), 'a JWK set');
  });
});

t.test('metadata issuer from ISSUER (behind a proxy)', async (t) => {
  const { app } = await buildTestApp(t, { env: { ISSUER: 'https://auth.example.com', JWKS_MAX_AGE: '60' } });
  const res = await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' });
  t.match(res.json(), {
    issuer: 'https://auth.example.com',
    token_endpoint: 'https://auth.example.com/oauth2/token',
    introspection_endpoint: 'https://auth.example.com/oauth2/introspect',
    jwks_uri: 'https://auth.example.com/.well-known/jwks.json',
  });
  t.equal(res.headers['cache-control'], 'public, max-age=60', 'cached for JWKS_MAX_AGE');
});
