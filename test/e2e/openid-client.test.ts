/**
 * A real OAuth client, not our own code: openid-client (v6, panva) discovers the service from its
 * RFC 8414 metadata on a listening server, obtains client_credentials tokens, introspects and
 * revokes them, with client_secret_basic and client_secret_post. Discovery validates the issuer
 * against the URL it was given, so ISSUER must be the service's public base URL.
 */
import * as client from 'openid-client';
import t from 'tap';
import type { Test } from 'tap';
import { registerUser } from '../helpers/factories.js';
import { freePort } from '../helpers/redis-server.js';
import { createApp, type CreatedApp, setupV3, v3Get } from '../api/v3-helpers.js';

t.test('openid-client against a listening Portcullis', async (t) => {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const { app, admin } = await setupV3(t, { env: { PORT: String(port), ISSUER: issuer } });
  await app.listen({ host: '127.0.0.1', port });
  const resourceServer = await createApp(app, admin.accessToken, { permissions: ['auth.introspect'] });
  const integration = await createApp(app, admin.accessToken, { permissions: ['orders.orders.read', 'orders.orders.write'] });

  const discover = (created: CreatedApp, auth: 'basic' | 'post' = 'basic', secret = created.client_secret) =>
    client.discovery(
      new URL(issuer),
      created.client_id,
      {},
      auth === 'basic' ? client.ClientSecretBasic(secret) : client.ClientSecretPost(secret),
      { algorithm: 'oauth2', execute: [client.allowInsecureRequests] },
    );

  t.test('discovery reads the metadata and checks its issuer', async (t) => {
    const config = await discover(integration);
    const metadata = config.serverMetadata();
    t.equal(metadata.issuer, issuer, 'issuer is ISSUER, as discovery requires');
    t.equal(metadata.token_endpoint, `${issuer}/oauth2/token`);
    t.equal(metadata.introspection_endpoint, `${issuer}/oauth2/introspect`);
    t.equal(metadata.revocation_endpoint, `${issuer}/oauth2/revoke`);
    t.equal(metadata.jwks_uri, `${issuer}/.well-known/jwks.json`);
    t.strictSame(metadata.introspection_endpoint_auth_methods_supported, ['client_secret_basic', 'client_secret_post']);
    await t.rejects(
      client.discovery(new URL(`http://localhost:${port}`), integration.client_id, {}, client.ClientSecretBasic(integration.client_secret), {
        algorithm: 'oauth2',
        execute: [client.allowInsecureRequests],
      }),
      'discovered under another name, the issuer does not match: refused by the client',
    );
  });

  for (const auth of ['basic', 'post'] as const) {
    t.test(`client_secret_${auth}: token, introspection, revocation, introspection again`, async (t) => {
      const asIntegration = await discover(integration, auth);
      const asResourceServer = await discover(resourceServer, auth);

      const tokens = await client.clientCredentialsGrant(asIntegration, { scope: 'orders.orders.read' });
      t.match(tokens.access_token, /^v3at_/);
      t.equal(tokens.token_type, 'bearer', 'openid-client normalises the type');
      t.equal(tokens.expires_in, app.config.APP_TOKEN_TTL);
      t.equal(tokens.scope, 'orders.orders.read');
      t.equal((await v3Get(app, tokens.access_token, '/me')).statusCode, 200, 'the token works on the API');

      const live = await client.tokenIntrospection(asResourceServer, tokens.access_token);
      t.match(live, {
        active: true,
        client_id: integration.client_id,
        sub: integration.client_id,
        scope: 'orders.orders.read',
        token_type: 'Bearer',
        iss: issuer,
        app_id: integration.app_id,
      });
      // exp is rounded up to the second (a token never dies before its expires_in), iat down.
      t.ok([0, 1].includes(Number(live.exp) - Number(live.iat) - app.config.APP_TOKEN_TTL), 'exp - iat is the token lifetime');

      await client.tokenRevocation(asIntegration, tokens.access_token);
      t.strictSame(await client.tokenIntrospection(asResourceServer, tokens.access_token), { active: false }, 'revoked: inactive');
      t.strictSame(await client.tokenIntrospection(asResourceServer, 'v3at_not-a-token'), { active: false }, 'malformed: inactive');
    });
  }

  t.test('a user access token introspected through the client', async (t) => {
    const user = await registerUser(app);
    const asResourceServer = await discover(resourceServer);
    t.match(await client.tokenIntrospection(asResourceServer, user.accessToken), { active: true, sub: user.id, iss: issuer, aud: app.config.JWT_AUDIENCE, role: 'CONSUMER' });
  });

  t.test('errors reach the client as OAuth errors', async (t) => {
    const expectError = async (t: Test, promise: Promise<unknown>, status: number, error: string) => {
      const thrown = await promise.then(() => null, (caught: unknown) => caught as Record<string, unknown>);
      t.ok(thrown, `rejected (${error})`);
      t.equal(thrown?.status, status, `status ${status}`);
      t.equal(thrown?.error, error, error);
    };
    const wrong = await discover(integration, 'basic', 'pcs_wrong');
    const thrown = await client.clientCredentialsGrant(wrong).then(() => null, (caught: unknown) => caught);
    t.ok(thrown instanceof client.WWWAuthenticateChallengeError || thrown instanceof client.ResponseBodyError, 'wrong secret: rejected');
    t.equal((thrown as { status?: number } | null)?.status, 401);
    await expectError(t, client.clientCredentialsGrant(await discover(integration, 'post', 'pcs_wrong')), 401, 'invalid_client');
    await expectError(t, client.clientCredentialsGrant(await discover(integration), { scope: 'billing.invoices.read' }), 400, 'invalid_scope');
    await expectError(t, client.genericGrantRequest(await discover(integration), 'password', { username: 'u', password: 'p' }), 400, 'unsupported_grant_type');

    const token = (await client.clientCredentialsGrant(await discover(integration))).access_token;
    await expectError(t, client.tokenIntrospection(await discover(integration, 'post'), token), 403, 'insufficient_scope');
    // RFC 7009: revoking another app's token is a silent no-op.
    await client.tokenRevocation(await discover(resourceServer), token);
    t.equal((await client.tokenIntrospection(await discover(resourceServer), token)).active, true, "another app's revocation left the token live");
  });
});
