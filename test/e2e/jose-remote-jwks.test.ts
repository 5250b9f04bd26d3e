/**
 * A gateway's view of key rotation: jose's createRemoteJWKSet fetches /.well-known/jwks.json from
 * a listening service and verifies user access tokens before, during and after a rotation, never
 * meeting a token whose key it has not already been shown.
 */
import { createRemoteJWKSet, customFetch, decodeProtectedHeader, errors, jwtVerify } from 'jose';
import t from 'tap';
import { createManualClock } from '../../src/lib/clock.js';
import { CLOCK_SKEW_MS } from '../../src/lib/signing-key-schedule.js';
import { buildTestApp } from '../helpers/app.js';
import { adminEnv, login, registerAdmin } from '../helpers/factories.js';
import { freePort } from '../helpers/redis-server.js';

t.test('jose verifies tokens from the remote JWKS before and after a key rotation', async (t) => {
  const clock = createManualClock();
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const { emails, env } = adminEnv();
  const { app, config } = await buildTestApp(t, { clock, env: { ...env, PORT: String(port), ISSUER: issuer } });
  let jwksFetches = 0;
  await app.listen({ host: '127.0.0.1', port });
  const admin = await registerAdmin(app, emails[0]!);

  const gateway = createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`), {
    [customFetch]: (...args: Parameters<typeof fetch>) => {
      jwksFetches++;
      return fetch(...args);
    },
  });
  const verify = (token: string) => jwtVerify(token, gateway, { issuer, audience: config.JWT_AUDIENCE, typ: 'at+jwt', currentDate: new Date(clock.now()) });

  const before = await verify(admin.accessToken);
  t.equal(before.payload.sub, admin.id, 'verified with the key fetched from the JWKS');
  t.equal(before.payload.iss, issuer, 'iss is ISSUER');
  const oldKid = before.protectedHeader.kid;

  const rotated = await app.inject({ method: 'POST', url: '/api/admin/signing-keys', headers: { authorization: `Bearer ${admin.accessToken}` }, payload: {} });
  t.equal(rotated.statusCode, 201);
  const newKid = rotated.json().kid as string;

  // Within JWKS_MAX_AGE (less than the publish delay) the gateway refreshes its copy.
  await gateway.reload();
  t.ok(gateway.jwks()!.keys.some((key) => key.kid === newKid), 'the gateway holds the new key before any token uses it');

  clock.advance(config.SIGNING_KEY_PUBLISH_DELAY * 1000);
  const after = (await login(app, admin.email, admin.password)).json().accessToken as string;
  t.equal(decodeProtectedHeader(after).kid, newKid);
  const fetchesBefore = jwksFetches;
  t.equal((await verify(after)).payload.sub, admin.id, 'a token of the new key verifies');
  t.equal(jwksFetches, fetchesBefore, 'without an unknown-kid refetch');
  t.equal((await verify(admin.accessToken)).protectedHeader.kid, oldKid, 'tokens of the old key still verify');

  clock.advance(config.JWT_ACCESS_TTL * 1000 + CLOCK_SKEW_MS);
  await gateway.reload();
  t.strictSame(gateway.jwks()!.keys.map((key) => key.kid), [newKid], 'the retired key is gone from the JWKS');
  await t.rejects(verify(admin.accessToken), errors.JWKSNoMatchingKey, 'so its tokens no longer verify anywhere');
  const latest = (await login(app, admin.email, admin.password)).json().accessToken as string;
  t.equal((await verify(latest)).protectedHeader.kid, newKid, 'the new key goes on signing and verifying');
});
