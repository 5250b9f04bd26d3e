import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import t from 'tap';
import { commandsSentBy as commandsSentByClient, deleteKeysWithPrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import type { Test } from 'tap';
import { createKeys } from '../../src/redis/keys.js';
import type { Keys } from '../../src/redis/keys.js';
import { createRedisSessionStore } from '../../src/redis/redis-session-store.js';
import { digest, newSession, rotateInput, sessionStoreContract } from './session-store.contract.js';

const client = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
t.teardown(() => client.quit());
const commandsSentBy = (action: () => Promise<unknown>) => commandsSentByClient(client, action);

/** A store under a fresh random prefix, dropped when the subtest ends (even if it failed). */
function isolatedStore(t: Test, redis: Redis = client): { keys: Keys; store: ReturnType<typeof createRedisSessionStore> } {
  const prefix = uniquePrefix();
  t.teardown(() => deleteKeysWithPrefix(client, prefix));
  const keys = createKeys(prefix);
  return { keys, store: createRedisSessionStore({ client: redis, keys }) };
}

t.test('contract', async (t) => {
  sessionStoreContract(t, async () => {
    const prefix = uniquePrefix();
    return { store: createRedisSessionStore({ client, keys: createKeys(prefix) }), cleanup: () => deleteKeysWithPrefix(client, prefix) };
  });
});

t.test('layout: short fields, hash-tagged keys, value and expiry set together', async (t) => {
  const { keys, store } = isolatedStore(t);
  const s = newSession();
  await store.create(s);
  const key = keys.session(s.userId, s.sessionId);
  const index = keys.userSessions(s.userId);
  t.equal(key.match(/\{[^}]*\}/)?.[0], `{u:${s.userId}}`);
  t.equal(index.match(/\{[^}]*\}/)?.[0], `{u:${s.userId}}`, 'index shares the hash tag');
  t.strictSame(await client.hgetall(key), {
    uid: s.userId,
    role: s.role,
    em: s.email,
    nm: 'Ada Lovelace',
    st: 'active',
    ca: String(s.createdAt),
    lu: String(s.createdAt),
    ea: String(s.expiresAt),
    rea: String(s.refreshExpiresAt),
    ip: s.ip,
    ua: s.userAgent,
    cur: s.refreshTokenHash,
  });
  t.equal(await client.pexpiretime(key), s.retainUntil, 'key expires at retainUntil');
  t.equal(await client.zscore(index, s.sessionId), String(s.retainUntil));
  t.equal(await client.pexpiretime(index), s.retainUntil, 'the index expires with its last member');

  const later = newSession({ userId: s.userId, retainUntil: s.retainUntil + 5000 });
  await store.create(later);
  t.equal(await client.pexpiretime(index), later.retainUntil, 'a longer-lived member extends the index');
  await store.create(newSession({ userId: s.userId, retainUntil: s.retainUntil + 1000 }));
  t.equal(await client.pexpiretime(index), later.retainUntil, 'a shorter-lived one does not shrink it');
});

t.test('rotation moves key expiry and index score; theft and revoke keep the expiry', async (t) => {
  const { keys, store } = isolatedStore(t);
  const s = newSession();
  await store.create(s);
  const key = keys.session(s.userId, s.sessionId);
  const index = keys.userSessions(s.userId);
  const input = rotateInput(s, s.refreshTokenHash, s.createdAt + 1000);
  await store.rotate(input);
  const retain = input.now + input.refreshTtlMs + input.retainMs;
  t.equal(await client.pexpiretime(key), retain);
  t.equal(await client.zscore(index, s.sessionId), String(retain));
  t.equal(await client.pexpiretime(index), retain);
  t.match(await client.hgetall(key), { cur: input.nextHash, prev: s.refreshTokenHash, succ: input.sealedSuccessor, ra: String(input.now), lu: String(input.now) });

  t.match(await store.rotate(rotateInput(s, digest(), input.now + 1)), { kind: 'reused' });
  t.equal(await client.pexpiretime(key), retain, 'the tombstone keeps its expiry');
  t.strictSame(await client.hmget(key, 'cur', 'prev', 'succ'), [null, null, null], 'digests and successor dropped');

  const other = newSession();
  await store.create(other);
  const otherKey = keys.session(other.userId, other.sessionId);
  await client.hset(otherKey, 'prev', digest(), 'succ', 'sealed');
  t.equal(await store.revoke(other.userId, other.sessionId, 'logout'), true);
  t.equal(await client.pexpiretime(otherKey), other.retainUntil);
  t.strictSame(await client.hmget(otherKey, 'cur', 'prev', 'succ'), [null, null, null]);
});

