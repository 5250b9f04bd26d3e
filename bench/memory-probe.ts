/**
 * Quick probe of Redis memory per live user session and per live app token, through the real
 * store code: INFO memory used_memory delta over creating N of each, divided by N (what
 * `npm run bench` reports), plus MEMORY USAGE and OBJECT ENCODING of a sample.
 *
 *   node --import tsx bench/memory-probe.ts [--url redis://127.0.0.1:6390] [--count 100000]
 *
 * Point it at a Redis nobody else is using (e.g. `redis-server --port 6390 --save ''`): the delta
 * counts every other client's writes too. Only keys under its own random prefix are written and
 * they are deleted at the end (SCAN + UNLINK), never FLUSHALL.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import type { AppSnapshot } from '../src/redis/app-token-store.js';
import { createKeys } from '../src/redis/keys.js';
import { createRedisAppTokenStore } from '../src/redis/redis-app-token-store.js';
import { createRedisSessionStore } from '../src/redis/redis-session-store.js';

const { values } = parseArgs({
  options: { url: { type: 'string', default: 'redis://127.0.0.1:6390' }, count: { type: 'string', default: '100000' } },
});
const COUNT = Number(values.count);
const BATCH = 2000;
const GRACE_MS = 200;
const DAY = 86_400_000;

// Realistic browsers, plus one 200-character agent (the worst case the tests pin down).
const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/126.0.6478.71 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/471.0.0.35.74;]',
];

const redis = new Redis(values.url!, { maxRetriesPerRequest: 1 });
const prefix = `pc:`; // the default REDIS_KEY_PREFIX, so key lengths are the production ones
const keys = createKeys(prefix);

async function usedMemory(): Promise<number> {
  for (;;) {
    const info = await redis.info('memory');
    const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
    if (field('lazyfree_pending_objects') === 0) return field('used_memory');
    await sleep(50);
  }
}

/** Bytes of the main and expires dicts' bucket arrays (MEMORY STATS, db 0). */
async function dictOverhead(): Promise<number> {
  const stats = (await redis.call('MEMORY', 'STATS')) as unknown[];
  const db = stats[stats.indexOf('db.0') + 1] as unknown[] | undefined;
  if (!db) return 0;
  return Number(db[db.indexOf('overhead.hashtable.main') + 1]) + Number(db[db.indexOf('overhead.hashtable.expires') + 1]);
}

async function inBatches(count: number, action: (i: number) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < count; start += BATCH) {
    await Promise.all(Array.from({ length: Math.min(BATCH, count - start) }, (_, k) => action(start + k)));
  }
}

async function sample(names: string[]): Promise<string> {
  const bytes = await Promise.all(names.map((k) => redis.memory('USAGE', k, 'SAMPLES', 0)));
  const encodings = await Promise.all(names.map((k) => redis.object('ENCODING', k)));
  return names.map((k, i) => `${k.slice(prefix.length).replace(/[0-9a-f-]{36}/g, '<id>')}=${bytes[i]} B ${encodings[i]}`).join(', ');
}

async function deleteAll(): Promise<void> {
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (found.length > 0) await redis.unlink(...found);
    cursor = next;
  } while (cursor !== '0');
}

