/**
 * Redis stopped and restarted under a running app: requests that need it fail fast with 503 and
 * Retry-After (never 500, never "allowed"), and the app recovers by itself when Redis is back.
 */
import t from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { me, registerUser, strongPassword, uniqueEmail } from '../helpers/factories.js';
import { createRedisServer } from '../helpers/redis-server.js';

t.test('Redis outage: 503 with Retry-After while down, recovery without restart', async (t) => {
  const redis = await createRedisServer();
  await redis.start();
  t.teardown(() => redis.stop());
  const { app } = await buildTestApp(t, { env: { REDIS_URL: redis.url } });
  const user = await registerUser(app);
  t.equal((await me(app, user.accessToken)).statusCode, 200);

  await redis.stop();
  const started = Date.now();
  const duringOutage = await me(app, user.accessToken);
  t.equal(duringOutage.statusCode, 503, 'fails closed: not allowed, not a 500');
  t.equal(duringOutage.json().code, 'SERVICE_UNAVAILABLE');
  t.equal(duringOutage.headers['retry-after'], '5');
  t.ok(Date.now() - started < 3000, 'fails fast');
  const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: user.email, password: user.password } });
  t.equal(login.statusCode, 503, 'login needs a session store');
  const refresh = await app.inject({ method: 'POST', url: '/api/auth/refresh', cookies: { refresh_token: user.refreshToken } });
  t.equal(refresh.statusCode, 503, 'refresh fails without rotating anything');
  const logout = await app.inject({ method: 'POST', url: '/api/auth/logout', headers: { authorization: `Bearer ${user.accessToken}` } });
  t.equal(logout.statusCode, 503, 'a logout by bearer token cannot claim a revocation it could not make');
  const logoutByCookie = await app.inject({ method: 'POST', url: '/api/auth/logout', cookies: { [app.config.REFRESH_COOKIE_NAME]: user.refreshToken } });
  t.equal(logoutByCookie.statusCode, 503, 'nor by cookie');
  const v3 = await app.inject({ method: 'POST', url: '/api/v3/auth/token', payload: { client_id: 'cid_AAAAAAAAAAAAAAAAAAAAAA', client_secret: 'x' } });
  t.equal(v3.statusCode, 503);
  t.equal(v3.json().error.code, 'V3_AUTH_UNAVAILABLE', 'in the V3 envelope');
  const ready = await app.inject({ method: 'GET', url: '/health/ready' });
  t.equal(ready.statusCode, 503);
  t.match(ready.json(), { checks: { store: 'down' } });
  const lateEmail = uniqueEmail();
  const failedRegistration = await app.inject({ method: 'POST', url: '/api/auth/register', payload: { email: lateEmail, password: strongPassword() } });
  t.equal(failedRegistration.statusCode, 503, 'registration fails as a whole');

  await redis.start();
  let recovered = 0;
  for (let attempt = 0; attempt < 100 && recovered !== 200; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    recovered = (await app.inject({ method: 'GET', url: '/health/ready' })).statusCode;
  }
  t.equal(recovered, 200, 'ready again without a restart');
  // This Redis kept nothing, so the old session is gone: a clean 401, and a fresh login works.
  t.equal((await me(app, user.accessToken)).json().code, 'SESSION_EXPIRED');
  const again = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: user.email, password: user.password } });
  t.equal(again.statusCode, 200);
  t.equal((await me(app, again.json().accessToken)).statusCode, 200);
  const retried = await app.inject({ method: 'POST', url: '/api/auth/register', payload: { email: lateEmail, password: strongPassword() } });
  t.equal(retried.statusCode, 201, 'the failed registration left no account behind');
});
