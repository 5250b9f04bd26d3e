/**
 * Shared by the support and auth-event API tests (support-endpoints, support-explain,
 * auth-events): an app with one ADMIN, users of each role with sessions, app tokens, requests to
 * /api/support, reads of auth_events, and the "no secret in the answer" assertion.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import type { Test } from 'tap';
import type { Config } from '../../src/config.js';
import { buildTestApp, type TestAppOptions } from '../helpers/app.js';
import { serviceClaims, signLikeTheService } from '../helpers/jwt.js';
import { adminEnv, refreshCookieOf, type RegisteredUser, registerAdmin, registerUser, strongPassword, uniqueEmail } from '../helpers/factories.js';
import { appToken, type CreatedApp, createApp } from './v3-admin-helpers.js';

// Response bodies and rows are untyped JSON; `any` keeps property access readable in assertions.
export type Json = Record<string, any>;
export type Sql = postgres.Sql;

export const SUPPORT = '/api/support';
export const SUPPORT_PERMISSION = 'auth-admin.support.read';
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
export const requestId = (label = 'rid') => `${label}-${randomUUID()}`;
export const sidOf = (token: string): string => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')).sid;

export interface SupportSetup {
  app: FastifyInstance;
  config: Config;
  admin: RegisteredUser;
  sql: Sql;
  databaseUrl: string;
}

/** A fresh app (own database and Redis prefix) with one ADMIN, and a postgres.js client closed at teardown. */
export async function setupSupport(t: Test, options: TestAppOptions = {}): Promise<SupportSetup> {
  const { emails, env } = adminEnv(1);
  const { app, config, databaseUrl } = await buildTestApp(t, { ...options, env: { ...env, ...(options.env ?? {}) } });
  if (!databaseUrl) throw new Error('these tests need the Postgres database (not embedded mode)');
  const sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });
  t.teardown(() => sql.end({ timeout: 5 }));
  const admin = await registerAdmin(app, emails[0]!);
  return { app, config, admin, sql, databaseUrl };
}

export interface CallOptions {
  token?: string | undefined;
  payload?: unknown;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  remoteAddress?: string;
}

/** One request with an optional bearer token. */
export function call(app: FastifyInstance, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, options: CallOptions = {}): Promise<LightMyRequestResponse> {
  return app.inject({
    method,
    url,
    headers: { ...(options.token ? bearer(options.token) : {}), ...(options.headers ?? {}) },
    ...(options.query ? { query: options.query } : {}),
    ...(options.payload !== undefined ? { payload: options.payload as Json } : {}),
    ...(options.remoteAddress ? { remoteAddress: options.remoteAddress } : {}),
  });
}

export const supportGet = (app: FastifyInstance, token: string | undefined, path: string, options: Omit<CallOptions, 'token'> = {}) =>
  call(app, 'GET', `${SUPPORT}${path}`, { ...options, token });
export const supportPost = (app: FastifyInstance, token: string | undefined, path: string, payload: unknown = {}, options: Omit<CallOptions, 'token' | 'payload'> = {}) =>
  call(app, 'POST', `${SUPPORT}${path}`, { ...options, token, payload });
export const explain = (app: FastifyInstance, token: string, body: Json) => supportPost(app, token, '/explain', body);

export interface Session {
  accessToken: string;
  refreshToken: string;
  sessionId: string;
  response: LightMyRequestResponse;
}

