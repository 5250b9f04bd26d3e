/**
 * SIGTERM under load against the real server process: in-flight requests finish, new connections
 * are refused, buffered audit events are written, and the process exits 0.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { testEnv } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/database.js';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { freePort } from '../helpers/redis-server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

t.test('SIGTERM: finish in-flight work, flush events, exit 0', async (t) => {
  const database = await createTestDatabase();
  const prefix = uniquePrefix();
  const redis = new Redis(TEST_REDIS_URL);
  t.teardown(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    await database.drop();
  });
  const port = await freePort();
  const adminEmail = `admin-${randomUUID()}@example.test`;
  const env = testEnv({
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    PORT: String(port),
    LOG_LEVEL: 'info',
    ADMIN_EMAIL_ALLOWLIST: adminEmail,
    // Long enough that nothing is flushed by the timer during the test: only shutdown writes them.
    AUDIT_FLUSH_INTERVAL_MS: '60000',
    // Slow password hashing keeps requests in flight when the signal arrives.
    ARGON2_MEMORY_KIB: '65536',
    ARGON2_TIME_COST: '3',
    APP_SECRET_PEPPER: randomBytes(32).toString('base64url'),
  });
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => child.kill('SIGKILL'));
  for (let i = 0; i < 200 && !output.includes('portcullis ready'); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  t.match(output, /portcullis ready/);
  const base = `http://127.0.0.1:${port}`;
  const json = (body: unknown, token?: string) => ({
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });

  const admin = (await (await fetch(`${base}/api/auth/register`, json({ email: adminEmail, password: 'a long admin passphrase', role: 'ADMIN' }))).json()) as { accessToken: string };
  const created = (await (await fetch(`${base}/api/v3/auth/apps`, json({ app_code: `shutdown-${randomUUID().slice(0, 8)}`, app_name: 'Shutdown', organizations: ['HQ'], permissions: [] }, admin.accessToken))).json()) as { data: { app_id: string; client_id: string; client_secret: string } };
  const { app_id, client_id, client_secret } = created.data;
  const issued = await fetch(`${base}/api/v3/auth/token`, json({ client_id, client_secret }));
  t.equal(issued.status, 200, 'a token.issued event is now buffered, not yet written');

  // Requests in flight (slow argon2 registrations) when the signal arrives.
  const inFlight = Array.from({ length: 6 }, () =>
    fetch(`${base}/api/auth/register`, json({ email: `u-${randomUUID()}@example.test`, password: 'a long user passphrase' })).then((r) => r.status),
  );
  // Signal only once the server has received all six (plus the admin's): a request that arrives
  // after the signal is rightly refused with 503, and on a loaded machine 30 ms was not enough.
  const registrationsReceived = () => output.split('\n').filter((line) => line.includes('incoming request') && line.includes('"url":"/api/auth/register"')).length;
  for (let i = 0; i < 400 && registrationsReceived() < 7; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  t.equal(registrationsReceived(), 7, 'all six registrations reached the server before the signal');
  child.kill('SIGTERM');
  const statuses = await Promise.all(inFlight);
  t.strictSame(statuses, [201, 201, 201, 201, 201, 201], 'every in-flight request completed');
  const code = await exited;
  if (code !== 0) t.comment(output.slice(-3000));
  t.equal(code, 0, 'exit code 0');
  t.match(output, /shutting down/);

  const sql = postgres(database.url, { max: 1 });
  t.teardown(() => sql.end());
  const events = await sql<{ event_type: string }[]>`select event_type from audit_logs where app_id = ${app_id} order by created_at`;
  t.strictSame(events.map((row) => row.event_type), ['app.created', 'token.issued'], 'buffered events were flushed on shutdown');
  const [{ users }] = await sql<{ users: number }[]>`select count(*)::int as users from users`;
  t.equal(users, 7, 'the admin and all six in-flight registrations were committed');
});
