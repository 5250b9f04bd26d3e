/**
 * Shared by the API V3 admin tests (v3-admin-*.test.ts): request builders, the one assertion of
 * the V3 envelope that every response goes through, and small factories for apps and tokens.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import type { Test } from 'tap';
import { ERRORS, type ErrorCode } from '../../src/errors.js';

export const V3 = '/api/v3/auth';
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** "YYYY-MM-DD HH:MM:SS" in UTC: the seed contract's datetime format. */
export const V3_DATETIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
export const HOUR = 3_600_000;

export type Json = Record<string, any>;
/** Passed to every assertion of a helper, so a known bug ({todo: 'BUG: ...'}) still runs and reports. */
export interface Extra {
  todo?: string;
}

export type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export interface CallOptions {
  token?: string | undefined;
  /** Omitted: no body and no content type at all. */
  payload?: unknown;
  query?: Record<string, string>;
  requestId?: string;
  headers?: Record<string, string>;
}

/** One request to /api/v3/auth<path>. */
export function call(app: FastifyInstance, method: Method, path: string, options: CallOptions = {}): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = {
    ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    ...(options.requestId ? { 'x-request-id': options.requestId } : {}),
    ...(options.headers ?? {}),
  };
  return app.inject({
    method,
    url: `${V3}${path}`,
    headers,
    ...(options.query ? { query: options.query } : {}),
    ...(options.payload !== undefined ? { payload: options.payload as object } : {}),
  });
}

export const requestId = (label = 'rid') => `${label}-${randomUUID()}`;
export const uniqueCode = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;
export const parseV3Datetime = (value: string) => Date.parse(`${value.replace(' ', 'T')}Z`);

const BASE_META = ['request_id', 'timestamp'];
const LIST_META = ['page', 'per_page', 'request_id', 'timestamp', 'total'];

/**
 * The V3 envelope: {status, data, error?, meta: {request_id, timestamp}} with request_id equal to
 * the x-request-id header; errors carry data null and a catalogued V3 code whose status matches.
 */
export function assertEnvelope(t: Test, res: LightMyRequestResponse, extra: Extra = {}): Json {
  let body: Json;
  try {
    body = res.json();
  } catch {
    t.fail(`body is JSON (got ${res.statusCode} ${res.body.slice(0, 120)})`, extra);
    return {};
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    t.fail('body is an object', extra);
    return {};
  }
  t.match(String(res.headers['content-type']), /^application\/json/, 'JSON content type', extra);
  const isError = body.status === 'error' || (body.status !== 'success' && res.statusCode >= 400);
  t.ok(body.status === 'success' || isError, `status is success or error (got ${String(body.status)})`, extra);
  t.strictSame(Object.keys(body).sort(), isError ? ['data', 'error', 'meta', 'status'] : ['data', 'meta', 'status'], 'envelope keys', extra);
  const meta: Json = body.meta ?? {};
  t.ok(typeof meta.request_id === 'string' && meta.request_id.length > 0, 'meta.request_id', extra);
  t.equal(meta.request_id, res.headers['x-request-id'], 'meta.request_id equals the x-request-id header', extra);
  t.ok(typeof meta.timestamp === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(meta.timestamp) && !Number.isNaN(Date.parse(meta.timestamp)), 'meta.timestamp is an ISO datetime', extra);
  const metaKeys = Object.keys(meta).sort();
  t.ok(
    JSON.stringify(metaKeys) === JSON.stringify(BASE_META) || JSON.stringify(metaKeys) === JSON.stringify(LIST_META),
    `meta keys are request_id, timestamp (+ page, per_page, total) (got ${metaKeys.join(',')})`,
    extra,
  );
  if (isError) {
    const error: Json = body.error ?? {};
    t.equal(body.data, null, 'data is null on an error', extra);
    t.ok(res.statusCode >= 400, 'an error has an error status', extra);
    t.match(String(error.code), /^V3_AUTH_[A-Z_]+$/, 'a V3 error code', extra);
    t.ok(Object.hasOwn(ERRORS, String(error.code)), `code ${String(error.code)} is catalogued`, extra);
    t.equal(ERRORS[error.code as ErrorCode]?.status, res.statusCode, 'status agrees with the catalogue', extra);
    t.ok(typeof error.message === 'string' && error.message.length > 0, 'error.message is a sentence', extra);
    t.ok(Object.keys(error).every((key) => ['code', 'message', 'details'].includes(key)), 'error has only code, message, details', extra);
    if (error.details !== undefined) {
      t.ok(Array.isArray(error.details), 'details is an array', extra);
      for (const detail of (error.details ?? []) as Json[]) {
        t.ok(typeof detail.field === 'string' && typeof detail.message === 'string', 'each detail is {field, message}', extra);
      }
    }
  } else {
    t.ok(res.statusCode < 400, 'success has a 2xx status', extra);
    t.notOk(Object.hasOwn(body, 'error'), 'no error on success', extra);
  }
  return body;
}

