/**
 * Shared by the adversarial suites: a snapshot of everything a request could change (Postgres rows,
 * the app's Redis keys), `expectNoStateChange` around one hostile request, and a table runner whose
 * every row asserts the exact status and code, no 5xx, and an unchanged state.
 *
 * What may move, and is left out on purpose: rate-limit counters (`<prefix>rl:`), failure-throttle
 * counters (`{lf:`, `:lf:`, `:cf:`), audit events the code records for denials (`token.denied`,
 * `login.locked`) and auth events of kind `denied` (every 401/403 is one).
 */
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import type { Redis } from 'ioredis';
import type { Test } from 'tap';
import type { ErrorCode } from '../../src/errors.js';
import { openSql, type Sql } from '../api/v3-admin-helpers.js';
import type { TestApp } from '../helpers/app.js';

export interface StateContext {
  app: FastifyInstance;
  sql: Sql;
  redis: Redis;
  prefix: string;
}

/** A known bug: the assertion still runs and reports, without failing the suite. */
export interface Extra {
  todo?: string;
}

export function stateContext(t: Test, built: TestApp): StateContext {
  if (!built.redis) throw new Error('the adversarial suites need the Redis-backed app');
  return { app: built.app, sql: openSql(t, built.databaseUrl), redis: built.redis, prefix: built.config.REDIS_KEY_PREFIX };
}

/** Special-cased tables: only the rows a hostile request must never add are counted. */
const FILTERED_COUNTS: Record<string, string> = {
  audit_logs: `select count(*)::int as n from audit_logs where event_type not in ('token.denied', 'login.locked')`,
  auth_events: `select count(*)::int as n from auth_events where kind <> 'denied'`,
};

const DIGESTS = {
  users: `select md5(coalesce(string_agg(concat_ws('|', id, email, name, role, disabled, password_hash, updated_at), ',' order by id), '')) as d from users`,
  apps: `select md5(coalesce(string_agg(concat_ws('|', id, app_code, app_name, description, status, client_id, default_organization_id, updated_at), ',' order by id), '')) as d from apps`,
  app_secrets: `select md5(coalesce(string_agg(concat_ws('|', id, version, status, secret_hash, grace_until, revoked_at), ',' order by id), '')) as d from app_secrets`,
};

async function postgresState(sql: Sql): Promise<Record<string, string | number>> {
  const tables = await sql<{ name: string }[]>`
    select table_name as name from information_schema.tables
    where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`;
  const state: Record<string, string | number> = {};
  for (const { name } of tables) {
    const query = FILTERED_COUNTS[name] ?? `select count(*)::int as n from "${name}"`;
    const [row] = await sql.unsafe<{ n: number }[]>(query);
    state[`count:${name}`] = row?.n ?? -1;
  }
  for (const [name, query] of Object.entries(DIGESTS)) {
    const [row] = await sql.unsafe<{ d: string }[]>(query);
    state[`digest:${name}`] = row?.d ?? '';
  }
  return state;
}

const isMovingCounter = (prefix: string, key: string) =>
  key.startsWith(`${prefix}rl:`) || key.includes(':lf:') || key.includes('{lf:') || key.includes(':cf:');

/** The contents of one key, TTL left out. */
async function dumpKey(redis: Redis, key: string): Promise<string> {
  const type = await redis.type(key);
  switch (type) {
    case 'string':
      return `string ${await redis.get(key)}`;
    case 'hash':
      return `hash ${JSON.stringify(Object.entries(await redis.hgetall(key)).sort(([a], [b]) => a.localeCompare(b)))}`;
    case 'zset':
      return `zset ${JSON.stringify(await redis.zrange(key, 0, -1, 'WITHSCORES'))}`;
    case 'set':
      return `set ${JSON.stringify((await redis.smembers(key)).sort())}`;
    case 'list':
      return `list ${JSON.stringify(await redis.lrange(key, 0, -1))}`;
    default:
      return type;
  }
}

