import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import t from 'tap';
import { commandsSentBy as commandsSentByClient, deleteKeysWithPrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import type { Test } from 'tap';
import { encodeTokenRecord } from '../../src/redis/app-token-scripts.js';
import { startRedisToFill } from '../helpers/redis-server.js';
import { createKeys } from '../../src/redis/keys.js';
import type { Keys } from '../../src/redis/keys.js';
import { createRedisAppTokenStore } from '../../src/redis/redis-app-token-store.js';
import { createRedisFailureThrottleStore } from '../../src/redis/redis-failure-throttle-store.js';
import { appTokenStoreContract, digest, issueInput, newSnapshot, throttleRules } from './app-token-store.contract.js';

const client = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
t.teardown(() => client.quit());
const commandsSentBy = (action: () => Promise<unknown>) => commandsSentByClient(client, action);

/** A store under a fresh random prefix, dropped when the subtest ends (even if it failed). */
function isolatedStore(t: Test, redis: Redis = client): { keys: Keys; store: ReturnType<typeof createRedisAppTokenStore> } {
  const prefix = uniquePrefix();
  t.teardown(() => deleteKeysWithPrefix(client, prefix));
  const keys = createKeys(prefix);
  return { keys, store: createRedisAppTokenStore({ client: redis, keys }) };
}

t.test('contract', async (t) => {
  appTokenStoreContract(t, async () => {
    const prefix = uniquePrefix();
    const keys = createKeys(prefix);
    return {
      store: createRedisAppTokenStore({ client, keys }),
      throttle: createRedisFailureThrottleStore({ client }),
      keys,
      cleanup: () => deleteKeysWithPrefix(client, prefix),
    };
  });
});

t.test('layout: hash-tagged keys, compact record, value and expiry set together', async (t) => {
  const { keys, store } = isolatedStore(t);
  const app = newSnapshot();
  await store.putSnapshot(app);
  const snapshotKey = keys.appSnapshot(app.id);
  const index = keys.appTokens(app.id);
  const before = Date.now();
  const input = issueInput(app, { now: before });
  const result = await store.issue(input);
  const after = Date.now();
  if (result.kind !== 'issued') throw new Error(`not issued: ${result.kind}`);
  const key = keys.appToken(app.id, input.tokenHash);
  // The throttle counters issue reads too, so the script touches one slot (Redis Cluster).
  const counters = throttleRules(keys, app.id, 'ip').map((rule) => rule.key);
  for (const k of [snapshotKey, index, key, ...counters]) t.equal(k.match(/\{[^}]*\}/)?.[0], `{a:${app.id}}`, `${k} carries the app's hash tag`);

  t.strictSame(JSON.parse((await client.get(snapshotKey)) ?? 'null'), app, 'snapshot is plain JSON');
  t.equal(await client.pttl(snapshotKey), -1, 'snapshot has no expiry');
  t.equal(await client.get(key), encodeTokenRecord(result.record), 'Lua writes the same bytes as encodeTokenRecord');
  const scoped = issueInput(app, { now: before, scope: [...app.permissions].reverse() });
  const scopedResult = await store.issue(scoped);
  if (scopedResult.kind !== 'issued') throw new Error(`not issued: ${scopedResult.kind}`);
  t.strictSame(scopedResult.record.scope, scoped.scope);
  t.equal(await client.get(keys.appToken(app.id, scoped.tokenHash)), encodeTokenRecord(scopedResult.record), 'the same bytes with a scope');

  // PX is relative to Redis's clock when the script ran, which lies between `before` and `after`.
  const expireTime = await client.pexpiretime(key);
  t.ok(expireTime >= input.expiresAt - 1 && expireTime <= input.expiresAt + (after - before) + 1, `PEXPIRETIME off by ${expireTime - input.expiresAt} ms`);
  t.equal(await client.zscore(index, input.tokenHash), String(input.expiresAt));
  t.equal(await client.pexpiretime(index), input.expiresAt, 'the index expires with its last member');

  const later = issueInput(app, { now: before, expiresAt: input.expiresAt + 5000 });
  await store.issue(later);
  t.equal(await client.pexpiretime(index), later.expiresAt, 'a longer-lived token extends the index');
  await store.issue(issueInput(app, { now: before, expiresAt: input.expiresAt + 1000 }));
  t.equal(await client.pexpiretime(index), later.expiresAt, 'a shorter-lived one does not shrink it');

  await store.putSnapshot({ ...app, name: 'again' });
  t.equal(await client.pttl(snapshotKey), -1, 'an overwrite keeps the snapshot unexpiring');
});

t.test('a token record written as JSON before the compact form still looks up', async (t) => {
  const { keys, store } = isolatedStore(t);
  const app = newSnapshot();
  await store.putSnapshot(app);
  const [org] = app.organizations;
  const tokenHash = digest();
  const tokenId = randomUUID();
  const now = Date.now();
  const legacy = { t: tokenId, o: org!.id, c: org!.code, v: 1, i: now, e: now + 60_000, s: app.permissions[0] };
  await client.set(keys.appToken(app.id, tokenHash), JSON.stringify(legacy), 'PX', 60_000);
  t.strictSame((await store.lookup(app.id, tokenHash)).token, {
    tokenId,
    appId: app.id,
    organizationId: org!.id,
    organizationCode: org!.code,
    secretVersion: 1,
    issuedAt: now,
    expiresAt: now + 60_000,
    scope: [app.permissions[0]],
  });
});

