/**
 * /api/admin/users: listing (exact user shape, pagination, literal substring search), strict
 * input validation, role gating (403 for a known non-admin, never 401), patching and the
 * last-active-admin rule.
 */
import type { FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { adminEnv, me, type RegisteredUser, registerAdmin, registerUser } from '../helpers/factories.js';

type Json = Record<string, unknown>;

const USER_KEYS = ['createdAt', 'disabled', 'email', 'id', 'lastLoginAt', 'name', 'role', 'updatedAt'];

function listUsers(app: FastifyInstance, token: string | undefined, query: Record<string, string> = {}) {
  return app.inject({
    method: 'GET',
    url: '/api/admin/users',
    query,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
}

function patchUser(app: FastifyInstance, token: string | undefined, id: string, payload: unknown) {
  return app.inject({
    method: 'PATCH',
    url: `/api/admin/users/${id}`,
    payload: payload as Json,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
}

/** The admin view of one user, found by exact email. */
async function findUser(app: FastifyInstance, token: string, email: string): Promise<Json | undefined> {
  const res = await listUsers(app, token, { email });
  return (res.json().users as Json[]).find((user) => user.email === email);
}

t.test('listing', async (t) => {
  const { emails, env } = adminEnv(1);
  const { app } = await buildTestApp(t, { env });
  const admin = await registerAdmin(app, emails[0]!);
  const others: RegisteredUser[] = [];
  for (let i = 0; i < 4; i++) others.push(await registerUser(app, { name: `User ${i}` }));

  t.test('200 with users, page, perPage, total; each user has exactly the public keys', async (t) => {
    const res = await listUsers(app, admin.accessToken);
    t.equal(res.statusCode, 200);
    const body = res.json();
    t.strictSame(Object.keys(body).sort(), ['page', 'perPage', 'total', 'users']);
    t.equal(body.page, 1);
    t.equal(body.perPage, 20);
    t.equal(body.total, 5);
    t.equal(body.users.length, 5);
    for (const user of body.users as Json[]) {
      t.strictSame(Object.keys(user).sort(), USER_KEYS, `keys of ${String(user.email)}`);
    }
    t.notMatch(res.body, /password|argon2/i, 'no password hash in any form');
    const mine = (body.users as Json[]).find((user) => user.id === admin.id)!;
    t.match(mine, { email: admin.email, role: 'ADMIN', disabled: false, name: null });
    t.ok(!Number.isNaN(Date.parse(String(mine.createdAt))), 'createdAt is a date');
  });

  t.test('pagination: perPage=2 walks three disjoint pages with the same total', async (t) => {
    const seen = new Set<string>();
    for (const [page, size] of [[1, 2], [2, 2], [3, 1]] as const) {
      const res = await listUsers(app, admin.accessToken, { perPage: '2', page: String(page) });
      t.equal(res.statusCode, 200);
      const body = res.json();
      t.match(body, { page, perPage: 2, total: 5 });
      t.equal(body.users.length, size, `page ${page} holds ${size}`);
      for (const user of body.users as Json[]) seen.add(String(user.id));
    }
    t.equal(seen.size, 5, 'no user twice, none missing');
    const beyond = await listUsers(app, admin.accessToken, { perPage: '2', page: '4' });
    t.equal(beyond.statusCode, 200);
    t.match(beyond.json(), { users: [], total: 5 });
  });

  t.test('email search is a case-insensitive substring', async (t) => {
    const target = others[2]!;
    const fragment = target.email.slice(5, 25).toUpperCase();
    const res = await listUsers(app, admin.accessToken, { email: fragment });
    t.equal(res.statusCode, 200);
    t.equal(res.json().total, 1);
    t.equal(res.json().users[0].id, target.id);
    t.equal((await listUsers(app, admin.accessToken, { email: 'EXAMPLE.TEST' })).json().total, 5);
    t.equal((await listUsers(app, admin.accessToken, { email: 'no-such-fragment' })).json().total, 0);
  });

  t.test('% and _ and \\ in a search are literal characters, not wildcards', async (t) => {
    const percent = await registerUser(app, { email: `pct%${randomUUID()}@example.test` });
    const underscore = await registerUser(app, { email: `und_${randomUUID()}@example.test` });
    const pctRes = await listUsers(app, admin.accessToken, { email: '%' });
    t.equal(pctRes.statusCode, 200);
    t.equal(pctRes.json().total, 1, 'a search for "%" does not match everything');
    t.equal(pctRes.json().users[0].id, percent.id);
    const undRes = await listUsers(app, admin.accessToken, { email: '_' });
    t.equal(undRes.json().total, 1, 'a search for "_" does not match every character');
    t.equal(undRes.json().users[0].id, underscore.id);
    t.equal((await listUsers(app, admin.accessToken, { email: '\\' })).json().total, 0);
  });

  t.test('bad query strings are 400 VALIDATION_ERROR', async (t) => {
    const bad: Record<string, string>[] = [
      { perPage: '0' },
      { perPage: '101' },
      { page: '0' },
      { page: '-1' },
      { perPage: 'abc' },
      { page: '1.5' },
      { email: '' },
      { role: 'ADMIN' },
      { unknown: '1' },
    ];
    for (const query of bad) {
      const res = await listUsers(app, admin.accessToken, query);
      t.equal(res.statusCode, 400, `${JSON.stringify(query)} -> 400`);
      t.equal(res.json().code, 'VALIDATION_ERROR');
    }
    t.equal((await listUsers(app, admin.accessToken, { perPage: '100' })).statusCode, 200, 'perPage=100 is allowed');
  });
});

t.test('only admins: 403 ROLE_REQUIRED for known non-admins, 401 without a token', async (t) => {
  const { app } = await buildTestApp(t);
  const target = await registerUser(app);
  for (const role of ['PARTNER', 'CONSUMER']) {
    const caller = await registerUser(app, { role });
    const list = await listUsers(app, caller.accessToken);
    t.equal(list.statusCode, 403, `${role} GET -> 403`);
    t.equal(list.json().code, 'ROLE_REQUIRED');
    const patch = await patchUser(app, caller.accessToken, caller.id, { role: 'ADMIN' });
    t.equal(patch.statusCode, 403, `${role} PATCH self to ADMIN -> 403`);
    t.equal(patch.json().code, 'ROLE_REQUIRED');
    t.equal((await me(app, caller.accessToken)).json().role, role, 'role unchanged');
  }
  const anonymous = await listUsers(app, undefined);
  t.equal(anonymous.statusCode, 401);
  t.equal(anonymous.json().code, 'TOKEN_MISSING');
  const anonymousPatch = await patchUser(app, undefined, target.id, { disabled: true });
  t.equal(anonymousPatch.statusCode, 401);
  t.equal(anonymousPatch.json().code, 'TOKEN_MISSING');
});

t.test('patching a user', async (t) => {
  const { emails, env } = adminEnv(1);
  const { app } = await buildTestApp(t, { env });
  const admin = await registerAdmin(app, emails[0]!);

  t.test('role, name, name:null and disabled each return the updated user', async (t) => {
    const user = await registerUser(app, { name: 'Before' });
    const before = (await findUser(app, admin.accessToken, user.email))!;

    const role = await patchUser(app, admin.accessToken, user.id, { role: 'PARTNER' });
    t.equal(role.statusCode, 200);
    t.strictSame(Object.keys(role.json()).sort(), USER_KEYS);
    t.match(role.json(), { id: user.id, email: user.email, role: 'PARTNER', name: 'Before', disabled: false });
    t.ok(Date.parse(role.json().updatedAt) >= Date.parse(String(before.updatedAt)), 'updatedAt moves forward');

    const named = await patchUser(app, admin.accessToken, user.id, { name: 'After' });
    t.equal(named.statusCode, 200);
    t.match(named.json(), { name: 'After', role: 'PARTNER' });

    const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: user.email, password: user.password } });
    const token = login.json().accessToken as string;
    t.equal((await me(app, token)).json().name, 'After');

    const cleared = await patchUser(app, admin.accessToken, user.id, { name: null });
    t.equal(cleared.statusCode, 200);
    t.equal(cleared.json().name, null);
    t.equal((await me(app, token)).json().name, null, '/me reflects the cleared name without a new login');

    const disabled = await patchUser(app, admin.accessToken, user.id, { disabled: true });
    t.equal(disabled.statusCode, 200);
    t.match(disabled.json(), { disabled: true, role: 'PARTNER', name: null });
    t.match(await findUser(app, admin.accessToken, user.email), { disabled: true, role: 'PARTNER', name: null }, 'persisted');
  });

  t.test('a name change shows in /me on the existing token, no re-login', async (t) => {
    const user = await registerUser(app, { name: 'Old Name' });
    t.equal((await me(app, user.accessToken)).json().name, 'Old Name');
    t.equal((await patchUser(app, admin.accessToken, user.id, { name: 'New Name' })).statusCode, 200);
    const res = await me(app, user.accessToken);
    t.equal(res.statusCode, 200);
    t.equal(res.json().name, 'New Name');
  });

  t.test('invalid patches are 400 and change nothing', async (t) => {
    const user = await registerUser(app, { name: 'Stable' });
    const before = await findUser(app, admin.accessToken, user.email);
    const bad: unknown[] = [
      {},
      { role: 'ROOT' },
      { email: 'x' },
      { role: 'ADMIN', email: 'x@example.test' },
      { disabled: 'true' },
      { name: '' },
      { name: 'x'.repeat(201) },
      { name: 42 },
      [],
    ];
    for (const payload of bad) {
      const res = await patchUser(app, admin.accessToken, user.id, payload);
      t.equal(res.statusCode, 400, `${JSON.stringify(payload)} -> 400`);
      t.equal(res.json().code, 'VALIDATION_ERROR');
    }
    t.strictSame(await findUser(app, admin.accessToken, user.email), before, 'user unchanged');
  });

  t.test('unknown id is 404 USER_NOT_FOUND; a non-uuid id is 400', async (t) => {
    const missing = await patchUser(app, admin.accessToken, randomUUID(), { name: 'Ghost' });
    t.equal(missing.statusCode, 404);
    t.equal(missing.json().code, 'USER_NOT_FOUND');
    for (const id of ['not-a-uuid', '1', `${randomUUID()}x`, "1' or '1'='1"]) {
      const res = await patchUser(app, admin.accessToken, encodeURIComponent(id), { name: 'X' });
      t.equal(res.statusCode, 400, `${id} -> 400`);
      t.equal(res.json().code, 'VALIDATION_ERROR');
    }
  });
});

t.test('the last active admin cannot be demoted or disabled', async (t) => {
  const { emails, env } = adminEnv(2);
  const { app } = await buildTestApp(t, { env });
  const first = await registerAdmin(app, emails[0]!);

  for (const payload of [{ role: 'CONSUMER' }, { role: 'PARTNER' }, { disabled: true }, { role: 'CONSUMER', disabled: true }]) {
    const res = await patchUser(app, first.accessToken, first.id, payload);
    t.equal(res.statusCode, 409, `${JSON.stringify(payload)} on the only admin -> 409`);
    t.equal(res.json().code, 'LAST_ADMIN');
  }
  t.match(await findUser(app, first.accessToken, first.email), { role: 'ADMIN', disabled: false }, 'still an active admin');
  t.equal((await me(app, first.accessToken)).statusCode, 200, 'token still works');
  t.equal((await listUsers(app, first.accessToken)).statusCode, 200, 'still allowed in');

  const second = await registerAdmin(app, emails[1]!);
  const demoted = await patchUser(app, first.accessToken, second.id, { role: 'PARTNER' });
  t.equal(demoted.statusCode, 200, 'with two admins, one can be demoted');
  t.equal(demoted.json().role, 'PARTNER');

  const again = await patchUser(app, first.accessToken, first.id, { role: 'CONSUMER' });
  t.equal(again.statusCode, 409, 'the remaining admin is the last one again');
  t.equal(again.json().code, 'LAST_ADMIN');

  t.equal((await patchUser(app, first.accessToken, second.id, { role: 'ADMIN' })).statusCode, 200, 'promotion back works');
  const disabled = await patchUser(app, first.accessToken, second.id, { disabled: true });
  t.equal(disabled.statusCode, 200, 'with two active admins, one can be disabled');
  const last = await patchUser(app, first.accessToken, first.id, { disabled: true });
  t.equal(last.statusCode, 409, 'a disabled admin does not count as active');
  t.equal(last.json().code, 'LAST_ADMIN');
  t.match(await findUser(app, first.accessToken, first.email), { role: 'ADMIN', disabled: false });
});
