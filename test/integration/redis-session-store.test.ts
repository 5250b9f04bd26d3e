import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import t from 'tap';
import { commandsSentBy as commandsSentByClient, deleteKeysWithPrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import type { Test } from 'tap';
import { startRedisToFill } from '../helpers/redis-server.js';
import { createKeys } from '../../src/redis/keys.js';
import type { Keys } from '../../src/redis/keys.js';
import { createRedisSessionStore } from '../../src/redis/redis-session-store.js';
import type { NewSession } from '../../src/redis/session-store.js';
import { digest, newSession, rotateInput, sessionStoreContract } from './session-store.contract.js';

const client = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
t.teardown(() => client.quit());
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
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
  const grace = keys.sessionGrace(s.userId, s.sessionId);
  for (const k of [key, index, grace]) t.equal(k.match(/\{[^}]*\}/)?.[0], `{u:${s.userId}}`, `${k} carries the user's hash tag`);
  t.strictSame(
    await client.hgetall(key),
    {
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
    },
    'no uid: the key carries it',
  );
  t.equal(await client.exists(grace), 0, 'no grace key before the first rotation');
  t.equal(await client.pexpiretime(key), s.retainUntil, 'key expires at retainUntil');
  t.equal(await client.zscore(index, s.sessionId), String(s.retainUntil));
  t.equal(await client.pexpiretime(index), s.retainUntil, 'the index expires with its last member');

  const later = newSession({ userId: s.userId, retainUntil: s.retainUntil + 5000 });
  await store.create(later);
  t.equal(await client.pexpiretime(index), later.retainUntil, 'a longer-lived member extends the index');
  await store.create(newSession({ userId: s.userId, retainUntil: s.retainUntil + 1000 }));
  t.equal(await client.pexpiretime(index), later.retainUntil, 'a shorter-lived one does not shrink it');
});

t.test('long text is stored in pieces of at most 64 bytes that end on character boundaries', async (t) => {
  const { keys, store } = isolatedStore(t);
  const userAgent = `Moz/${'€😀é'.repeat(63)}`;
  const s = newSession({ userAgent, name: 'Þórsdóttir '.repeat(10), email: `${'x'.repeat(70)}@example.test` });
  await store.create(s);
  const raw = await client.hgetallBuffer(keys.session(s.userId, s.sessionId));
  for (const [field, value] of Object.entries(raw)) {
    t.ok(value.length <= 64, `${field} is ${value.length} bytes`);
    t.equal(Buffer.from(value.toString('utf8'), 'utf8').compare(value), 0, `${field} is valid UTF-8 on its own`);
  }
  const uaPieces = Object.keys(raw).filter((f) => /^ua\d*$/.test(f));
  t.strictSame(uaPieces, ['ua', ...Array.from({ length: 9 }, (_, i) => `ua${i + 1}`)], '571 bytes of user agent in 10 pieces, in order');
  t.ok(uaPieces.slice(0, -1).some((f) => raw[f]!.length < 64), 'a cut moved back to keep a character whole');
  t.equal(Buffer.concat(uaPieces.map((f) => raw[f]!)).toString('utf8'), userAgent, 'the pieces in order are the user agent');
  t.ok(raw.em1 && raw.nm1, 'email and name over 64 bytes are pieced too');
  t.equal(await client.object('ENCODING', keys.session(s.userId, s.sessionId)), 'listpack');
});

t.test('rotation: expiry and index score move; the replayable rotation lives in the grace key only', async (t) => {
  const { keys, store } = isolatedStore(t);
  const s = newSession();
  await store.create(s);
  const key = keys.session(s.userId, s.sessionId);
  const index = keys.userSessions(s.userId);
  const grace = keys.sessionGrace(s.userId, s.sessionId);
  const input = rotateInput(s, s.refreshTokenHash, s.createdAt + 1000);
  await store.rotate(input);
  const retain = input.now + input.refreshTtlMs + input.retainMs;
  t.equal(await client.pexpiretime(key), retain);
  t.equal(await client.zscore(index, s.sessionId), String(retain));
  t.equal(await client.pexpiretime(index), retain);
  t.match(await client.hgetall(key), { cur: input.nextHash, lu: String(input.now), rea: String(input.now + input.refreshTtlMs) });
  t.strictSame(await client.hmget(key, 'prev', 'ra', 'succ'), [null, null, null], 'nothing of the rotation stays in the hash');
  t.equal(await client.get(grace), `${input.now} ${s.refreshTokenHash} ${input.sealedSuccessor}`);
  const ttl = await client.pttl(grace);
  t.ok(ttl > 2 * input.graceMs && ttl <= 2 * input.graceMs + 1000, `grace key PTTL ${ttl} ms: the window, as much again and 1 s`);

  t.match(await store.rotate(rotateInput(s, digest(), input.now + 1)), { kind: 'reused' });
  t.equal(await client.pexpiretime(key), retain, 'the tombstone keeps its expiry');
  t.strictSame(await client.hmget(key, 'cur', 'prev', 'succ'), [null, null, null], 'digests dropped');
  t.equal(await client.exists(grace), 0, 'the sealed successor is dropped');

  const ends = {
    revoke: (o: NewSession) => store.revoke(o.userId, o.sessionId, 'logout'),
    revokeAllForUser: (o: NewSession) => store.revokeAllForUser(o.userId, 'logout_all'),
    disableAllForUser: (o: NewSession) => store.disableAllForUser(o.userId),
  };
  for (const [name, end] of Object.entries(ends)) {
    const other = newSession();
    await store.create(other);
    const rotation = rotateInput(other, other.refreshTokenHash, other.createdAt + 1);
    await store.rotate(rotation);
    const otherKey = keys.session(other.userId, other.sessionId);
    const otherGrace = keys.sessionGrace(other.userId, other.sessionId);
    t.equal(await client.exists(otherGrace), 1);
    await end(other);
    t.equal(await client.pexpiretime(otherKey), rotation.now + HOUR + 15 * MINUTE, `${name}: the tombstone keeps its expiry`);
    t.strictSame(await client.hmget(otherKey, 'cur'), [null], `${name}: digest dropped`);
    t.equal(await client.exists(otherGrace), 0, `${name}: the grace key is dropped`);
  }
});