t.test('issue drops index scores below now; failures write nothing', async (t) => {
  const { keys, store } = isolatedStore(t);
  const app = newSnapshot();
  await store.putSnapshot(app);
  const index = keys.appTokens(app.id);
  const now = Date.now();
  await client.zadd(index, now - 1, 'lapsed', now, 'at-now');
  await store.issue(issueInput(app, { now, secretDigest: digest() }));
  t.equal(await client.zcard(index), 2, 'an invalid_client issue leaves the index alone');
  await store.issue(issueInput(app, { now }));
  t.equal(await client.zscore(index, 'lapsed'), null, 'score below now dropped');
  t.equal(await client.zscore(index, 'at-now'), String(now), 'score equal to now kept (ZREMRANGEBYSCORE -inf (now)');
});

t.test('round trips: lookup is one MGET, issue (with its throttle check), revoke and revokeAllForApp one script each', async (t) => {
  const { keys, store } = isolatedStore(t);
  const app = newSnapshot();
  await store.putSnapshot(app);
  const input = issueInput(app);
  await store.issue(input); // loads the script on this connection
  await store.revokeAllForApp(randomUUID());
  await store.revoke(randomUUID(), digest());
  t.strictSame(await commandsSentBy(() => store.lookup(app.id, input.tokenHash)), ['mget']);
  t.strictSame(await commandsSentBy(() => store.issue(issueInput(app))), ['evalsha']);
  t.strictSame(await commandsSentBy(() => store.issue(issueInput(app, { throttle: throttleRules(keys, app.id, 'ip') }))), ['evalsha'], 'the lock is read in the same script');
  t.strictSame(await commandsSentBy(() => store.countLive(app.id, Date.now())), ['zcount']);
  t.strictSame(await commandsSentBy(() => store.revoke(app.id, input.tokenHash)), ['evalsha']);
  t.strictSame(await commandsSentBy(() => store.revokeAllForApp(app.id)), ['evalsha']);
  t.strictSame(await commandsSentBy(() => store.getSnapshot(app.id)), ['get']);
});

t.test('memory per token: record key plus its share of the index stays under 0.5 KiB', async (t) => {
  // The default REDIS_KEY_PREFIX is 'pc:'; measure under a prefix of that length (the random
  // per-test prefixes are 42 bytes). The random app id keeps the keys apart; teardown drops them.
  const keys = createKeys('tp:');
  const store = createRedisAppTokenStore({ client, keys });
  // Realistic sizes: UUID ids, a 43-character SHA-256 digest, a longish organization code.
  const app = newSnapshot({ organizations: [{ id: randomUUID(), code: 'acme-logistics-eu-west-warehouse', isDefault: true }] });
  t.teardown(async () => {
    await store.revokeAllForApp(app.id);
    await client.unlink(keys.appSnapshot(app.id));
  });
  await store.putSnapshot(app);
  const index = keys.appTokens(app.id);
  const first = issueInput(app);
  await store.issue(first);
  const usage = async (key: string) => Number(await client.memory('USAGE', key, 'SAMPLES', 0));
  // MEMORY USAGE leaves out the key's entry in the expires dict (a 24-byte dictEntry, 32 with jemalloc).
  const recordBytes = (await usage(keys.appToken(app.id, first.tokenHash))) + 32;
  const shares: string[] = [];
  // 100 tokens keep the index a listpack; 200 pass zset-max-listpack-entries (128 by default)
  // and make it a skiplist, the costlier encoding the assertion holds for.
  for (const total of [100, 200]) {
    while ((await client.zcard(index)) < total) await store.issue(issueInput(app));
    const share = (await usage(index)) / total;
    const perToken = recordBytes + share;
    shares.push(`${await client.object('ENCODING', index)} ${share.toFixed(1)} B -> ${perToken.toFixed(1)} B`);
    t.ok(perToken < 512, `${total} tokens: record ${recordBytes} B + index share ${share.toFixed(1)} B = ${perToken.toFixed(1)} B`);
  }
  t.comment(`per token: record ${recordBytes} B (incl. expires entry); index ${shares.join('; ')}`);
});

t.test('concurrent issues from separate connections all land', async (t) => {
  const prefix = `test:${randomUUID()}:`;
  t.teardown(() => deleteKeysWithPrefix(client, prefix));
  const clients = Array.from({ length: 4 }, () => new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 }));
  t.teardown(() => Promise.all(clients.map((c) => c.quit())));
  const stores = clients.map((c) => createRedisAppTokenStore({ client: c, keys: createKeys(prefix) }));
  const app = newSnapshot();
  await stores[0]!.putSnapshot(app);
  const inputs = Array.from({ length: 20 }, () => issueInput(app));
  const results = await Promise.all(inputs.map((input, i) => stores[i % stores.length]!.issue(input)));
  t.ok(results.every((r) => r.kind === 'issued'));
  t.equal(await stores[1]!.countLive(app.id, Date.now()), 20);
  t.equal(await stores[2]!.revokeAllForApp(app.id), 20);
});

t.test('over maxmemory an app can still be suspended and its tokens revoked', async (t) => {
  const { redis, fill } = await startRedisToFill(t);
  const store = createRedisAppTokenStore({ client: redis, keys: createKeys(uniquePrefix()) });
  const app = newSnapshot();
  await store.putSnapshot(app);
  const input = issueInput(app);
  t.match(await store.issue(input), { kind: 'issued' });
  await fill();
  await t.rejects(redis.set(`${uniquePrefix()}probe`, 'x'), /OOM/, 'Redis is over its limit');
  await store.putSnapshot({ ...app, status: 'SUSPENDED' });
  t.match(await store.getSnapshot(app.id), { id: app.id, status: 'SUSPENDED' }, 'the suspension landed');
  t.equal(await store.revoke(app.id, input.tokenHash), true, 'a token is revoked (a MULTI would be refused whole)');
  t.match(await store.lookup(app.id, input.tokenHash), { token: null }, 'and gone');
});
