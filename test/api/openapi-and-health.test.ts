/**
 * GET /openapi.json documents every /api/auth and /api/admin route (body schemas, statuses,
 * security) and nothing that is not served; /docs serves the UI; /health/live and /health/ready
 * report on the real Postgres and Redis.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import t from 'tap';
import { ERRORS } from '../../src/errors.js';
import { buildTestApp } from '../helpers/app.js';
import { adminEnv, registerAdmin } from '../helpers/factories.js';

type Json = Record<string, any>;

interface RouteDoc {
  method: 'get' | 'post' | 'patch' | 'delete';
  path: string;
  /** Properties of the JSON request body, or null for no body. */
  body: { properties: string[]; required: string[] } | null;
  statuses: number[];
  bearer: boolean;
}

const ID = '{id}';
const ROUTES: RouteDoc[] = [
  { method: 'post', path: '/api/auth/register', body: { properties: ['email', 'name', 'password', 'role'], required: ['email', 'password'] }, statuses: [201, 400, 403, 409, 413, 415], bearer: false },
  { method: 'post', path: '/api/auth/login', body: { properties: ['email', 'password'], required: ['email', 'password'] }, statuses: [200, 400, 401, 403, 413, 415, 429], bearer: false },
  { method: 'post', path: '/api/auth/refresh', body: null, statuses: [200, 401, 403, 429], bearer: false },
  { method: 'post', path: '/api/auth/refresh-token', body: null, statuses: [200, 401, 403, 429], bearer: false },
  { method: 'post', path: '/api/auth/logout', body: null, statuses: [200, 403], bearer: false },
  { method: 'post', path: '/api/auth/logout-all', body: null, statuses: [200, 401, 403], bearer: true },
  { method: 'get', path: '/api/auth/me', body: null, statuses: [200, 401, 403], bearer: true },
  { method: 'get', path: '/api/auth/check', body: null, statuses: [200, 400, 401, 403], bearer: true },
  { method: 'get', path: '/api/auth/sessions', body: null, statuses: [200, 401, 403], bearer: true },
  { method: 'delete', path: `/api/auth/sessions/${ID}`, body: null, statuses: [200, 400, 401, 403, 404], bearer: true },
  { method: 'post', path: '/api/auth/bootstrap', body: { properties: ['email', 'name', 'password'], required: ['email', 'name', 'password'] }, statuses: [201, 400, 409, 413, 415], bearer: false },
  { method: 'get', path: '/api/admin/users', body: null, statuses: [200, 400, 401, 403], bearer: true },
  { method: 'patch', path: `/api/admin/users/${ID}`, body: { properties: ['disabled', 'name', 'role'], required: [] }, statuses: [200, 400, 401, 403, 404, 409, 413, 415], bearer: true },
  { method: 'get', path: '/api/admin/signing-keys', body: null, statuses: [200, 401, 403], bearer: true },
  { method: 'post', path: '/api/admin/signing-keys', body: { properties: ['algorithm'], required: [] }, statuses: [201, 400, 401, 403, 409, 413, 415], bearer: true },
];

const ADMIN_USER_KEYS = ['createdAt', 'disabled', 'email', 'id', 'lastLoginAt', 'name', 'role', 'updatedAt'];

async function openapi(app: FastifyInstance): Promise<Json> {
  const res = await app.inject({ method: 'GET', url: '/openapi.json' });
  if (res.statusCode !== 200) throw new Error(`/openapi.json: ${res.statusCode}`);
  return res.json();
}

const schemaOf = (op: Json, status: number | 'body'): Json =>
  (status === 'body' ? op.requestBody : op.responses?.[String(status)])?.content?.['application/json']?.schema ?? {};

