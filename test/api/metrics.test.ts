/**
 * GET /metrics: the series move with real traffic (requests, denials, tokens, refreshes and reuse,
 * rate limits, Redis and Postgres latency, event buffers), METRICS_TOKEN guards the endpoint, and
 * label cardinality stays bounded however many URLs are made up.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { buildTestApp, testEnv } from '../helpers/app.js';
import { login, me, refresh, refreshCookieOf, registerUser } from '../helpers/factories.js';
import { DURATION_COUNT, parse, requests, Scrape, scrape } from './metrics-helpers.js';
import { createApp, credentials, issueToken, setupV3, tokenFor, V3 } from './v3-helpers.js';

t.test('real traffic moves the series: requests, denials, tokens, refreshes, reuse, backends', async (t) => {
  const { app, admin } = await setupV3(t);
  const before = await scrape(t, app);

  const user = await registerUser(app);
  const loggedIn = await login(app, user.email, user.password);
  t.equal(loggedIn.statusCode, 200);
  for (let i = 0; i < 3; i++) t.equal((await me(app, user.accessToken)).statusCode, 200);
  const denied = await app.inject({ method: 'GET', url: '/api/auth/me' });
  t.equal(denied.json().code, 'TOKEN_MISSING');
  const created = await createApp(app, admin.accessToken);
  await tokenFor(t, app, created);
  const wrongSecret = await issueToken(app, credentials(created, { client_secret: 'pcs_wrong' }));
  t.equal(wrongSecret.statusCode, 401);
  // A rotation, another, then the first token again: two generations old, so reuse.
  const first = await refresh(app, user.refreshToken);
  t.equal(first.statusCode, 200);
  const second = await refresh(app, refreshCookieOf(first)!.value);
  t.equal(second.statusCode, 200);
  const reused = await refresh(app, user.refreshToken);
  t.equal(reused.json().code, 'REFRESH_TOKEN_REUSED');
  t.equal((await refresh(app, undefined)).json().code, 'REFRESH_TOKEN_MISSING');

  const after = await scrape(t, app);
  const delta = (name: string, labels: Record<string, string> = {}) => after.value(name, labels) - before.value(name, labels);

  t.equal(delta(DURATION_COUNT, requests('/api/auth/me', 'GET', 200)), 3, 'three successful /me');
  t.equal(delta(DURATION_COUNT, requests('/api/auth/me', 'GET', 401)), 1, 'one refused /me');
  t.equal(delta(DURATION_COUNT, requests('/api/auth/login', 'POST', 200)), 1);
  t.equal(delta(DURATION_COUNT, requests(`${V3}/token`, 'POST', 200)), 1);
  t.equal(delta(DURATION_COUNT, requests(`${V3}/token`, 'POST', 401)), 1);
  t.ok(after.value('portcullis_http_request_duration_seconds_sum', requests('/api/auth/me', 'GET', 200)) > 0, 'durations are summed');
  const buckets = after.all('portcullis_http_request_duration_seconds_bucket', requests('/api/auth/me', 'GET', 200));
  t.equal(buckets.find((bucket) => bucket.labels.le === '+Inf')?.value, after.value(DURATION_COUNT, requests('/api/auth/me', 'GET', 200)), '+Inf bucket = count');

  t.equal(delta('portcullis_auth_denials_total', { code: 'TOKEN_MISSING' }), 1);
  t.equal(delta('portcullis_auth_denials_total', { code: 'V3_AUTH_INVALID_CLIENT' }), 1);
  t.equal(delta('portcullis_auth_denials_total', { code: 'REFRESH_TOKEN_REUSED' }), 1);
  t.equal(delta('portcullis_auth_denials_total', { code: 'REFRESH_TOKEN_MISSING' }), 1);
  t.equal(delta('portcullis_auth_denials_total', { code: 'ROLE_REQUIRED' }), 0, 'codes that did not happen stay put');
  t.equal(before.value('portcullis_auth_denials_total', { code: 'ROLE_REQUIRED' }), 0, 'and exist from the start, at zero');
  t.equal(after.all('portcullis_auth_denials_total', { code: 'ROLE_REQUIRED' }).length, 1);
  // /me three times; the admin's POST /apps once.
  t.equal(delta('portcullis_auth_allowed_total', { principal: 'user' }), 4);

  // register + login + two rotations.
  t.equal(delta('portcullis_tokens_issued_total', { kind: 'user_access' }), 4);
  t.equal(delta('portcullis_tokens_issued_total', { kind: 'app_access' }), 1);
  t.equal(delta('portcullis_refreshes_total', { outcome: 'rotated' }), 2);
  t.equal(delta('portcullis_refreshes_total', { outcome: 'reused' }), 1, 'reuse detected once');
  t.equal(delta('portcullis_refreshes_total', { outcome: 'missing' }), 1);
  t.equal(delta('portcullis_refreshes_total', { outcome: 'replayed' }), 0);

  const redisCount = (scrape: Scrape) => scrape.all('portcullis_redis_command_duration_seconds_count').reduce((sum, sample) => sum + sample.value, 0);
  t.ok(redisCount(after) - redisCount(before) >= 10, `Redis commands timed (${redisCount(after) - redisCount(before)})`);
  t.ok(after.value('portcullis_redis_command_duration_seconds_count', { command: 'evalsha' }) > 0, 'by command: the Lua scripts');
  t.ok(after.value('portcullis_db_probe_duration_seconds_count') >= 1, 'the Postgres probe ran at start-up');
  t.equal(after.value('portcullis_db_probe_failures_total'), 0);
  for (const buffer of ['audit', 'auth_events']) {
    t.equal(after.all('portcullis_event_buffer_depth', { buffer }).length, 1, `${buffer} depth`);
    t.equal(after.value('portcullis_event_buffer_dropped_total', { buffer }), 0, `${buffer} drops`);
  }
  t.ok(after.all('process_cpu_user_seconds_total').length === 1 && after.all('nodejs_eventloop_lag_seconds').length === 1, 'default process metrics');
});

t.test('event-buffer depth is read at scrape time', async (t) => {
  // A long interval keeps events in the buffer until flushed by hand.
  const { app, admin } = await setupV3(t, { env: { AUDIT_FLUSH_INTERVAL_MS: '60000' } });
  await app.audit.flush();
  await app.authEvents.flush();
  const created = await createApp(app, admin.accessToken);
  await tokenFor(t, app, created);
  await tokenFor(t, app, created);
  const buffered = await scrape(t, app);
  t.equal(buffered.value('portcullis_event_buffer_depth', { buffer: 'audit' }), app.audit.buffer.pending, 'the audit buffer as it is');
  t.ok(buffered.value('portcullis_event_buffer_depth', { buffer: 'audit' }) >= 3, 'app created and two tokens issued, unwritten');
  t.ok(buffered.value('portcullis_event_buffer_depth', { buffer: 'auth_events' }) >= 2, 'two app.token_issued events');
  await app.audit.flush();
  await app.authEvents.flush();
  const flushed = await scrape(t, app);
  t.equal(flushed.value('portcullis_event_buffer_depth', { buffer: 'audit' }), 0, 'empty after a flush');
  t.equal(flushed.value('portcullis_event_buffer_depth', { buffer: 'auth_events' }), 0);
});

t.test('rate-limited requests are counted by route; /metrics itself is never limited', async (t) => {
  const { app } = await buildTestApp(t, { env: { RATE_LIMIT_DEFAULT: '3/1m' } });
  const user = await registerUser(app);
  const statuses = [];
  for (let i = 0; i < 5; i++) statuses.push((await me(app, user.accessToken)).statusCode);
  t.strictSame(statuses, [200, 200, 200, 429, 429]);
  let last: Scrape | undefined;
  for (let i = 0; i < 5; i++) last = await scrape(t, app);
  t.equal(last!.value('portcullis_rate_limit_hits_total', { route: '/api/auth/me' }), 2);
  t.equal(last!.all('portcullis_rate_limit_hits_total').length, 1, 'no other route was limited');
  t.equal(last!.value('portcullis_auth_denials_total', { code: 'RATE_LIMITED' }), 2);
  t.equal(last!.value(DURATION_COUNT, requests('/api/auth/me', 'GET', 429)), 2);
  t.equal(last!.value(DURATION_COUNT, requests('/metrics', 'GET', 200)), 4, 'earlier scrapes are timed too');
});

t.test('METRICS_TOKEN: 401 without it or with a wrong one, 200 with it', async (t) => {
  const token = randomBytes(32).toString('hex');
  const { app } = await buildTestApp(t, { env: { METRICS_TOKEN: token } });
  const attempt = (headers: Record<string, string>) => app.inject({ method: 'GET', url: '/metrics', headers });
  const cases: [string, Record<string, string>, string][] = [
    ['no header', {}, 'TOKEN_MISSING'],
    ['a wrong token', { authorization: `Bearer ${randomBytes(32).toString('hex')}` }, 'TOKEN_INVALID'],
    ['the token with one character more', { authorization: `Bearer ${token}0` }, 'TOKEN_INVALID'],
    ['a prefix of the token', { authorization: `Bearer ${token.slice(0, 16)}` }, 'TOKEN_INVALID'],
    ['another scheme', { authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}` }, 'TOKEN_INVALID'],
    ['a user access token', { authorization: `Bearer ${(await registerUser(app)).accessToken}` }, 'TOKEN_INVALID'],
  ];
  for (const [label, headers, code] of cases) {
    const response = await attempt(headers);
    t.equal(response.statusCode, 401, `${label}: 401`);
    t.equal(response.json().code, code, `${label}: ${code}`);
    t.match(response.headers['www-authenticate'], /^Bearer realm="metrics"/, `${label}: a Bearer challenge`);
    t.notMatch(response.body, /portcullis_|process_/, `${label}: no series leak`);
  }
  const allowed = await scrape(t, app, { authorization: `Bearer ${token}` });
  t.equal(allowed.value('portcullis_auth_denials_total', { code: 'TOKEN_MISSING' }), 1, 'the refusals are counted like any other');
  t.equal(allowed.value('portcullis_auth_denials_total', { code: 'TOKEN_INVALID' }), 5);
  t.equal(allowed.value(DURATION_COUNT, requests('/metrics', 'GET', 401)), 6);
});

t.test('METRICS_TOKEN must be at least 16 bearer-token characters', async (t) => {
  t.throws(() => loadConfig(testEnv({ METRICS_TOKEN: 'too-short' })), ConfigError);
  t.throws(() => loadConfig(testEnv({ METRICS_TOKEN: 'a token with spaces in it' })), ConfigError);
  t.equal(loadConfig(testEnv({ METRICS_TOKEN: 'x'.repeat(16) })).METRICS_TOKEN, 'x'.repeat(16));
  t.equal(loadConfig(testEnv()).METRICS_TOKEN, undefined, 'unset by default: open');
});

t.test('made-up URLs share one series: label cardinality stays bounded', async (t) => {
  const { app } = await buildTestApp(t);
  const paths = Array.from({ length: 50 }, () => `/${randomUUID()}/${randomUUID()}`);
  for (const path of paths) t.equal((await app.inject({ method: 'GET', url: path })).statusCode, 404);
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  const after = new Scrape(parse(text));
  t.equal(after.value(DURATION_COUNT, requests('unmatched', 'GET', 404)), 50);
  t.equal(after.all(DURATION_COUNT, { status_code: '404' }).length, 1, 'one 404 series');
  t.notOk(paths.some((path) => text.includes(path.split('/')[1]!)), 'no made-up path appears as a label');
  // Parametrised routes are labelled by their pattern, not the id in the URL.
  const id = randomUUID();
  t.equal((await app.inject({ method: 'GET', url: `/api/support/users/${id}` })).statusCode, 401);
  const patterned = await scrape(t, app);
  t.equal(patterned.value(DURATION_COUNT, requests('/api/support/users/:id', 'GET', 401)), 1);
  t.notOk(patterned.samples.some((sample) => Object.values(sample.labels).some((value) => value.includes(id))), 'the id is no label');
});

t.test('each app has its own registry', async (t) => {
  const { app, config } = await buildTestApp(t);
  const second = await buildApp(config);
  t.teardown(() => second.close());
  for (let i = 0; i < 3; i++) await app.inject({ method: 'GET', url: '/health/live' });
  await second.inject({ method: 'GET', url: '/health/live' });
  t.equal((await scrape(t, app)).value(DURATION_COUNT, requests('/health/live', 'GET', 200)), 3);
  t.equal((await scrape(t, second)).value(DURATION_COUNT, requests('/health/live', 'GET', 200)), 1);
});
