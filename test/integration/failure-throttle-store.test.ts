/** The failure-throttle contract, run against the Redis store and the in-process store alike. */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { FailureThrottleStore, ThrottleRule } from '../../src/redis/failure-throttle-store.js';
import { createMemoryFailureThrottleStore } from '../../src/redis/memory-failure-throttle-store.js';
import { createRedisFailureThrottleStore } from '../../src/redis/redis-failure-throttle-store.js';
import { commandsSentBy, deleteKeysWithPrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';

const client = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
t.teardown(() => client.quit());
const prefix = uniquePrefix();
t.teardown(() => deleteKeysWithPrefix(client, prefix));

const rule = (overrides: Partial<ThrottleRule> = {}): ThrottleRule => ({
  key: `${prefix}{k:${randomUUID()}}`,
  lockAfter: 3,
  lockMs: 1000,
  maxLockMs: 8000,
  doubling: true,
  windowMs: 60_000,
  ...overrides,
});

const stores: [string, () => FailureThrottleStore][] = [
  ['redis', () => createRedisFailureThrottleStore({ client })],
  ['memory', () => createMemoryFailureThrottleStore()],
];

for (const [name, make] of stores) {
  t.test(`${name}: contract`, async (t) => {
    const now = Date.now();

    t.test('counts failures; no lock below the threshold', async (t) => {
      const store = make();
      const r = rule();
      t.strictSame(await store.read([r], now), [{ failures: 0, lockedForMs: 0 }]);
      t.strictSame(await store.recordFailure([r], now), [{ failures: 1, lockedForMs: 0 }]);
      t.strictSame(await store.recordFailure([r], now), [{ failures: 2, lockedForMs: 0 }]);
      t.strictSame(await store.read([r], now + 10), [{ failures: 2, lockedForMs: 0 }]);
    });

    t.test('locks at the threshold, doubling per further failure, capped', async (t) => {
      const store = make();
      const r = rule();
      for (let i = 0; i < 2; i++) await store.recordFailure([r], now);
      t.strictSame(await store.recordFailure([r], now), [{ failures: 3, lockedForMs: 1000 }]);
      t.strictSame(await store.read([r], now + 400), [{ failures: 3, lockedForMs: 600 }], 'the lock runs down');
      t.strictSame(await store.read([r], now + 1000), [{ failures: 3, lockedForMs: 0 }], 'and ends; the count survives');
      t.strictSame(await store.recordFailure([r], now + 1000), [{ failures: 4, lockedForMs: 2000 }]);
      t.strictSame(await store.recordFailure([r], now + 3000), [{ failures: 5, lockedForMs: 4000 }]);
      t.strictSame(await store.recordFailure([r], now + 7000), [{ failures: 6, lockedForMs: 8000 }]);
      t.strictSame(await store.recordFailure([r], now + 15000), [{ failures: 7, lockedForMs: 8000 }], 'capped at maxLockMs');
    });

    t.test('a fixed lock when not doubling; several keys in one call; reset forgets', async (t) => {
      const store = make();
      const pair = rule({ lockAfter: 2 });
      const whole = rule({ lockAfter: 2, doubling: false, lockMs: 5000, maxLockMs: 5000 });
      await store.recordFailure([pair, whole], now);
      t.strictSame(await store.recordFailure([pair, whole], now), [
        { failures: 2, lockedForMs: 1000 },
        { failures: 2, lockedForMs: 5000 },
      ]);
      t.strictSame(await store.recordFailure([whole], now + 1), [{ failures: 3, lockedForMs: 5000 }]);
      await store.reset([pair.key, whole.key]);
      t.strictSame(await store.read([pair, whole], now + 2), [
        { failures: 0, lockedForMs: 0 },
        { failures: 0, lockedForMs: 0 },
      ]);
    });

    t.test('attempt: counts before the check it makes, refuses while locked and then counts nothing', async (t) => {
      const store = make();
      const pair = rule({ lockAfter: 2 });
      const whole = rule({ lockAfter: 5, doubling: false, lockMs: 5000, maxLockMs: 5000 });
      t.strictSame(await store.attempt([pair, whole], now), { admitted: true, states: [{ failures: 1, lockedForMs: 0 }, { failures: 1, lockedForMs: 0 }] });
      t.strictSame(
        await store.attempt([pair, whole], now),
        { admitted: true, states: [{ failures: 2, lockedForMs: 1000 }, { failures: 2, lockedForMs: 0 }] },
        'admitted, and counted: it locks the pair if it proves a failure',
      );
      t.strictSame(await store.attempt([pair, whole], now + 10), { admitted: false, states: [{ failures: 2, lockedForMs: 990 }, { failures: 2, lockedForMs: 0 }] });
      t.strictSame(await store.read([pair, whole], now + 10), [{ failures: 2, lockedForMs: 990 }, { failures: 2, lockedForMs: 0 }], 'the refused attempt counted nothing');
      t.strictSame(
        await store.attempt([pair, whole], now + 1000),
        { admitted: true, states: [{ failures: 3, lockedForMs: 2000 }, { failures: 3, lockedForMs: 0 }] },
        'after the lock: admitted again, and the next lock doubles',
      );
      await store.reset([pair.key, whole.key]);
      t.strictSame((await store.attempt([pair, whole], now + 1001)).states, [{ failures: 1, lockedForMs: 0 }, { failures: 1, lockedForMs: 0 }], 'a reset starts the count again');
    });

    t.test('attempt: concurrent attempts are admitted only up to the threshold', async (t) => {
      const store = make();
      const r = rule({ lockAfter: 3 });
      const results = await Promise.all(Array.from({ length: 20 }, () => store.attempt([r], now)));
      t.equal(results.filter((result) => result.admitted).length, 3, 'three admitted, seventeen refused');
      t.strictSame(await store.read([r], now), [{ failures: 3, lockedForMs: 1000 }]);
    });

    t.test('release takes back one count; below the threshold the lock goes too; at zero the counter is gone', async (t) => {
      const store = make();
      const r = rule({ lockAfter: 2 });
      await store.attempt([r], now);
      await store.attempt([r], now);
      await store.attempt([r], now + 1000);
      t.strictSame(await store.read([r], now + 1000), [{ failures: 3, lockedForMs: 2000 }]);
      await store.release([r]);
      t.strictSame(await store.read([r], now + 1000), [{ failures: 2, lockedForMs: 2000 }], 'still at the threshold: the lock stays');
      await store.release([r]);
      t.strictSame(await store.read([r], now + 1000), [{ failures: 1, lockedForMs: 0 }], 'below it: unlocked');
      await store.release([r]);
      await store.release([r]);
      t.strictSame(await store.read([r], now + 1000), [{ failures: 0, lockedForMs: 0 }], 'never below zero');
      t.strictSame((await store.attempt([r], now + 1000)).states, [{ failures: 1, lockedForMs: 0 }], 'and counts from zero again');
    });
  });
}

t.test('redis: attempt and release are one command each; a released counter is deleted', async (t) => {
  const store = createRedisFailureThrottleStore({ client });
  const r = rule();
  t.equal((await commandsSentBy(client, () => store.attempt([r, rule()], Date.now()))).length, 1);
  t.equal(await client.exists(r.key), 1);
  t.equal((await commandsSentBy(client, () => store.release([r]))).length, 1);
  t.equal(await client.exists(r.key), 0);
});

t.test('redis: read is one command, counters expire after the window', async (t) => {
  const store = createRedisFailureThrottleStore({ client });
  const r = rule({ windowMs: 100 });
  t.equal((await commandsSentBy(client, () => store.read([r, rule()], Date.now()))).length, 1);
  await store.recordFailure([r], Date.now());
  t.ok((await client.pttl(r.key)) <= 100);
  await new Promise((resolve) => setTimeout(resolve, 150));
  t.equal(await client.exists(r.key), 0, 'gone after the window');
});
