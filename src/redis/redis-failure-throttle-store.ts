/** FailureThrottleStore on Redis: one counter key per rule, read and updated by Lua in one round trip. */
import type { Redis } from 'ioredis';
import { type FailureThrottleStore, ruleArguments, type ThrottleRule, type ThrottleState } from './failure-throttle-store.js';
import { ATTEMPT_SCRIPT, READ_SCRIPT, RECORD_FAILURE_SCRIPT, RELEASE_SCRIPT } from './failure-throttle-scripts.js';

export function createRedisFailureThrottleStore(options: { client: Redis }): FailureThrottleStore {
  const { client } = options;
  // numberOfKeys varies per call, so it is passed at call time (ioredis: numberOfKeys omitted).
  client.defineCommand('portcullisThrottleRecord', { lua: RECORD_FAILURE_SCRIPT });
  client.defineCommand('portcullisThrottleRead', { lua: READ_SCRIPT });
  client.defineCommand('portcullisThrottleAttempt', { lua: ATTEMPT_SCRIPT });
  client.defineCommand('portcullisThrottleRelease', { lua: RELEASE_SCRIPT });
  const call = (name: string, rules: ThrottleRule[], args: (string | number)[]) =>
    (client as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[name]!.call(
      client,
      rules.length,
      ...rules.map((rule) => rule.key),
      ...args,
    );
  const toStates = (rows: unknown): ThrottleState[] =>
    (rows as [number, number][]).map(([count, lockedForMs]) => ({ failures: Number(count), lockedForMs: Number(lockedForMs) }));

  return {
    async read(rules, now) {
      if (rules.length === 0) return [];
      return toStates(await call('portcullisThrottleRead', rules, [now]));
    },
    async recordFailure(rules, now) {
      if (rules.length === 0) return [];
      return toStates(await call('portcullisThrottleRecord', rules, [now, ...ruleArguments(rules)]));
    },
    async attempt(rules, now) {
      if (rules.length === 0) return { admitted: true, states: [] };
      const [admitted, rows] = (await call('portcullisThrottleAttempt', rules, [now, ...ruleArguments(rules)])) as [number, unknown];
      return { admitted: Number(admitted) === 1, states: toStates(rows) };
    },
    async release(rules) {
      if (rules.length > 0) await call('portcullisThrottleRelease', rules, rules.map((rule) => rule.lockAfter));
    },
    async reset(keys) {
      if (keys.length > 0) await client.del(...keys);
    },
  };
}