async function redisState(ctx: StateContext): Promise<Record<string, string>> {
  const state: Record<string, string> = {};
  let cursor = '0';
  do {
    const [next, keys] = await ctx.redis.scan(cursor, 'MATCH', `${ctx.prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      if (!isMovingCounter(ctx.prefix, key)) state[key] = await dumpKey(ctx.redis, key);
    }
  } while (cursor !== '0');
  return Object.fromEntries(Object.entries(state).sort(([a], [b]) => a.localeCompare(b)));
}

export async function snapshot(ctx: StateContext) {
  // Buffered writers first, so whatever a request recorded is in Postgres when we look.
  await ctx.app.audit.flush();
  await ctx.app.authEvents?.flush();
  return { postgres: await postgresState(ctx.sql), redis: await redisState(ctx) };
}

/** Snapshots, runs `fn`, snapshots again, and asserts that nothing changed. */
export async function expectNoStateChange<T>(t: Test, ctx: StateContext, fn: () => Promise<T>, extra: Extra = {}): Promise<T> {
  const before = await snapshot(ctx);
  const result = await fn();
  const after = await snapshot(ctx);
  t.strictSame(after.postgres, before.postgres, 'Postgres unchanged (row counts, users/apps/secrets digests)', extra);
  t.strictSame(after.redis, before.redis, 'Redis keys and contents unchanged (counters aside)', extra);
  return result;
}

export type Format = 'json' | 'v3';

/** The error code of a response in either wire format (undefined when there is none). */
export function codeOf(res: LightMyRequestResponse, format: Format): string | undefined {
  try {
    const body = res.json() as { code?: string; error?: { code?: string } } | null;
    return format === 'json' ? body?.code : body?.error?.code;
  } catch {
    return undefined;
  }
}

/** Exact status and code (code null: a success, whose body the row checks itself), and never a 5xx. */
export function expectOutcome(t: Test, res: LightMyRequestResponse, format: Format, status: number, code: ErrorCode | null, extra: Extra = {}) {
  t.ok(res.statusCode < 500, `no 5xx (got ${res.statusCode})`);
  const got = codeOf(res, format);
  t.equal(res.statusCode, status, `status ${status} (got ${res.statusCode} ${got ?? res.body.slice(0, 160)})`, extra);
  if (code) t.equal(got, code, `code ${code} (got ${String(got)})`, extra);
  else t.equal(got, undefined, 'no error code on success', extra);
}

export interface Case {
  name: string;
  request: InjectOptions | (() => InjectOptions | Promise<InjectOptions>);
  status: number;
  /** null: a success (e.g. a search that must find nothing). */
  code: ErrorCode | null;
  /** A known bug in the response: status and code assertions become todo. */
  todo?: string;
  /** A known bug in what the request changes: the state assertions become todo. */
  stateTodo?: string;
  /** More assertions, after the state was compared (so it may use the app freely). */
  check?: (t: Test, res: LightMyRequestResponse) => unknown;
}

/** One subtest per row: state snapshot around the request, then the outcome and the row's checks. */
export async function runCases(t: Test, ctx: StateContext, format: Format, cases: Case[]): Promise<void> {
  for (const row of cases) {
    await t.test(row.name, async (t) => {
      const options = typeof row.request === 'function' ? await row.request() : row.request;
      const res = await expectNoStateChange(t, ctx, () => ctx.app.inject(options), row.stateTodo ? { todo: row.stateTodo } : {});
      expectOutcome(t, res, format, row.status, row.code, row.todo ? { todo: row.todo } : {});
      await row.check?.(t, res);
    });
  }
}

/** A raw JSON (or JSON-looking) body, sent exactly as written. */
export function rawJson(method: InjectOptions['method'], url: string, payload: string, headers: Record<string, string> = {}): InjectOptions {
  return { method, url, payload, headers: { 'content-type': 'application/json', ...headers } };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** `depth` nested arrays, or nested objects {"a": ...}, around `core`. */
export const nestedArrays = (depth: number, core = '') => `${'['.repeat(depth)}${core}${']'.repeat(depth)}`;
export const nestedObjects = (depth: number, core = '1') => `${'{"a":'.repeat(depth)}${core}${'}'.repeat(depth)}`;

/** Same letters, full-width (U+FF01..): NFKC folds them back to ASCII. */
export const fullWidth = (text: string) => text.replace(/[A-Za-z0-9]/g, (char) => String.fromCharCode(char.charCodeAt(0) + 0xfee0));

/** Replaces the character at `index` by a different one of the base64url alphabet. */
export function flipChar(text: string, index: number): string {
  const i = index < 0 ? text.length + index : index;
  const replacement = text[i] === 'A' ? 'B' : 'A';
  return text.slice(0, i) + replacement + text.slice(i + 1);
}
