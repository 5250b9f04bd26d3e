/**
 * Redis-side phases: memory per live session and per live app token, the filler sessions of the
 * 1,000 vs 1,000,000 comparison, and cleanup of the run's keys (SCAN + UNLINK of its prefix only;
 * other processes share this Redis, so never FLUSHALL).
 *
 * Memory is measured two ways. INFO memory's used_memory delta over creating N records (what the
 * issue asks for) counts allocator overhead too, but also whatever other clients of this shared
 * Redis did meanwhile; MEMORY USAGE (SAMPLES 0) of the records themselves is immune to that. The
 * target is judged on the larger of the two.
 */
import type { Redis } from 'ioredis';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Config } from '../src/config.js';
import { createAppCredentialCodec } from '../src/lib/app-credentials.js';
import type { Keys } from '../src/redis/keys.js';
import { createRedisAppTokenStore } from '../src/redis/redis-app-token-store.js';
import type { SessionStore } from '../src/redis/session-store.js';
import { type BenchApp, clientIp, USER_AGENTS } from './data.js';

export interface MemoryResult {
  count: number;
  infoBytesPerItem: number;
  memoryUsageBytesPerItem: number;
  bytesPerItem: number;
}

const SAMPLE = 1000;
const BATCH = 2000;

async function memoryInfo(redis: Redis): Promise<{ used: number; pending: number }> {
  const info = await redis.info('memory');
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  return { used: field('used_memory'), pending: field('lazyfree_pending_objects') };
}

/** Waits for background frees (UNLINK) to finish, so they do not run into a measurement. */
async function settle(redis: Redis): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await memoryInfo(redis)).pending > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
}

async function memoryUsage(redis: Redis, keys: string[]): Promise<number> {
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
  const replies = (await pipeline.exec()) ?? [];
  return replies.reduce((sum, [, value]) => sum + Number(value ?? 0), 0);
}

/** Filler user i: ids derived from the run id and i, so the keys can be found again without storing them. */
export function fillerIds(runId: string, i: number): { userId: string; sessionId: string } {
  const tail = i.toString(16).padStart(12, '0');
  return { userId: `${runId}-0000-4000-8000-${tail}`, sessionId: `${runId}-0001-4000-8000-${tail}` };
}

/** Filler sessions [from, to) through the session store (one user each, realistic address and user agent). */
export async function createFillerSessions(store: SessionStore, config: Config, runId: string, from: number, to: number): Promise<void> {
  const now = Date.now();
  const expiresAt = now + config.SESSION_ABSOLUTE_TTL * 1000;
  const refreshExpiresAt = Math.min(now + config.JWT_REFRESH_TTL * 1000, expiresAt);
  for (let start = from; start < to; start += BATCH) {
    const batch: Promise<void>[] = [];
    for (let i = start; i < Math.min(to, start + BATCH); i++) {
      const { userId, sessionId } = fillerIds(runId, i);
      batch.push(
        store.create({
          sessionId,
          userId,
          role: 'CONSUMER',
          email: `filler${i}-${runId}@bench.example`,
          name: `Filler User ${i}`,
          ip: clientIp(i),
          userAgent: USER_AGENTS[i % USER_AGENTS.length]!,
          refreshTokenHash: randomBytes(32).toString('base64url'),
          createdAt: now,
          expiresAt,
          refreshExpiresAt,
          retainUntil: refreshExpiresAt + config.JWT_ACCESS_TTL * 1000,
        }),
      );
    }
    await Promise.all(batch);
  }
}

/** used_memory delta over creating filler sessions [from, from + count), and MEMORY USAGE of a sample. */
export async function measureSessionMemory(redis: Redis, store: SessionStore, keys: Keys, config: Config, runId: string, from: number, count: number): Promise<MemoryResult> {
  await settle(redis);
  const before = (await memoryInfo(redis)).used;
  await createFillerSessions(store, config, runId, from, from + count);
  const after = (await memoryInfo(redis)).used;
  const sampled = Array.from({ length: Math.min(SAMPLE, count) }, (_, k) => fillerIds(runId, from + Math.floor((k * count) / Math.min(SAMPLE, count))));
  const usage = await memoryUsage(redis, sampled.flatMap(({ userId, sessionId }) => [keys.session(userId, sessionId), keys.userSessions(userId)]));
  const infoBytesPerItem = (after - before) / count;
  const memoryUsageBytesPerItem = usage / sampled.length;
  return { count, infoBytesPerItem, memoryUsageBytesPerItem, bytesPerItem: Math.max(infoBytesPerItem, memoryUsageBytesPerItem) };
}

/**
 * used_memory delta over issuing `count` app tokens through the app token store (the issue script
 * the token endpoint runs), spread over `apps`; then every token of those apps is revoked again.
 */
export async function measureAppTokenMemory(redis: Redis, keys: Keys, config: Config, apps: readonly BenchApp[], count: number): Promise<MemoryResult> {
  const store = createRedisAppTokenStore({ client: redis, keys });
  const codec = createAppCredentialCodec(Buffer.from(config.APP_SECRET_PEPPER));
  const digests = new Map(apps.map((app) => [app.appId, codec.secretDigest(app.clientSecret)]));
  const indexBefore = await memoryUsage(redis, apps.map((app) => keys.appTokens(app.appId)));
  await settle(redis);
  const before = (await memoryInfo(redis)).used;
  const now = Date.now();
  const tokenKeys: string[] = [];
  for (let start = 0; start < count; start += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, count - start) }, async (_, k) => {
      const app = apps[(start + k) % apps.length]!;
      const minted = codec.issueToken(app.appId, now + config.APP_TOKEN_TTL * 1000);
      const result = await store.issue({ appId: app.appId, secretDigest: digests.get(app.appId)!, tokenHash: minted.hash, tokenId: randomUUID(), now, expiresAt: minted.expiresAt });
      if (result.kind !== 'issued') throw new Error(`app token store refused to issue: ${result.kind}`);
      if (tokenKeys.length < SAMPLE) tokenKeys.push(keys.appToken(app.appId, minted.hash));
    });
    await Promise.all(batch);
  }
  const after = (await memoryInfo(redis)).used;
  const indexAfter = await memoryUsage(redis, apps.map((app) => keys.appTokens(app.appId)));
  const usage = (await memoryUsage(redis, tokenKeys)) / tokenKeys.length + (indexAfter - indexBefore) / count;
  for (const app of apps) await store.revokeAllForApp(app.appId);
  const infoBytesPerItem = (after - before) / count;
  return { count, infoBytesPerItem, memoryUsageBytesPerItem: usage, bytesPerItem: Math.max(infoBytesPerItem, usage) };
}

/** Deletes every key of the run's prefix: SCAN + UNLINK, never KEYS or FLUSHALL. */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (found.length > 0) {
      const pipeline = redis.pipeline();
      for (const key of found) pipeline.unlink(key);
      await pipeline.exec();
      deleted += found.length;
    }
    cursor = next;
  } while (cursor !== '0');
  return deleted;
}

export async function redisFacts(redis: Redis): Promise<{ version: string; hashMaxListpackValue: string; dbsize: number }> {
  const server = await redis.info('server');
  const [, value] = (await redis.config('GET', 'hash-max-listpack-value')) as [string, string];
  return { version: /^redis_version:(.+)$/m.exec(server)?.[1]?.trim() ?? '?', hashMaxListpackValue: value ?? '?', dbsize: await redis.dbsize() };
}