t.test('/openapi.json', async (t) => {
  const { emails, env } = adminEnv(1);
  const { app } = await buildTestApp(t, { env });
  const res = await app.inject({ method: 'GET', url: '/openapi.json' });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^application\/json/);
  const doc = await openapi(app);
  t.match(doc.openapi, /^3\.\d+\.\d+$/, 'OpenAPI 3.x');
  t.match(doc.info, { title: 'Portcullis', version: String });
  t.match(doc.components?.securitySchemes?.bearerAuth, { type: 'http', scheme: 'bearer' });

  const documented = Object.entries<Json>(doc.paths)
    // The user-facing API; /api/v3 is covered by its own tests.
    .filter(([path]) => path.startsWith('/api/auth/') || path.startsWith('/api/admin/'))
    .flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();
  t.strictSame(documented, ROUTES.map((r) => `${r.method.toUpperCase()} ${r.path}`).sort(), 'exactly the served /api/auth and /api/admin routes, each once');
  t.notOk(doc.paths['/openapi.json'], 'the spec route hides itself');

  for (const route of ROUTES) {
    t.test(`${route.method.toUpperCase()} ${route.path}`, async (t) => {
      const op = doc.paths[route.path]?.[route.method] as Json;
      t.ok(op, 'documented');
      t.strictSame(Object.keys(op.responses ?? {}).map(Number).sort((a, b) => a - b), route.statuses, 'every status it returns');
      if (route.body) {
        const body = schemaOf(op, 'body');
        t.equal(body.type, 'object');
        t.strictSame(Object.keys(body.properties ?? {}).sort(), route.body.properties, 'body properties');
        t.strictSame([...(body.required ?? [])].sort(), route.body.required, 'required body properties');
        t.equal(body.additionalProperties, false, 'unknown body fields are rejected, and documented as such');
      } else {
        t.notOk(op.requestBody, 'no request body');
      }
      if (route.path.includes(ID)) t.match(op.parameters, [{ in: 'path', name: 'id', required: true }]);
      t.equal(Boolean(op.security?.some((s: Json) => 'bearerAuth' in s)), route.bearer, route.bearer ? 'bearer security' : 'no bearer security');
      for (const status of route.statuses.filter((s) => s >= 400)) {
        const error = schemaOf(op, status);
        t.strictSame([...(error.required ?? [])].sort(), ['code', 'error', 'requestId'], `${status}: the error shape`);
        t.strictSame([...(error.properties?.code?.enum ?? [])].sort(), Object.keys(ERRORS).sort(), `${status}: codes from the catalogue`);
      }
    });
  }

  t.test('/api/auth/login documents 200 and 401 with their bodies', async (t) => {
    const login = doc.paths['/api/auth/login'].post;
    t.match(schemaOf(login, 200), { properties: { accessToken: { type: 'string' }, user: { properties: { id: {}, email: {}, role: {} } } } });
    t.ok(schemaOf(login, 401).properties?.requestId, '401 carries the error shape');
  });

  t.test('the admin user schema is an allowlist without the password hash', async (t) => {
    const list = schemaOf(doc.paths['/api/admin/users'].get, 200);
    t.strictSame(Object.keys(list.properties?.users?.items?.properties ?? {}).sort(), ADMIN_USER_KEYS);
    const patched = schemaOf(doc.paths[`/api/admin/users/${ID}`].patch, 200);
    t.strictSame(Object.keys(patched.properties ?? {}).sort(), ADMIN_USER_KEYS);
    t.notMatch(JSON.stringify(doc), /passwordHash|password_hash/, 'no hash field anywhere in the spec');
  });

  t.test('every documented route is really served', async (t) => {
    for (const route of ROUTES) {
      const url = route.path.replace(ID, '00000000-0000-4000-8000-000000000000');
      const res: LightMyRequestResponse = await app.inject({ method: route.method.toUpperCase() as 'GET', url, ...(route.body ? { payload: {} } : {}) });
      t.not(res.json().code, 'NOT_FOUND', `${route.method.toUpperCase()} ${url} is routed`);
      t.ok(res.statusCode < 500, `${route.method.toUpperCase()} ${url} does not fail (${res.statusCode})`);
    }
  });

  t.test('routes with a body also document the 413 and 415 they return', async (t) => {
    const patch = doc.paths[`/api/admin/users/${ID}`].patch;
    // Authentication runs first (an anonymous caller gets 401), so these need an admin.
    const admin = await registerAdmin(app, emails[0]!);
    const authorization = `Bearer ${admin.accessToken}`;
    const xml = await app.inject({ method: 'PATCH', url: '/api/admin/users/00000000-0000-4000-8000-000000000000', payload: '<a/>', headers: { 'content-type': 'application/xml', authorization } });
    t.equal(xml.statusCode, 415, 'PATCH with XML is 415');
    const big = await app.inject({ method: 'PATCH', url: '/api/admin/users/00000000-0000-4000-8000-000000000000', payload: { name: 'n'.repeat(20_000) }, headers: { authorization } });
    t.equal(big.statusCode, 413, 'PATCH with a 20 KB body is 413');
    t.ok(patch.responses['413'], 'PATCH documents 413');
    t.ok(patch.responses['415'], 'PATCH documents 415');
  });
});

