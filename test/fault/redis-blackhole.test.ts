/**
 * Redis in a network blackhole (connections open, nothing answers): commands time out within the
 * bounded command timeout and requests answer 503 instead of hanging; traffic flows again after.
 */
import t from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { me, registerUser } from '../helpers/factories.js';
import { createTcpProxy } from '../helpers/tcp-proxy.js';

t.test('a blackholed Redis: fast 503s, never a hang or a 500', async (t) => {
  const proxy = await createTcpProxy({ host: '127.0.0.1', port: 6379 });
  t.teardown(() => proxy.close());
  const { app } = await buildTestApp(t, { env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}` } });
  const user = await registerUser(app);
  t.equal((await me(app, user.accessToken)).statusCode, 200);

  proxy.stall();
  const started = Date.now();
  const stalled = await me(app, user.accessToken);
  const elapsed = Date.now() - started;
  t.equal(stalled.statusCode, 503);
  t.equal(stalled.json().code, 'SERVICE_UNAVAILABLE');
  t.ok(stalled.headers['retry-after']);
  t.ok(elapsed < 5000, `answered within the command timeout (${elapsed} ms)`);

  proxy.unblock();
  let status = 0;
  for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
    status = (await me(app, user.accessToken)).statusCode;
    if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.equal(status, 200, 'recovers by itself');
});
