/**
 * Data preparation, fast enough for 10,000 users without 10,000 argon2 logins:
 * - users are inserted with Drizzle, all sharing one argon2id hash made with the service's own
 *   parameters (loadConfig of the service's env);
 * - sessions are created through the service's session store code (createRedisSessionStore, the
 *   same keys and refresh-token codec), exactly as startSession() does, so refresh tokens are real;
 * - access tokens come from the running service itself: one POST /api/auth/refresh per session,
 *   which rotates the refresh token and returns an access token signed by the service's key ring;
 * - apps are registered through the V3 admin API by an admin who logged in once, and their tokens
 *   issued through POST /api/v3/auth/token.
 */
import { type Algorithm, hash } from '@node-rs/argon2';
import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import type { Config } from '../src/config.js';
import { type DatabaseHandle, openDatabase } from '../src/db/client.js';
import { migrateDatabase } from '../src/db/migrate.js';
import { permissions, users } from '../src/db/schema.js';
import { seedReferenceData } from '../src/db/seed.js';
import { createRefreshTokenCodec } from '../src/lib/refresh-token.js';
import type { SessionStore } from '../src/redis/session-store.js';
import { BENCH_PASSWORD } from './settings.js';

export const INTROSPECT_PERMISSION = 'auth.introspect';
const ARGON2ID = 2 as Algorithm;

export const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
];
export const clientIp = (i: number) => `198.51.${(i >> 8) & 255}.${i & 255}`;

export interface BenchUser {
  id: string;
  email: string;
  accessToken: string;
  refreshToken: string;
}

export interface BenchApp {
  appId: string;
  clientId: string;
  clientSecret: string;
}

/** Bounded parallelism for set-up requests. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Drops smoke-run databases left behind by runs that were killed: those with no connection at all
 * (a live run keeps its pool open from start to end).
 */
export async function dropAbandonedSmokeDatabases(adminUrl: string): Promise<string[]> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await admin<{ datname: string }[]>`
      select datname from pg_database d
      where datname like 'portcullis\_bench\_smoke\_%'
        and not exists (select 1 from pg_stat_activity a where a.datname = d.datname)`;
    for (const { datname } of rows) await admin.unsafe(`drop database if exists "${datname}"`);
    return rows.map((row) => row.datname);
  } finally {
    await admin.end();
  }
}

/** Drops and creates `name`, migrates it and loads the starter catalog (what npm run db:seed does). */
export async function prepareDatabase(adminUrl: string, name: string): Promise<{ url: string; handle: DatabaseHandle; drop: () => Promise<void> }> {
  if (!/^[a-z0-9_]{1,63}$/.test(name)) throw new Error(`unsafe database name ${name}`);
  const drop = async () => {
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    try {
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
    } finally {
      await admin.end();
    }
  };
  await drop();
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = databaseUrl(adminUrl, name);
  await migrateDatabase(url);
  const handle = await openDatabase({ databaseUrl: url, pgliteDataDir: 'memory://', maxConnections: 4 });
  await seedReferenceData(handle.db);
  return { url, handle, drop };
}

export async function hasPermission(handle: DatabaseHandle, code: string): Promise<boolean> {
  const rows = await handle.db.select({ code: permissions.permissionCode }).from(permissions);
  return rows.some((row) => row.code === code);
}

/** Inserts `count` consumers and one admin, all with the same password hash (the service's argon2 parameters). */
export async function insertUsers(handle: DatabaseHandle, config: Config, runId: string, count: number) {
  const passwordHash = await hash(BENCH_PASSWORD, {
    algorithm: ARGON2ID,
    memoryCost: config.ARGON2_MEMORY_KIB,
    timeCost: config.ARGON2_TIME_COST,
    parallelism: config.ARGON2_PARALLELISM,
  });
  const rows = Array.from({ length: count }, (_, i) => ({
    id: randomUUID(),
    email: `user${i}-${runId}@bench.example`,
    name: `Bench User ${i}`,
    role: 'CONSUMER' as const,
    passwordHash,
  }));
  for (let i = 0; i < rows.length; i += 1000) await handle.db.insert(users).values(rows.slice(i, i + 1000));
  const admin = { id: randomUUID(), email: `admin-${runId}@bench.example`, name: 'Bench Admin', role: 'ADMIN' as const, passwordHash };
  await handle.db.insert(users).values(admin);
  return { users: rows.map(({ id, email }) => ({ id, email })), admin: { id: admin.id, email: admin.email } };
}

/** A session for the user through the store, exactly as startSession() makes one; returns its first refresh token. */
export async function createSession(store: SessionStore, config: Config, codec: ReturnType<typeof createRefreshTokenCodec>, user: { id: string; email: string; name: string | null }, i: number, now = Date.now()): Promise<string> {
  const sessionId = randomUUID();
  const refresh = codec.issue(user.id, sessionId);
  const expiresAt = now + config.SESSION_ABSOLUTE_TTL * 1000;
  const refreshExpiresAt = Math.min(now + config.JWT_REFRESH_TTL * 1000, expiresAt);
  await store.create({
    sessionId,
    userId: user.id,
    role: 'CONSUMER',
    email: user.email,
    name: user.name,
    ip: clientIp(i),
    userAgent: USER_AGENTS[i % USER_AGENTS.length]!,
    refreshTokenHash: refresh.hash,
    createdAt: now,
    expiresAt,
    refreshExpiresAt,
    retainUntil: refreshExpiresAt + config.JWT_ACCESS_TTL * 1000,
  });
  return refresh.token;
}