t.test('the grace key expires by itself after 2 x grace + 1 s', async (t) => {
  const { keys, store } = isolatedStore(t);
  const s = newSession();
  await store.create(s);
  const graceMs = 50;
  const input = rotateInput(s, s.refreshTokenHash, Date.now(), { graceMs });
  await store.rotate(input);
  await sleep(2 * graceMs + 1000 + 200);
  t.equal(await client.exists(keys.sessionGrace(s.userId, s.sessionId)), 0, 'gone');
  t.match(await store.rotate(rotateInput(s, input.nextHash, Date.now(), { graceMs })), { kind: 'rotated' }, 'the session rotates on');
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

t.test('round trips: create is one script, getAccessState one HMGET, get, listing and bulk changes one script each', async (t) => {
  const { store } = isolatedStore(t);
  const s = newSession();
  await store.create(s);
  t.strictSame(await commandsSentBy(() => store.create(newSession({ userId: s.userId }))), ['evalsha'], 'a login writes its session in one command');
  await store.listActiveForUser(s.userId, s.createdAt); // loads the scripts on this connection
  await store.get(s.userId, s.sessionId);
  t.strictSame(await commandsSentBy(() => store.getAccessState(s.userId, s.sessionId)), ['hmget']);
  t.strictSame(await commandsSentBy(() => store.get(s.userId, s.sessionId)), ['evalsha']);
  t.equal((await commandsSentBy(() => store.listActiveForUser(s.userId, s.createdAt))).length, 1);
  t.equal((await commandsSentBy(() => store.revokeAllForUser(s.userId, 'logout_all'))).length, 1);

  const longestWhole = newSession({ name: 'Þ'.repeat(30), email: `${'e'.repeat(47)}@example.test` });
  await store.create(longestWhole);
  t.strictSame(await commandsSentBy(() => store.getAccessState(longestWhole.userId, longestWhole.sessionId)), ['hmget'], 'values under 61 bytes are whole in the one HMGET');
  t.match(await store.getAccessState(longestWhole.userId, longestWhole.sessionId), { name: longestWhole.name, email: longestWhole.email });
  const mayGoOn = newSession({ email: `${'e'.repeat(48)}@example.test` });
  await store.create(mayGoOn);
  t.strictSame(await commandsSentBy(() => store.getAccessState(mayGoOn.userId, mayGoOn.sessionId)), ['hmget', 'evalsha'], 'a first piece of 61 bytes may go on: read again');
  t.match(await store.getAccessState(mayGoOn.userId, mayGoOn.sessionId), { email: mayGoOn.email });
  for (const pieced of [
    newSession({ name: 'Þórsdóttir '.repeat(9), email: `${'e'.repeat(100)}@example.test` }),
    newSession({ name: '李'.repeat(50) }),
    newSession({ name: `${'a'.repeat(63)}李${'b'.repeat(10)}` }),
  ]) {
    await store.create(pieced);
    t.strictSame(await commandsSentBy(() => store.getAccessState(pieced.userId, pieced.sessionId)), ['hmget', 'evalsha'], 'longer costs a second read');
    t.strictSame(await store.getAccessState(pieced.userId, pieced.sessionId), {
      status: 'active', role: pieced.role, email: pieced.email, name: pieced.name, expiresAt: pieced.expiresAt, revokedReason: null,
    }, 'and reads whole');
  }
});

t.test('memory per session with a 200-character user agent, after a refresh: listpack, under 1 KiB', async (t) => {
  // Guards the layout on Redis's default configuration (hash-max-listpack-value 64): one value
  // over 64 bytes would turn the hash into a hashtable and cost ~600 bytes more.
  const { keys, store } = isolatedStore(t);
  const s = newSession({ ip: '2001:db8:85a3::8a2e:370:7334', userAgent: 'M'.repeat(200), email: `${'e'.repeat(40)}@example.test` });
  await store.create(s);
  // A sealed successor is iv 12 + token 110 + tag 16 bytes, base64url (see src/lib/refresh-token.ts).
  await store.rotate(rotateInput(s, s.refreshTokenHash, s.createdAt + 1, { sealedSuccessor: randomBytes(138).toString('base64url') }));
  const key = keys.session(s.userId, s.sessionId);
  t.equal(await client.object('ENCODING', key), 'listpack', 'the session hash is a listpack');
  // Measure under the default prefix's length ('pc:'), as production keys are: the test's random
  // prefix is longer, so copy both keys there (RESTORE keeps the encoding).
  const production = createKeys('pc:');
  const copies = [production.session(s.userId, s.sessionId), production.userSessions(s.userId)];
  t.teardown(() => client.unlink(...copies));
  await client.restore(copies[0]!, 60_000, (await client.dumpBuffer(key))!, 'REPLACE');
  await client.restore(copies[1]!, 60_000, (await client.dumpBuffer(keys.userSessions(s.userId)))!, 'REPLACE');
  // MEMORY USAGE leaves out each key's entry in the expires dict (a 24-byte dictEntry, 32 with jemalloc).
  const [hashBytes, indexBytes] = await Promise.all(copies.map(async (k) => Number(await client.memory('USAGE', k, 'SAMPLES', 0)) + 32));
  t.ok(hashBytes! + indexBytes! <= 1024, `session ${hashBytes} B + its own index ${indexBytes} B = ${hashBytes! + indexBytes!} B`);
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

t.test('over maxmemory a new session is refused whole: nothing is written', async (t) => {
  const { redis, fill, free } = await startRedisToFill(t);
  const keys = createKeys(uniquePrefix());
  const store = createRedisSessionStore({ client: redis, keys });
  const s = newSession();
  await fill();
  await t.rejects(store.create(s), /OOM/, 'Redis refuses the write');
  t.equal(await redis.exists(keys.session(s.userId, s.sessionId), keys.userSessions(s.userId)), 0, 'neither the session nor its index entry exists');
  await free();
  await store.create(s);
  t.equal(await redis.exists(keys.session(s.userId, s.sessionId), keys.userSessions(s.userId)), 2, 'with memory again the same session is written');
});

t.test('over maxmemory sessions still end: revoke, revoke all and disable all run', async (t) => {
  const { redis, fill } = await startRedisToFill(t);
  const store = createRedisSessionStore({ client: redis, keys: createKeys(uniquePrefix()) });
  const one = newSession();
  const all = newSession();
  const disabled = newSession();
  for (const s of [one, all, disabled]) await store.create(s);
  await fill();
  await t.rejects(store.create(newSession()), /OOM/, 'Redis is over its limit: new sessions are refused');
  t.equal(await store.revoke(one.userId, one.sessionId, 'logout'), true, 'a logout revokes');
  t.equal(await store.revokeAllForUser(all.userId, 'logout_all'), 1, 'logging out everywhere revokes');
  t.equal(await store.disableAllForUser(disabled.userId), 1, 'disabling the account ends its sessions');
  t.match(await store.getAccessState(one.userId, one.sessionId), { status: 'revoked', revokedReason: 'logout' });
  t.match(await store.getAccessState(all.userId, all.sessionId), { status: 'revoked', revokedReason: 'logout_all' });
  t.match(await store.getAccessState(disabled.userId, disabled.sessionId), { status: 'disabled' });
});

t.test('over maxmemory a rotation is refused whole, while a reused token still revokes its session', async (t) => {
  const { redis, fill } = await startRedisToFill(t);
  const keys = createKeys(uniquePrefix());
  const store = createRedisSessionStore({ client: redis, keys });
  const s = newSession();
  await store.create(s);
  const first = rotateInput(s, s.refreshTokenHash, s.createdAt + 1000);
  t.match(await store.rotate(first), { kind: 'rotated' });
  const key = keys.session(s.userId, s.sessionId);
  const before = await redis.hgetall(key);

  await fill();
  const later = first.now + first.graceMs + 1000;
  await t.rejects(store.rotate(rotateInput(s, first.nextHash, later)), /OOM/, 'the current token cannot rotate: Redis is full');
  t.strictSame(await redis.hgetall(key), before, 'and the refused rotation changed nothing');
  t.match(await store.rotate(rotateInput(s, s.refreshTokenHash, later)), { kind: 'reused' }, 'the rotated-away token is reuse');
  t.match(await store.getAccessState(s.userId, s.sessionId), { status: 'revoked', revokedReason: 'reuse_detected' }, 'and the session is revoked though Redis is full');
});