/** Logs in with a user agent and address of the caller's choosing; throws unless 200. */
export async function loginAs(app: FastifyInstance, user: { email: string; password: string }, client: { userAgent?: string; ip?: string; requestId?: string } = {}): Promise<Session> {
  const response = await app.inject({
    method: 'POST',
    url: '/api/auth/login',
    headers: { 'user-agent': client.userAgent ?? 'support-tests/1.0', ...(client.requestId ? { 'x-request-id': client.requestId } : {}) },
    ...(client.ip ? { remoteAddress: client.ip } : {}),
    payload: { email: user.email, password: user.password },
  });
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`);
  const accessToken = response.json().accessToken as string;
  return { accessToken, refreshToken: refreshCookieOf(response, app.config.REFRESH_COOKIE_NAME)!.value, sessionId: sidOf(accessToken), response };
}

export const registerWithRole = (app: FastifyInstance, role: 'PARTNER' | 'CONSUMER') => registerUser(app, { role, email: uniqueEmail(role.toLowerCase()), password: strongPassword() });

/** PATCH /api/admin/users/:id as the admin; throws unless 200. */
export async function patchUser(app: FastifyInstance, adminToken: string, id: string, patch: Json, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  const response = await call(app, 'PATCH', `/api/admin/users/${id}`, { token: adminToken, payload: patch, headers });
  if (response.statusCode !== 200) throw new Error(`patch user failed: ${response.statusCode} ${response.body}`);
  return response;
}

export interface AppWithToken extends CreatedApp {
  token: string;
}

/** An app (HQ, the given permissions) created by the admin, and one access token for it. */
export async function appWithToken(app: FastifyInstance, adminToken: string, permissions: string[]): Promise<AppWithToken> {
  const created = await createApp(app, adminToken, { permissions });
  return { ...created, token: await appToken(app, created) };
}

/**
 * A user access token signed with the service's current key and claims, already expired: what a
 * browser holds after JWT_ACCESS_TTL. Built by hand so no clock has to move.
 */
export function expiredAccessToken(app: FastifyInstance, claims: { sub: string; sid: string; role: string }): string {
  const now = Math.floor(app.clock.now() / 1000);
  return signLikeTheService(app, serviceClaims(app, claims, { iat: now - 3600, exp: now - 1800 }));
}

export interface EventRow {
  id: string;
  occurred_at: Date;
  kind: string;
  reason: string | null;
  status: number | null;
  user_id: string | null;
  app_id: string | null;
  email: string | null;
  session_id: string | null;
  token_id: string | null;
  method: string | null;
  route: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  actor: string | null;
  count: number;
  details: Json;
}

/** Flushes the writer, then reads auth_events matching `where` (a fragment), oldest first. */
export async function authEventRows(app: FastifyInstance, sql: Sql, where: postgres.PendingQuery<postgres.Row[]> | null = null): Promise<EventRow[]> {
  await app.authEvents.flush();
  const rows = await sql<EventRow[]>`select * from auth_events ${where ? sql`where ${where}` : sql``} order by occurred_at, id`;
  return rows.map((row) => ({ ...row }));
}

/** The one auth event sent with this x-request-id (and kind), or undefined. */
export async function eventByRequest(app: FastifyInstance, sql: Sql, rid: string, kind?: string): Promise<EventRow | undefined> {
  const rows = await authEventRows(app, sql, kind ? sql`request_id = ${rid} and kind = ${kind}` : sql`request_id = ${rid}`);
  return rows[0];
}

/**
 * The answer holds none of the secrets: no known token or hash string, nothing argon2, no field
 * named like a hash, secret or token value.
 */
export function assertNoSecrets(t: Test, response: LightMyRequestResponse, secrets: string[], label = 'answer') {
  const raw = response.body;
  for (const secret of secrets.filter((value) => value && value.length >= 8)) {
    t.notOk(raw.includes(secret), `${label} does not contain the secret ${secret.slice(0, 12)}...`);
  }
  t.notOk(raw.includes('$argon2'), `${label} contains no argon2 hash`);
  t.notMatch(raw, /"(passwordHash|password_hash|secretHash|secret_hash|tokenHash|token_hash|refreshToken|refresh_token|accessToken|access_token|client_secret|refreshTokenHash)"/, `${label} has no hash, secret or token field`);
}

/** The password hash of a user and every secret hash of an app, read from Postgres to search answers for. */
export async function passwordHashOf(sql: Sql, userId: string): Promise<string> {
  const [row] = await sql<{ password_hash: string }[]>`select password_hash from users where id = ${userId}`;
  return row!.password_hash;
}

export async function secretHashesOf(sql: Sql, appId: string): Promise<string[]> {
  const rows = await sql<{ secret_hash: string }[]>`select secret_hash from app_secrets where app_id = ${appId} order by version`;
  return rows.map((row) => row.secret_hash);
}

/** The JSON API's error code, or the V3 envelope's. */
export const codeOf = (response: LightMyRequestResponse): string | null => {
  try {
    const body = response.json() as Json;
    return (body.code ?? body.error?.code ?? null) as string | null;
  } catch {
    return null;
  }
};
