/** POST /api/auth/bootstrap: the first admin, exactly once, and hidden in production unless allowed. */
import type { FastifyInstance } from 'fastify';
import t from 'tap';
import postgres from 'postgres';
import { buildTestApp } from '../helpers/app.js';
import { adminEnv, login, registerAdmin, registerUser, strongPassword, uniqueEmail } from '../helpers/factories.js';

const BOOTSTRAP = '/api/auth/bootstrap';

const bootstrap = (app: FastifyInstance, payload: Record<string, unknown>) => app.inject({ method: 'POST', url: BOOTSTRAP, payload });

/** Production refuses to start without its secrets; buildTestApp supplies the rest. */
const PRODUCTION = { NODE_ENV: 'production', APP_SECRET_PEPPER: 'p'.repeat(40) };

const adminBody = (email = uniqueEmail('admin'), password = strongPassword()) => ({ email, password, name: 'First Admin' });

async function countUsers(databaseUrl: string): Promise<{ admins: number; users: number }> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ admins: number; users: number }[]>`
      select count(*) filter (where role = 'ADMIN')::int as admins, count(*)::int as users from users`;
    return row!;
  } finally {
    await sql.end();
  }
}

t.test('creates the first admin, who can then log in as ADMIN', async (t) => {
  const { app, databaseUrl } = await buildTestApp(t);
  const body = adminBody();
  const response = await bootstrap(app, { ...body, email: `  ${body.email.toUpperCase()} ` });
  t.equal(response.statusCode, 201);
  t.strictSame(response.json(), { message: 'Admin user created successfully' });
  t.strictSame(await countUsers(databaseUrl!), { admins: 1, users: 1 });

  const session = await login(app, body.email, body.password);
  t.equal(session.statusCode, 200, 'login with the normalised email');
  t.match(session.json().user, { email: body.email, name: 'First Admin', role: 'ADMIN' });
  const admin = await app.inject({ method: 'GET', url: '/api/admin/users', headers: { authorization: `Bearer ${session.json().accessToken}` } });
  t.equal(admin.statusCode, 200, 'and use the admin API');
});

t.test('a second call -> 409 ADMIN_EXISTS and creates nothing', async (t) => {
  const { app, databaseUrl } = await buildTestApp(t);
  t.equal((await bootstrap(app, adminBody())).statusCode, 201);
  const second = adminBody();
  const response = await bootstrap(app, second);
  t.equal(response.statusCode, 409);
  t.equal(response.json().code, 'ADMIN_EXISTS');
  t.strictSame(await countUsers(databaseUrl!), { admins: 1, users: 1 });
  t.equal((await login(app, second.email, second.password)).statusCode, 401, 'the second address has no account');
});

t.test('an admin registered through the allowlist counts as existing', async (t) => {
  const admins = adminEnv(1);
  const { app } = await buildTestApp(t, { env: admins.env });
  await registerAdmin(app, admins.emails[0]!);
  const response = await bootstrap(app, adminBody());
  t.equal(response.statusCode, 409);
  t.equal(response.json().code, 'ADMIN_EXISTS');
});

t.test('non-admin users do not block it', async (t) => {
  const { app } = await buildTestApp(t);
  await registerUser(app);
  await registerUser(app, { role: 'PARTNER' });
  t.equal((await bootstrap(app, adminBody())).statusCode, 201);
});

t.test('10 concurrent calls with different emails create exactly one admin', async (t) => {
  const { app, databaseUrl } = await buildTestApp(t);
  const bodies = Array.from({ length: 10 }, () => adminBody());
  const responses = await Promise.all(bodies.map((body) => bootstrap(app, body)));
  const statuses = responses.map((response) => response.statusCode).sort();
  t.strictSame(statuses, [201, ...Array(9).fill(409)], 'one 201, nine 409');
  for (const response of responses.filter((response) => response.statusCode === 409)) t.equal(response.json().code, 'ADMIN_EXISTS');
  t.strictSame(await countUsers(databaseUrl!), { admins: 1, users: 1 }, 'exactly one ADMIN row');
  const winner = bodies[responses.findIndex((response) => response.statusCode === 201)]!;
  t.equal((await login(app, winner.email, winner.password)).json().user.role, 'ADMIN');
});

t.test('a weak password -> 400 and no admin is created', async (t) => {
  const { app, databaseUrl } = await buildTestApp(t);
  const common = await bootstrap(app, adminBody(uniqueEmail('admin'), 'password1'));
  t.equal(common.statusCode, 400);
  t.equal(common.json().code, 'PASSWORD_TOO_COMMON');
  const short = await bootstrap(app, adminBody(uniqueEmail('admin'), 'x9$kQ2z'));
  t.equal(short.statusCode, 400);
  t.equal(short.json().code, 'PASSWORD_TOO_SHORT');
  t.strictSame(await countUsers(databaseUrl!), { admins: 0, users: 0 });
  t.equal((await bootstrap(app, adminBody())).statusCode, 201, 'bootstrap is still available');
});

t.test('input is validated strictly', async (t) => {
  const { app, databaseUrl } = await buildTestApp(t);
  const { name: _name, ...withoutName } = adminBody();
  for (const payload of [withoutName, { ...adminBody(), role: 'CONSUMER' }, { ...adminBody(), password: 123456789 }]) {
    const response = await bootstrap(app, payload);
    t.equal(response.statusCode, 400);
    t.equal(response.json().code, 'VALIDATION_ERROR');
  }
  t.strictSame(await countUsers(databaseUrl!), { admins: 0, users: 0 });
});

t.test('in production it is not served unless ALLOW_BOOTSTRAP=true', async (t) => {
  t.test('ALLOW_BOOTSTRAP unset -> 404', async (t) => {
    const { app, databaseUrl, config } = await buildTestApp(t, { env: PRODUCTION });
    t.equal(config.isProduction, true);
    const response = await bootstrap(app, adminBody());
    t.equal(response.statusCode, 404);
    t.equal(response.json().code, 'NOT_FOUND');
    t.strictSame(await countUsers(databaseUrl!), { admins: 0, users: 0 });
  });

  t.test('ALLOW_BOOTSTRAP=false -> 404', async (t) => {
    const { app } = await buildTestApp(t, { env: { ...PRODUCTION, ALLOW_BOOTSTRAP: 'false' } });
    t.equal((await bootstrap(app, adminBody())).statusCode, 404);
  });

  t.test('ALLOW_BOOTSTRAP=true -> served', async (t) => {
    const { app, databaseUrl } = await buildTestApp(t, { env: { ...PRODUCTION, ALLOW_BOOTSTRAP: 'true' } });
    const body = adminBody();
    const response = await bootstrap(app, body);
    t.equal(response.statusCode, 201);
    t.strictSame(await countUsers(databaseUrl!), { admins: 1, users: 1 });
    t.equal((await login(app, body.email, body.password)).json().user.role, 'ADMIN');
    t.equal((await bootstrap(app, adminBody())).statusCode, 409, 'still only once');
  });
});