/** A successful single-object response: returns data. */
export function expectData(t: Test, res: LightMyRequestResponse, status = 200, extra: Extra = {}): Json {
  const body = assertEnvelope(t, res, extra);
  t.equal(res.statusCode, status, `status ${status} (got ${res.statusCode} ${res.statusCode >= 400 ? res.body.slice(0, 300) : ''})`, extra);
  t.equal(body.status, 'success', 'status success', extra);
  t.strictSame(Object.keys(body.meta ?? {}).sort(), BASE_META, 'meta is request_id and timestamp', extra);
  return (body.data ?? {}) as Json;
}

/** A successful list response: returns data (array) and meta (with page, per_page, total). */
export function expectList(t: Test, res: LightMyRequestResponse, extra: Extra = {}): { data: Json[]; meta: Json } {
  const body = assertEnvelope(t, res, extra);
  t.equal(res.statusCode, 200, `status 200 (got ${res.statusCode} ${res.statusCode >= 400 ? res.body.slice(0, 300) : ''})`, extra);
  t.ok(Array.isArray(body.data), 'data is an array', extra);
  const meta: Json = body.meta ?? {};
  t.strictSame(Object.keys(meta).sort(), LIST_META, 'list meta has page, per_page, total', extra);
  for (const key of ['page', 'per_page', 'total']) t.ok(Number.isInteger(meta[key]), `meta.${key} is an integer`, extra);
  return { data: Array.isArray(body.data) ? (body.data as Json[]) : [], meta };
}

/** An error response with this status and code: returns the error object. */
export function expectError(t: Test, res: LightMyRequestResponse, status: number, code: ErrorCode, extra: Extra = {}): Json {
  const body = assertEnvelope(t, res, extra);
  t.equal(res.statusCode, status, `status ${status} (got ${res.statusCode})`, extra);
  t.equal(body.error?.code, code, `code ${code} (got ${String(body.error?.code)})`, extra);
  return (body.error ?? {}) as Json;
}

/** Every text a validation error carries (message and details), to look for named codes in. */
export const errorText = (error: Json) => JSON.stringify({ message: error.message, details: error.details ?? [] });

export interface CreatedApp {
  app_id: string;
  client_id: string;
  client_secret: string;
  secret_version: number;
  app_code: string;
}

/** Registers an app (HQ, default HQ, orders.orders.read unless overridden); throws unless 201. */
export async function createApp(app: FastifyInstance, token: string, overrides: Json = {}): Promise<CreatedApp> {
  const payload = {
    app_code: uniqueCode('app'),
    app_name: 'Test app',
    organizations: ['HQ'],
    default_organization_id: 'HQ',
    permissions: ['orders.orders.read'],
    ...overrides,
  };
  const res = await call(app, 'POST', '/apps', { token, payload });
  if (res.statusCode !== 201) throw new Error(`create app failed: ${res.statusCode} ${res.body}`);
  return { ...(res.json().data as Omit<CreatedApp, 'app_code'>), app_code: payload.app_code };
}

export interface Credentials {
  client_id: string;
  client_secret: string;
}

/** POST /api/v3/auth/token with JSON client credentials. */
export function issueToken(app: FastifyInstance, credentials: Credentials, options: { requestId?: string; extra?: Json } = {}) {
  return call(app, 'POST', '/token', {
    payload: { client_id: credentials.client_id, client_secret: credentials.client_secret, ...(options.extra ?? {}) },
    ...(options.requestId ? { requestId: options.requestId } : {}),
  });
}

/** An app access token; throws unless issuance succeeds. */
export async function appToken(app: FastifyInstance, credentials: Credentials): Promise<string> {
  const res = await issueToken(app, credentials);
  if (res.statusCode !== 200) throw new Error(`token issuance failed: ${res.statusCode} ${res.body}`);
  return res.json().data.access_token as string;
}

export const appMe = (app: FastifyInstance, token: string) => call(app, 'GET', '/me', { token });

export const getApp = (app: FastifyInstance, token: string, appId: string) => call(app, 'GET', `/apps/${appId}`, { token });

/** A postgres.js client on the test's database, closed at teardown. */
export function openSql(t: Test, databaseUrl: string | undefined) {
  if (!databaseUrl) throw new Error('these tests need the Postgres database (not embedded mode)');
  const sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });
  t.teardown(() => sql.end({ timeout: 5 }));
  return sql;
}

export type Sql = ReturnType<typeof openSql>;

/** Organization code -> id, for every organization in the database. */
export async function organizationIds(sql: Sql): Promise<Record<string, string>> {
  const rows = await sql<{ id: string; code: string }[]>`select id, code from organizations`;
  return Object.fromEntries(rows.map((row) => [row.code, row.id]));
}

export async function appRowCount(sql: Sql, appCode: string): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from apps where app_code = ${appCode}`;
  return row?.n ?? -1;
}