t.test('/docs serves the UI', async (t) => {
  const { app } = await buildTestApp(t);
  let res = await app.inject({ method: 'GET', url: '/docs' });
  for (let hops = 0; res.statusCode >= 300 && res.statusCode < 400 && hops < 3; hops++) {
    const location = String(res.headers.location);
    res = await app.inject({ method: 'GET', url: new URL(location, 'http://localhost/docs/').pathname });
  }
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^text\/html/);
  t.match(res.body, /<html/i);
  t.match(res.body, /swagger/i);
});

t.test('health', async (t) => {
  const { app } = await buildTestApp(t);
  const live = await app.inject({ method: 'GET', url: '/health/live' });
  t.equal(live.statusCode, 200);
  t.strictSame(live.json(), { status: 'ok' });
  const ready = await app.inject({ method: 'GET', url: '/health/ready' });
  t.equal(ready.statusCode, 200);
  t.strictSame(ready.json(), { status: 'ok', checks: { database: 'ok', store: 'ok' } }, 'Postgres and Redis both answer');
  const head = await app.inject({ method: 'HEAD', url: '/health/live' });
  t.equal(head.statusCode, 200, 'HEAD works for probes');
});

// Regression: a load-shed 503 on /health/ready was rendered against the route's own 503 schema,
// failed to serialize, and the probe read 500.
t.test('health under real event-loop lag: not right after start-up; then readiness sheds with 503 SERVICE_UNAVAILABLE, liveness stays 200, nothing is a 500', async (t) => {
  const { app } = await buildTestApp(t, { env: { MAX_EVENT_LOOP_DELAY_MS: '1' } });
  const busy = (ms: number) => {
    const end = Date.now() + ms;
    while (Date.now() < end);
  };
  // Lag sampled within two samples of start-up is the start-up's own work, not load (a fresh
  // instance used to refuse its first second of requests).
  busy(1500);
  await new Promise((resolve) => setTimeout(resolve, 50)); // the overdue sample is taken now
  const early = await app.inject({ method: 'GET', url: '/health/ready' });
  t.equal(early.statusCode, 200, `not shed right after start-up ${early.body}`);

  const statuses: number[] = [];
  let shed: LightMyRequestResponse | undefined;
  for (let attempt = 0; attempt < 80 && !shed; attempt++) {
    busy(60);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const ready = await app.inject({ method: 'GET', url: '/health/ready' });
    const live = await app.inject({ method: 'GET', url: '/health/live' });
    statuses.push(ready.statusCode, live.statusCode);
    t.equal(live.statusCode, 200, 'liveness is exempt');
    if (ready.statusCode === 503) shed = ready;
  }
  t.notOk(statuses.includes(500), `no 500 among ${statuses.join(',')}`);
  t.ok(shed, 'the lag was noticed');
  t.match(shed?.json(), { code: 'SERVICE_UNAVAILABLE' });
  t.equal(shed?.headers['retry-after'], '2');
});
