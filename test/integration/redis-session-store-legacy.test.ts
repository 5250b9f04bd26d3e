/**
 * Sessions written by the layout before listpack pieces and the grace key (uid in the hash, one
 * long ua field, prev/ra/succ kept in the hash after a rotation) must keep working after a deploy:
 * read, replayed, rotated (which rewrites them in the current layout), revoked.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import t from 'tap';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import type { Test } from 'tap';
import { createKeys } from '../../src/redis/keys.js';
import type { Keys } from '../../src/redis/keys.js';
import { toPieces } from '../../src/redis/listpack-pieces.js';
import { createRedisSessionStore } from '../../src/redis/redis-session-store.js';
import type { NewSession } from '../../src/redis/session-store.js';
import { digest, newSession, rotateInput } from './session-store.contract.js';

const client = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
t.teardown(() => client.quit());

const GRACE_MS = 10_000;
// Multi-byte characters on both sides of the 64-byte cuts a migration makes.
const LONG_AGENT = `Mozilla/5.0 (Linux; Android 14; Pixel 8 Pro) ${'Ünïcødé-€-😀 '.repeat(12)}`.slice(0, 200);

function isolatedStore(t: Test): { keys: Keys; store: ReturnType<typeof createRedisSessionStore> } {
  const prefix = uniquePrefix();
  t.teardown(() => deleteKeysWithPrefix(client, prefix));
  const keys = createKeys(prefix);
  return { keys, store: createRedisSessionStore({ client, keys }) };
}

/** What the previous release's create() wrote: every value in one field, uid included. */
async function writeOldLayout(keys: Keys, s: NewSession, extra: Record<string, string> = {}): Promise<string> {
  const key = keys.session(s.userId, s.sessionId);
  await client
    .multi()
    .hset(key, {
      uid: s.userId,
      role: s.role,
      em: s.email,
      ...(s.name !== null ? { nm: s.name } : {}),
      st: 'active',
      ca: s.createdAt,
      lu: s.createdAt,
      ea: s.expiresAt,
      rea: s.refreshExpiresAt,
      ip: s.ip,
      ua: s.userAgent,
      cur: s.refreshTokenHash,
      ...extra,
    })
    .pexpireat(key, s.retainUntil)
    .zadd(keys.userSessions(s.userId), s.retainUntil, s.sessionId)
    .pexpireat(keys.userSessions(s.userId), s.retainUntil)
    .exec();
  return key;
}

/** An old-layout session as the previous release left it after one rotation at `rotatedAt`. */
async function writeOldRotated(keys: Keys, s: NewSession, rotatedAt: number) {
  const next = { hash: digest(), sealed: randomBytes(138).toString('base64url') };
  const key = await writeOldLayout(keys, s, { cur: next.hash, prev: s.refreshTokenHash, ra: String(rotatedAt), succ: next.sealed, lu: String(rotatedAt) });
  return { key, next };
}

t.test('an old record reads whole: long user agent, email and name', async (t) => {
  const { keys, store } = isolatedStore(t);
  const s = newSession({ userAgent: LONG_AGENT, name: 'Þórsdóttir '.repeat(8).trim(), email: `${'x'.repeat(70)}@example.test` });
  const key = await writeOldLayout(keys, s);
  t.equal(await client.object('ENCODING', key), 'hashtable', 'the old layout is a hashtable on the default configuration');
  t.match(await store.get(s.userId, s.sessionId), { userId: s.userId, userAgent: LONG_AGENT, name: s.name, email: s.email, status: 'active' });
  t.match(await store.getAccessState(s.userId, s.sessionId), { status: 'active', name: s.name, email: s.email });
  t.match(await store.listActiveForUser(s.userId, s.createdAt), [{ sessionId: s.sessionId, userAgent: LONG_AGENT }]);
});

t.test('the first rotation of an old record rewrites it as a listpack, cut as create cuts', async (t) => {
  const { keys, store } = isolatedStore(t);
  const s = newSession({ userAgent: LONG_AGENT, name: 'Þórsdóttir '.repeat(8).trim() });
  const key = await writeOldLayout(keys, s);
  const before = await store.get(s.userId, s.sessionId);
  const rotation = rotateInput(s, s.refreshTokenHash, s.createdAt + 1000);
  t.match(await store.rotate(rotation), { kind: 'rotated' });
  t.equal(await client.object('ENCODING', key), 'listpack');
  const fields = await client.hgetall(key);
  t.notOk('uid' in fields, 'uid dropped');
  t.match(fields, Object.fromEntries([...toPieces('ua', LONG_AGENT), ...toPieces('nm', s.name!)]), 'the Lua cut points are those of toPieces');
  t.strictSame(await store.get(s.userId, s.sessionId), { ...before, lastUsedAt: rotation.now, refreshExpiresAt: rotation.now + rotation.refreshTtlMs });
  t.equal(await client.pexpiretime(key), rotation.now + rotation.refreshTtlMs + rotation.retainMs, 'expiry set again after the rewrite');
  t.match(await store.rotate(rotateInput(s, s.refreshTokenHash, rotation.now + 1)), { kind: 'replayed', sealedSuccessor: rotation.sealedSuccessor });
});