async function probeSessions(): Promise<void> {
  const store = createRedisSessionStore({ client: redis, keys });
  const now = Date.now();
  const sessions = Array.from({ length: COUNT }, (_, i) => ({
    sessionId: randomUUID(),
    userId: randomUUID(),
    role: 'CONSUMER' as const,
    email: `user${i}.${randomBytes(4).toString('hex')}@example.com`,
    name: `Probe User ${i}`,
    ip: `198.51.${(i >> 8) & 255}.${i & 255}`,
    userAgent: USER_AGENTS[i % USER_AGENTS.length]!,
    refreshTokenHash: randomBytes(32).toString('base64url'),
    createdAt: now,
    expiresAt: now + 30 * DAY,
    refreshExpiresAt: now + 7 * DAY,
    retainUntil: now + 7 * DAY + 900_000,
  }));
  const sampleKeys = (i: number) => [keys.session(sessions[i]!.userId, sessions[i]!.sessionId), keys.userSessions(sessions[i]!.userId)];
  const before = await usedMemory();
  await inBatches(COUNT, (i) => store.create(sessions[i]!));
  const created = await usedMemory();
  const dictsAfterLogin = await dictOverhead();
  console.log(`sessions after login:    ${((created - before) / COUNT).toFixed(1)} B/session (used_memory delta); sample: ${await sample(sampleKeys(3))}`);
  // A sealed successor is iv 12 + token 110 + tag 16 bytes, base64url (src/lib/refresh-token.ts).
  await inBatches(COUNT, (i) =>
    store.rotate({
      userId: sessions[i]!.userId,
      sessionId: sessions[i]!.sessionId,
      presentedHash: sessions[i]!.refreshTokenHash,
      nextHash: randomBytes(32).toString('base64url'),
      sealedSuccessor: randomBytes(138).toString('base64url'),
      now: Date.now(),
      graceMs: GRACE_MS,
      refreshTtlMs: 7 * DAY,
      retainMs: 900_000,
    }),
  );
  const rotated = await usedMemory();
  console.log(`sessions after refresh:  ${((rotated - before) / COUNT).toFixed(1)} B/session, each with its grace key; sample: ${await sample([...sampleKeys(COUNT - 1), keys.sessionGrace(sessions[COUNT - 1]!.userId, sessions[COUNT - 1]!.sessionId)])}`);
  // The grace keys expire 2 x grace + 1 s after the rotation; touching them expires them at once.
  await sleep(2 * GRACE_MS + 1000 + 200);
  for (let start = 0; start < COUNT; start += BATCH) {
    const pipeline = redis.pipeline();
    for (const s of sessions.slice(start, start + BATCH)) pipeline.exists(keys.sessionGrace(s.userId, s.sessionId));
    await pipeline.exec();
  }
  const settled = await usedMemory();
  // Rotating every session at once briefly held 3N keys, which grew the main and expires dicts'
  // bucket arrays; Redis does not shrink them until they are under 10% full. In steady state only
  // sessions refreshed in the last few seconds have a grace key, so that growth is an artifact.
  const grown = (await dictOverhead()) - dictsAfterLogin;
  console.log(
    `sessions, grace elapsed: ${((settled - before) / COUNT).toFixed(1)} B/session (${((settled - before - grown) / COUNT).toFixed(1)} without the ` +
      `${(grown / COUNT).toFixed(1)} B of dict buckets grown for the transient grace keys); keys now ${await redis.dbsize()}; sample: ${await sample(sampleKeys(3))}`,
  );
  await deleteAll();
}

async function probeAppTokens(): Promise<void> {
  const store = createRedisAppTokenStore({ client: redis, keys });
  const apps: AppSnapshot[] = Array.from({ length: 100 }, (_, i) => ({
    id: randomUUID(),
    code: `probe-app-${i}`,
    name: `Probe app ${i}`,
    status: 'ACTIVE',
    clientId: `v3c_${randomBytes(16).toString('base64url')}`,
    secrets: [{ digest: randomBytes(32).toString('base64url'), version: 1, status: 'ACTIVE', graceUntil: null }],
    organizations: [{ id: randomUUID(), code: `acme-logistics-${i}`, isDefault: true }],
    permissions: ['orders.read', 'orders.write'],
  }));
  for (const app of apps) await store.putSnapshot(app);
  const before = await usedMemory();
  const now = Date.now();
  const hashes: string[] = [];
  await inBatches(COUNT, async (i) => {
    const app = apps[i % apps.length]!;
    const tokenHash = randomBytes(32).toString('base64url');
    if (i < 3) hashes.push(tokenHash);
    const result = await store.issue({ appId: app.id, secretDigest: app.secrets[0]!.digest, tokenHash, tokenId: randomUUID(), now, expiresAt: now + 3_600_000 });
    if (result.kind !== 'issued') throw new Error(`not issued: ${result.kind}`);
  });
  const issued = await usedMemory();
  const app0 = apps[0]!;
  console.log(`app tokens:              ${((issued - before) / COUNT).toFixed(1)} B/token; sample: ${await sample([keys.appToken(app0.id, hashes[0]!), keys.appTokens(app0.id)])}`);
  await deleteAll();
}

try {
  console.log(`redis ${values.url}, ${COUNT} of each, hash-max-listpack-value ${((await redis.config('GET', 'hash-max-listpack-value')) as string[])[1]}`);
  await deleteAll();
  await probeSessions();
  await probeAppTokens();
} finally {
  await deleteAll();
  redis.disconnect();
}
