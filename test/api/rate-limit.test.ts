/** Per-route rate limits, shared through Redis, with an allowlist; 429 with Retry-After and a code. */
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { buildTestApp } from '../helpers/app.js';
import { registerUser } from '../helpers/factories.js';

const login = (app: Awaited<ReturnType<typeof buildTestApp>>['app'], email: string) =>
  app.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password: 'wrong password here' } });

t.test('login is limited per IP; 429 RATE_LIMITED with Retry-After; other routes keep working', async (t) => {
  const { app } = await buildTestApp(t, { env: { RATE_LIMIT_LOGIN: '3/1m' } });
  const user = await registerUser(app); // each route counts on its own
  for (let i = 0; i < 3; i++) t.equal((await login(app, user.email)).statusCode, 401);
  const limited = await login(app, user.email);
  t.equal(limited.statusCode, 429);
  t.match(limited.json(), { code: 'RATE_LIMITED', error: String, requestId: String });
  t.ok(Number(limited.headers['retry-after']) > 0 && Number(limited.headers['retry-after']) <= 60, 'Retry-After in seconds');
  t.equal(limited.headers['x-ratelimit-limit'], '3');
  const meResponse = await app.inject({ method: 'GET', url: '/api/auth/me', headers: { authorization: `Bearer ${user.accessToken}` } });
  t.equal(meResponse.statusCode, 200, 'the default limit is separate');
  t.equal((await app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200);
});

t.test('limits are shared by every instance on the same Redis', async (t) => {
  const { app, config } = await buildTestApp(t, { env: { RATE_LIMIT_LOGIN: '4/1m' } });
  const second = await buildApp(config);
  t.teardown(() => second.close());
  const statuses = [];
  for (const instance of [app, second, app, second, app]) statuses.push((await login(instance, 'nobody@example.test')).statusCode);
  t.strictSame(statuses, [401, 401, 401, 401, 429], 'the fifth attempt is refused, whichever instance gets it');
});

t.test('an IPv6 client is counted by its /64, an IPv4-mapped address as its IPv4 address', async (t) => {
  const { app } = await buildTestApp(t, { env: { RATE_LIMIT_LOGIN: '2/1m' } });
  const from = (remoteAddress: string) =>
    app.inject({ method: 'POST', url: '/api/auth/login', remoteAddress, payload: { email: 'nobody@example.test', password: 'wrong password here' } });
  t.equal((await from('2001:db8:1:2::a')).statusCode, 401);
  t.equal((await from('2001:db8:1:2:ffff:1:2:3')).statusCode, 401, 'another address of the same /64');
  t.equal((await from('2001:db8:1:2::b')).statusCode, 429, 'the /64 has used its limit: a host there owns every address');
  t.equal((await from('2001:db8:1:3::a')).statusCode, 401, 'the next /64 counts on its own');
  t.equal((await from('198.51.100.9')).statusCode, 401);
  t.equal((await from('::ffff:198.51.100.9')).statusCode, 401);
  t.equal((await from('198.51.100.9')).statusCode, 429, 'the mapped form is the same client');
});

t.test('allowlisted addresses are exempt', async (t) => {
  const { app } = await buildTestApp(t, { env: { RATE_LIMIT_LOGIN: '1/1m', RATE_LIMIT_ALLOWLIST: '10.0.0.0/8, 127.0.0.1' } });
  for (let i = 0; i < 3; i++) t.equal((await login(app, 'nobody@example.test')).statusCode, 401);
});

t.test('the V3 token endpoint: V3_AUTH_RATE_LIMITED in the envelope; allowlisted client ids exempt', async (t) => {
  const allowed = 'cid_AAAAAAAAAAAAAAAAAAAAAA';
  const { app } = await buildTestApp(t, { env: { RATE_LIMIT_TOKEN: '2/1m', RATE_LIMIT_ALLOWLIST: allowed } });
  const token = (clientId: string) => app.inject({ method: 'POST', url: '/api/v3/auth/token', payload: { client_id: clientId, client_secret: 'pcs_x' } });
  const other = 'cid_BBBBBBBBBBBBBBBBBBBBBB';
  t.equal((await token(other)).statusCode, 401);
  t.equal((await token(other)).statusCode, 401);
  const limited = await token(other);
  t.equal(limited.statusCode, 429);
  t.match(limited.json(), { status: 'error', data: null, error: { code: 'V3_AUTH_RATE_LIMITED' } });
  t.ok(Number(limited.headers['retry-after']) > 0);
  t.equal((await token(allowed)).statusCode, 401, 'the allowlisted client id is not limited (wrong secret, so 401)');
  const basic = (clientId: string) =>
    app.inject({
      method: 'POST',
      url: '/oauth2/token',
      headers: { authorization: `Basic ${Buffer.from(`${clientId}:pcs_x`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'grant_type=client_credentials',
    });
  t.equal((await basic(allowed)).statusCode, 401, 'also when the client id comes in HTTP Basic (/oauth2/token)');
  t.equal((await basic(allowed)).statusCode, 401);
  t.equal((await basic(allowed)).statusCode, 401);
  t.equal((await basic(other)).statusCode, 401);
  t.equal((await basic(other)).statusCode, 401);
  t.equal((await basic(other)).statusCode, 429, 'while other clients are limited on that route');
});

t.test('refused requests count too: a flood of bad tokens on a protected route is rate limited', async (t) => {
  const { app } = await buildTestApp(t, { env: { RATE_LIMIT_DEFAULT: '3/1m' } });
  const probe = () => app.inject({ method: 'GET', url: '/api/auth/me', headers: { authorization: 'Bearer not-a-token' } });
  for (let i = 0; i < 3; i++) t.equal((await probe()).json().code, 'TOKEN_INVALID');
  const limited = await probe();
  t.equal(limited.statusCode, 429, 'the limit is checked before the token');
  t.equal(limited.json().code, 'RATE_LIMITED');
});

t.test('the routes that only end access are limited too, on counters of their own', async (t) => {
  const { app } = await buildTestApp(t, { env: { RATE_LIMIT_DEFAULT: '3/1m' } });
  const logout = () => app.inject({ method: 'POST', url: '/api/auth/logout' });
  for (let i = 0; i < 3; i++) t.equal((await logout()).statusCode, 200);
  const limited = await logout();
  t.equal(limited.statusCode, 429, 'a flood of logouts is limited');
  t.equal(limited.json().code, 'RATE_LIMITED');
  const other = await app.inject({ method: 'GET', url: '/api/auth/me', headers: { authorization: 'Bearer not-a-token' } });
  t.equal(other.json().code, 'TOKEN_INVALID', 'and the default counter of the other routes is its own');
});