export function refreshCookieOf(config: Config, headers: Headers | Record<string, string | string[]>): string | null {
  const raw = headers instanceof Headers ? headers.getSetCookie() : ([] as string[]).concat(headers['set-cookie'] ?? []);
  for (const cookie of raw) {
    if (cookie.startsWith(`${config.REFRESH_COOKIE_NAME}=`)) return cookie.slice(config.REFRESH_COOKIE_NAME.length + 1).split(';')[0] || null;
  }
  return null;
}

/** One rotation through the service: the session's access token and its next refresh token. */
export async function refreshThroughService(baseUrl: string, config: Config, refreshToken: string): Promise<{ accessToken: string; refreshToken: string }> {
  const response = await fetch(`${baseUrl}/api/auth/refresh`, { method: 'POST', headers: { cookie: `${config.REFRESH_COOKIE_NAME}=${refreshToken}` } });
  const body = (await response.json()) as { accessToken?: string };
  const next = refreshCookieOf(config, response.headers);
  if (response.status !== 200 || !body.accessToken || !next) throw new Error(`refresh failed: ${response.status} ${JSON.stringify(body)}`);
  return { accessToken: body.accessToken, refreshToken: next };
}

/**
 * Live sessions through the store, then their access tokens from the service (one refresh each),
 * each used once (GET /me) as a live session's token has been: a token is verified at its first use and then served from the
 * verified-token cache for the rest of its life, which is the steady state the /me scenarios
 * measure. Without this, a 13 s run over 10,000 tokens spends a third of its requests on first
 * uses that a real session makes once in fifteen minutes.
 */
export async function startSessions(baseUrl: string, store: SessionStore, config: Config, people: readonly { id: string; email: string }[], offset: number): Promise<BenchUser[]> {
  const codec = createRefreshTokenCodec(Buffer.from(config.JWT_SECRET));
  return mapLimit(people, 16, async (person, index) => {
    const first = await createSession(store, config, codec, { ...person, name: `Bench User ${offset + index}` }, offset + index);
    const user = { ...person, ...(await refreshThroughService(baseUrl, config, first)) };
    const used = await jsonRequest(`${baseUrl}/api/auth/me`, { method: 'GET', token: user.accessToken });
    if (used.status !== 200) throw new Error(`GET /api/auth/me with a fresh token answered ${used.status} ${JSON.stringify(used.body)}`);
    return user;
  });
}

async function jsonRequest(url: string, init: { method: string; token?: string; body?: unknown }) {
  const response = await fetch(url, {
    method: init.method,
    headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

export async function login(baseUrl: string, email: string): Promise<string> {
  const { status, body } = await jsonRequest(`${baseUrl}/api/auth/login`, { method: 'POST', body: { email, password: BENCH_PASSWORD } });
  if (status !== 200 || typeof body.accessToken !== 'string') throw new Error(`login failed: ${status} ${JSON.stringify(body)}`);
  return body.accessToken;
}

/** Registers apps through the V3 admin API (organization HQ, the given permissions). */
export async function createApps(baseUrl: string, adminToken: string, runId: string, count: number, grants: string[], label = 'app'): Promise<BenchApp[]> {
  return mapLimit(Array.from({ length: count }, (_, i) => i), 8, async (i) => {
    const { status, body } = await jsonRequest(`${baseUrl}/api/v3/auth/apps`, {
      method: 'POST',
      token: adminToken,
      body: { app_code: `bench-${label}-${i}-${runId}`, app_name: `Bench ${label} ${i}`, organizations: ['HQ'], permissions: grants },
    });
    const data = body.data as { app_id?: string; client_id?: string; client_secret?: string } | undefined;
    if (status !== 201 && status !== 200) throw new Error(`creating an app failed: ${status} ${JSON.stringify(body)}`);
    return { appId: data!.app_id!, clientId: data!.client_id!, clientSecret: data!.client_secret! };
  });
}

/** Live tokens through POST /api/v3/auth/token, `perApp` for each app. */
export async function issueAppTokens(baseUrl: string, apps: readonly BenchApp[], perApp: number): Promise<string[]> {
  const requests = apps.flatMap((app) => Array.from({ length: perApp }, () => app));
  return mapLimit(requests, 16, async (app) => {
    const { status, body } = await jsonRequest(`${baseUrl}/api/v3/auth/token`, { method: 'POST', body: { client_id: app.clientId, client_secret: app.clientSecret } });
    const token = (body.data as { access_token?: string } | undefined)?.access_token;
    if (status !== 200 || !token) throw new Error(`token issuance failed: ${status} ${JSON.stringify(body)}`);
    return token;
  });
}
