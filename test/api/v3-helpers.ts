/**
 * Shared flows and assertions for the API V3 tests (v3-token, v3-me, v3-route-permissions,
 * v3-embedded). Every response of /api/v3/auth is in the V3 envelope, so the envelope assertions
 * here check its exact shape on every call that goes through them.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import postgres from 'postgres';
import type { Test } from 'tap';
import { buildTestApp, type TestAppOptions } from '../helpers/app.js';
import { adminEnv, type RegisteredUser, registerAdmin } from '../helpers/factories.js';

// Response bodies are untyped JSON; `any` keeps property access readable in assertions.
export type Json = Record<string, any>;

export const V3 = '/api/v3/auth';
export const V3_DATETIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
export const HOUR = 3_600_000;

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** "YYYY-MM-DD HH:MM:SS" (UTC) -> epoch ms. */
export const parseV3Datetime = (value: string) => Date.parse(`${value.replace(' ', 'T')}Z`);

/** meta: exactly {request_id, timestamp} (plus paging for lists); request_id is the x-request-id header. */
function assertMeta(t: Test, res: LightMyRequestResponse, meta: Json | undefined, list: boolean) {
  t.ok(meta && typeof meta === 'object', 'meta is an object');
  if (!meta) return;
  const keys = list ? ['page', 'per_page', 'request_id', 'timestamp', 'total'] : ['request_id', 'timestamp'];
  t.strictSame(Object.keys(meta).sort(), keys, 'meta keys');
  t.type(meta.request_id, 'string');
  t.ok(meta.request_id.length > 0, 'request_id not empty');
  t.equal(meta.request_id, res.headers['x-request-id'], 'meta.request_id is the x-request-id header');
  t.match(meta.timestamp, ISO_TIMESTAMP, 'meta.timestamp is an ISO date-time');
  t.ok(Math.abs(Date.parse(meta.timestamp) - Date.now()) < 60_000, 'meta.timestamp is now');
}

/** Asserts a V3 success envelope with this status; returns `data`. */
export function assertEnvelopeSuccess(t: Test, res: LightMyRequestResponse, status = 200, options: { list?: boolean } = {}): Json {
  t.equal(res.statusCode, status, `status ${status}${res.statusCode === status ? '' : `: ${res.body}`}`);
  t.match(String(res.headers['content-type']), /^application\/json/, 'JSON');
  const body = res.json() as Json;
  t.strictSame(Object.keys(body).sort(), ['data', 'meta', 'status'], 'success envelope keys');
  t.equal(body.status, 'success');
  t.ok(body.data !== null && typeof body.data === 'object', 'data is present');
  assertMeta(t, res, body.meta, options.list ?? false);
  return body.data as Json;
}

/**
 * Asserts a V3 error envelope with this status and code; returns the whole body. `todo` marks
 * only the status and code assertions (a known bug), so the envelope shape is still checked.
 */
export function assertEnvelopeError(t: Test, res: LightMyRequestResponse, status: number, code: string, options: { todo?: string } = {}): Json {
  const known = options.todo ? { todo: options.todo } : {};
  t.equal(res.statusCode, status, `${status} ${code}${res.statusCode === status ? '' : `: ${res.body}`}`, known);
  t.not(res.statusCode, 500, 'never a 500');
  t.match(String(res.headers['content-type']), /^application\/json/, 'JSON');
  const body = res.json() as Json;
  t.strictSame(Object.keys(body).sort(), ['data', 'error', 'meta', 'status'], 'error envelope keys');
  t.equal(body.status, 'error');
  t.equal(body.data, null, 'data is null');
  t.equal(body.error?.code, code, `error.code ${code}`, known);
  t.type(body.error?.message, 'string');
  t.ok(String(body.error?.message).length > 0, 'error.message not empty');
  const extra = Object.keys(body.error ?? {}).filter((key) => !['code', 'message', 'details'].includes(key));
  t.strictSame(extra, [], 'error holds only code, message and details');
  assertMeta(t, res, body.meta, false);
  return body;
}

/** The WWW-Authenticate header of a 401 for a presented but refused token (RFC 6750 section 3). */
export function assertInvalidTokenChallenge(t: Test, res: LightMyRequestResponse, code: string) {
  const header = String(res.headers['www-authenticate'] ?? '');
  t.match(header, /^Bearer realm="portcullis"/, 'WWW-Authenticate Bearer challenge');
  t.match(header, 'error="invalid_token"', 'error="invalid_token"');
  t.match(header, `error_description="${code}"`, `error_description names ${code}, as the body does`);
}

// ---------------------------------------------------------------------------------------------
// App and admin set-up

export interface V3Setup {
  app: FastifyInstance;
  admin: RegisteredUser;
  databaseUrl: string | undefined;
  /** Redis client for assertions on the store; null when embedded. */
  redis: Redis | null;
}

/** A fresh app (own database and Redis prefix) with one registered ADMIN user. */
export async function setupV3(t: Test, options: TestAppOptions = {}): Promise<V3Setup> {
  const { emails, env } = adminEnv(1);
  const { app, databaseUrl, redis } = await buildTestApp(t, { ...options, env: { ...env, ...(options.env ?? {}) } });
  const admin = await registerAdmin(app, emails[0]!);
  return { app, admin, databaseUrl, redis };
}

export const uniqueAppCode = (label = 'app') => `${label}-${randomUUID()}`;

export interface CreateAppBody {
  app_code?: string;
  app_name?: string;
  description?: string | null;
  default_organization_id?: string | null;
  organizations?: string[];
  permissions?: string[];
}

export interface CreatedApp {
  app_id: string;
  client_id: string;
  client_secret: string;
  app_code: string;
}

