/** FailureThrottleStore on Redis: one counter key per rule, read and updated by Lua in one round trip. */
import type { Redis } from 'ioredis';
import type { FailureThrottleStore, ThrottleRule, ThrottleState } from './failure-throttle-store.js';
import { READ_SCRIPT, RECORD_FAILURE_SCRIPT } from './failure-throttle-scripts.js';

export function createRedisFailureThrottleStore(options: { client: Redis }): FailureThrottleStore {
  const { client } = options;
  // numberOfKeys varies per call, so it is passed at call time (ioredis: numberOfKeys omitted).
  client.defineCommand('portcullisThrottleRecord', { lua: RECORD_FAILURE_SCRIPT });
  client.defineCommand('portcullisThrottleRead', { lua: READ_SCRIPT });
  const call = (name: string, rules: ThrottleRule[], args: (string | number)[]) =>
    (client as unknown as Record<string, (...a: (string | number)[]) => Promise<[number, number][]>>)[name]!.call(
      client,
      rules.length,
      ...rules.map((rule) => rule.key),
      ...args,
    );
  const toStates = (rows: [number, number][]): ThrottleState[] =>
    rows.map(([count, lockedForMs]) => ({ failures: Number(count), lockedForMs: Number(lockedForMs) }));

  return {
    async read(rules, now) {
      if (rules.length === 0) return [];
      return toStates(await call('portcullisThrottleRead', rules, [now]));
    },
    async recordFailure(rules, now) {
      if (rules.length === 0) return [];
      const args = rules.flatMap((rule) => [rule.lockAfter, rule.lockMs, rule.maxLockMs, rule.doubling ? 1 : 0, rule.windowMs]);
      return toStates(await call('portcullisThrottleRecord', rules, [now, ...args]));
    },
    async reset(keys) {
      if (keys.length > 0) await client.del(...keys);
    },
  };
}