t.test('bulk changes and listing prune ids whose record is gone; create prunes lapsed scores', async (t) => {
  const { keys, store } = isolatedStore(t);
  const userId = randomUUID();
  const index = keys.userSessions(userId);
  const live = newSession({ userId });
  await store.create(live);
  await client.zadd(index, live.retainUntil, 'vanished-1', live.retainUntil, 'vanished-2');
  t.strictSame((await store.listActiveForUser(userId, live.createdAt)).map((s) => s.sessionId), [live.sessionId]);
  t.strictSame(await client.zrange(index, 0, -1), [live.sessionId], 'listing pruned the dangling ids');

  await client.zadd(index, live.retainUntil, 'vanished-3');
  t.equal(await store.updateProfileForUser(userId, { role: 'PARTNER' }), 1);
  t.strictSame(await client.zrange(index, 0, -1), [live.sessionId], 'bulk scripts prune too');

  await client.zadd(index, live.createdAt - 1, 'lapsed');
  await store.create(newSession({ userId, createdAt: live.createdAt }));
  t.equal(await client.zscore(index, 'lapsed'), null, 'create drops scores below its createdAt');
});

t.test('round trips: getAccessState is one HMGET, listing and bulk changes one script each', async (t) => {
  const { store } = isolatedStore(t);
  const s = newSession();
  await store.create(s);
  await store.listActiveForUser(s.userId, s.createdAt); // loads the script on this connection
  t.strictSame(await commandsSentBy(() => store.getAccessState(s.userId, s.sessionId)), ['hmget']);
  t.strictSame(await commandsSentBy(() => store.get(s.userId, s.sessionId)), ['hmget']);
  t.equal((await commandsSentBy(() => store.listActiveForUser(s.userId, s.createdAt))).length, 1);
  t.equal((await commandsSentBy(() => store.revokeAllForUser(s.userId, 'logout_all'))).length, 1);
});

t.test('memory per realistic session: under 1 KiB when hashes of 256-byte values stay listpacks', async (t) => {
  const { keys, store } = isolatedStore(t);
  const s = newSession({ ip: '2001:db8:85a3::8a2e:370:7334', userAgent: 'M'.repeat(200) });
  await store.create(s);
  // A sealed successor is iv 12 + token 110 + tag 16 bytes, base64url (see src/lib/refresh-token.ts).
  await store.rotate(rotateInput(s, s.refreshTokenHash, s.createdAt + 1, { sealedSuccessor: randomBytes(138).toString('base64url') }));
  const key = keys.session(s.userId, s.sessionId);
  const bytes = Number(await client.memory('USAGE', key, 'SAMPLES', 0));
  const [, limit] = (await client.config('GET', 'hash-max-listpack-value')) as string[];
  // The user agent and sealed successor exceed the default limit of 64 bytes, which turns the
  // hash into a hashtable at about 40 bytes per field; production sets 256 (measured: ~940 bytes).
  if (Number(limit) >= 256) t.ok(bytes < 1024, `MEMORY USAGE ${bytes} bytes (listpack)`);
  // Known gap (the benchmark issue owns it): with Redis's default 64-byte listpack limit a long
  // user agent turns the hash into a hashtable; splitting ip/ua out of the hash fixes that.
  else t.ok(bytes < 2048, `MEMORY USAGE ${bytes} bytes (hashtable: hash-max-listpack-value is ${limit})`);
});

t.test('concurrent rotations from separate connections fork nothing', async (t) => {
  const prefix = `test:${randomUUID()}:`;
  t.teardown(() => deleteKeysWithPrefix(client, prefix));
  const clients = Array.from({ length: 4 }, () => new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 }));
  t.teardown(() => Promise.all(clients.map((c) => c.quit())));
  const stores = clients.map((c) => createRedisSessionStore({ client: c, keys: createKeys(prefix) }));
  const s = newSession();
  await stores[0]!.create(s);
  const inputs = Array.from({ length: 20 }, () => rotateInput(s, s.refreshTokenHash, s.createdAt + 1));
  const results = await Promise.all(inputs.map((input, i) => stores[i % stores.length]!.rotate(input)));
  const winner = inputs[results.findIndex((r) => r.kind === 'rotated')];
  t.equal(results.filter((r) => r.kind === 'rotated').length, 1);
  t.ok(results.every((r) => r.kind === 'rotated' || (r.kind === 'replayed' && r.sealedSuccessor === winner?.sealedSuccessor)));
});