/** Calls an admin route with a bearer token. */
export function v3Call(app: FastifyInstance, token: string | undefined, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, payload?: unknown) {
  return app.inject({
    method,
    url: `${V3}${path}`,
    headers: token ? bearer(token) : {},
    ...(payload !== undefined ? { payload: payload as Json } : {}),
  });
}

/**
 * POST /apps; defaults: one organization (HQ), orders.orders.read. Asserts the 201 envelope.
 * Pass `t` to assert through it; without, a non-201 throws.
 */
export async function createApp(app: FastifyInstance, adminToken: string, overrides: CreateAppBody = {}, t?: Test): Promise<CreatedApp> {
  const body = {
    app_code: uniqueAppCode(),
    app_name: 'Test app',
    organizations: ['HQ'],
    permissions: ['orders.orders.read'],
    ...overrides,
  };
  const res = await v3Call(app, adminToken, 'POST', '/apps', body);
  if (t) assertEnvelopeSuccess(t, res, 201);
  if (res.statusCode !== 201) throw new Error(`create app failed: ${res.statusCode} ${res.body}`);
  const data = res.json().data as Json;
  return { app_id: data.app_id, client_id: data.client_id, client_secret: data.client_secret, app_code: body.app_code };
}

export interface TokenBody {
  grant_type?: string;
  client_id?: string;
  client_secret?: string;
  organization_code?: string;
  organization_id?: string;
  [extra: string]: unknown;
}

/** POST /token, as JSON (default) or application/x-www-form-urlencoded. */
export function issueToken(app: FastifyInstance, body: TokenBody, options: { form?: boolean; headers?: Record<string, string> } = {}) {
  if (options.form) {
    const form = new URLSearchParams(Object.entries(body).map(([key, value]): [string, string] => [key, String(value)]));
    return app.inject({
      method: 'POST',
      url: `${V3}/token`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...options.headers },
      payload: form.toString(),
    });
  }
  return app.inject({ method: 'POST', url: `${V3}/token`, headers: options.headers ?? {}, payload: body as Json });
}

/** The credentials of a created app as a token request body. */
export const credentials = (created: CreatedApp, extra: TokenBody = {}): TokenBody => ({
  client_id: created.client_id,
  client_secret: created.client_secret,
  ...extra,
});

/** Issues a token for the app (asserting success) and returns the token response `data`. */
export async function tokenFor(t: Test, app: FastifyInstance, created: CreatedApp, extra: TokenBody = {}): Promise<Json> {
  return assertEnvelopeSuccess(t, await issueToken(app, credentials(created, extra)));
}

export function v3Get(app: FastifyInstance, token: string | undefined, path: string, headers: Record<string, string> = {}) {
  return app.inject({ method: 'GET', url: `${V3}${path}`, headers: { ...(token ? bearer(token) : {}), ...headers } });
}

export const suspendApp = (app: FastifyInstance, adminToken: string, appId: string) => v3Call(app, adminToken, 'POST', `/apps/${appId}/suspend`, {});
export const reactivateApp = (app: FastifyInstance, adminToken: string, appId: string) => v3Call(app, adminToken, 'POST', `/apps/${appId}/reactivate`, {});
export const revokeApp = (app: FastifyInstance, adminToken: string, appId: string) => v3Call(app, adminToken, 'POST', `/apps/${appId}/revoke`, {});
export const rotateSecret = (
  app: FastifyInstance,
  adminToken: string,
  appId: string,
  body: { grace_hours?: number; revoke_existing_tokens?: boolean; reason?: string } = {},
) => v3Call(app, adminToken, 'POST', `/apps/${appId}/rotate-secret`, body);
export const replacePermissions = (app: FastifyInstance, adminToken: string, appId: string, permissions: string[]) =>
  v3Call(app, adminToken, 'PUT', `/apps/${appId}/permissions`, { permissions });
export const replaceOrganizations = (
  app: FastifyInstance,
  adminToken: string,
  appId: string,
  body: { organizations: string[]; default_organization_id?: string | null },
) => v3Call(app, adminToken, 'PUT', `/apps/${appId}/organizations`, body);

/** Organization code -> id, from the admin catalog. */
export async function organizationIds(app: FastifyInstance, adminToken: string): Promise<Record<string, string>> {
  const res = await v3Call(app, adminToken, 'GET', '/organizations');
  if (res.statusCode !== 200) throw new Error(`organizations failed: ${res.statusCode} ${res.body}`);
  return Object.fromEntries((res.json().data as Json[]).map((org) => [org.organization_code, org.organization_id]));
}

// ---------------------------------------------------------------------------------------------
// Direct database access (assertions on audit_logs, route_permissions set-up)

/** Runs `work` with a short-lived postgres.js client on the test's database. */
export async function withSql<T>(databaseUrl: string | undefined, work: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  if (!databaseUrl) throw new Error('this test needs the Postgres-backed app (databaseUrl)');
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    return await work(sql);
  } finally {
    await sql.end();
  }
}

export interface AuditRow {
  app_id: string | null;
  event_type: string;
  actor: string;
  ip: string | null;
  request_id: string | null;
  details: Json;
}

/** audit_logs rows of one event type, optionally of one app, oldest first. */
export function auditRows(databaseUrl: string | undefined, eventType: string, appId?: string | null): Promise<AuditRow[]> {
  return withSql(databaseUrl, async (sql) => {
    const rows = await sql<AuditRow[]>`
      select app_id, event_type, actor, ip, request_id, details from audit_logs
      where event_type = ${eventType} ${appId === undefined ? sql`` : appId === null ? sql`and app_id is null` : sql`and app_id = ${appId}`}
      order by created_at, id`;
    return rows.map((row) => ({ ...row }));
  });
}