t.test('an old record rotated by the previous release: its predecessor replays from the hash, then is reuse', async (t) => {
  const { keys, store } = isolatedStore(t);
  const s = newSession({ userAgent: LONG_AGENT });
  const rotatedAt = s.createdAt + 1000;
  const { key, next } = await writeOldRotated(keys, s, rotatedAt);
  t.strictSame(await store.rotate(rotateInput(s, s.refreshTokenHash, rotatedAt + GRACE_MS)), {
    kind: 'replayed',
    role: s.role,
    expiresAt: s.expiresAt,
    refreshExpiresAt: s.refreshExpiresAt,
    sealedSuccessor: next.sealed,
  });
  t.strictSame(await store.rotate(rotateInput(s, s.refreshTokenHash, rotatedAt + GRACE_MS + 1)), { kind: 'reused' });
  t.strictSame(await client.hmget(key, 'cur', 'prev', 'ra', 'succ'), [null, null, null, null], 'digests and successor dropped');
});

t.test('an old rotated record rotates on: the successor in the hash is replaced by the grace key', async (t) => {
  const { keys, store } = isolatedStore(t);
  const s = newSession({ userAgent: LONG_AGENT });
  const rotatedAt = s.createdAt + 1000;
  const { key, next } = await writeOldRotated(keys, s, rotatedAt);
  const rotation = rotateInput({ ...s, refreshTokenHash: next.hash }, next.hash, rotatedAt + 2000);
  t.match(await store.rotate(rotation), { kind: 'rotated' });
  t.strictSame(await client.hmget(key, 'uid', 'prev', 'ra', 'succ'), [null, null, null, null]);
  t.equal(await client.object('ENCODING', key), 'listpack');
  t.match(await store.rotate(rotateInput(s, next.hash, rotation.now + 1)), { kind: 'replayed', sealedSuccessor: rotation.sealedSuccessor });
  t.match(await store.rotate(rotateInput(s, s.refreshTokenHash, rotation.now + 2)), { kind: 'reused' }, 'two generations old');
});

t.test('rolling deploy: when the hash holds a later rotation than the grace key, the later one decides', async (t) => {
  const { keys, store } = isolatedStore(t);
  const s = newSession();
  const first = rotateInput(s, s.refreshTokenHash, s.createdAt + 1000);
  await writeOldLayout(keys, s);
  await store.rotate(first); // this release: grace key for the first rotation
  // The previous release then rotates the session again, keeping its rotation in the hash.
  const key = keys.session(s.userId, s.sessionId);
  const second = { at: first.now + 500, hash: digest(), sealed: 'sealed-by-old-release' };
  await client.hset(key, { cur: second.hash, prev: first.nextHash, ra: String(second.at), succ: second.sealed });
  t.match(await store.rotate(rotateInput(s, first.nextHash, second.at + 1)), { kind: 'replayed', sealedSuccessor: second.sealed });
  t.match(await store.rotate(rotateInput(s, s.refreshTokenHash, second.at + 2)), { kind: 'reused' }, 'the older generation is reuse');
});

t.test('ending and updating old records', async (t) => {
  const { keys, store } = isolatedStore(t);
  const a = newSession({ userAgent: LONG_AGENT, name: 'N'.repeat(100) });
  const b = newSession({ userId: a.userId });
  const { key: keyA } = await writeOldRotated(keys, a, a.createdAt + 1);
  const { key: keyB } = await writeOldRotated(keys, b, b.createdAt + 1);
  t.equal(await store.updateProfileForUser(a.userId, { name: 'Short' }), 2);
  t.strictSame(await client.hmget(keyA, 'nm', 'nm1'), ['Short', null], 'the long single name field is replaced');
  t.equal(await store.revoke(a.userId, a.sessionId, 'logout'), true);
  t.strictSame(await client.hmget(keyA, 'cur', 'prev', 'ra', 'succ'), [null, null, null, null]);
  t.equal(await store.revokeAllForUser(a.userId, 'logout_all'), 1);
  t.strictSame(await client.hmget(keyB, 'st', 'cur', 'prev', 'ra', 'succ'), ['revoked', null, null, null, null]);
  t.match(await store.get(a.userId, a.sessionId), { status: 'revoked', revokedReason: 'logout', userAgent: LONG_AGENT, name: 'Short' });
});
