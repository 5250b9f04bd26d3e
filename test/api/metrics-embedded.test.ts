/** GET /metrics on embedded PGlite and the in-process store (its own file: PGlite is slow to start). */
import t from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { me, registerUser } from '../helpers/factories.js';
import { DURATION_COUNT, requests, scrape } from './metrics-helpers.js';

t.test('embedded (PGlite, in-process store): no Redis series, the probe runs on PGlite', async (t) => {
  const { app } = await buildTestApp(t, { embedded: true });
  const user = await registerUser(app);
  t.equal((await me(app, user.accessToken)).statusCode, 200);
  const scraped = await scrape(t, app);
  t.equal(scraped.all('portcullis_redis_command_duration_seconds_count').length, 0, 'nothing pretends to be Redis');
  t.ok(scraped.value('portcullis_db_probe_duration_seconds_count') >= 1);
  t.equal(scraped.value('portcullis_tokens_issued_total', { kind: 'user_access' }), 1);
  t.equal(scraped.value(DURATION_COUNT, requests('/api/auth/me', 'GET', 200)), 1);
});
