/** FailureThrottleStore in process memory: the same counters and locks, expiry by the caller's time. */
import { anyLocked, type FailureThrottleStore, lockDurationMs, type ThrottleRule, type ThrottleState } from './failure-throttle-store.js';

/**
 * The in-process store, with its reads and writes also as plain calls, so the in-process app
 * token store can check a lock and count a failure in one synchronous step, as ISSUE_SCRIPT does.
 */
export interface InProcessFailureThrottleStore extends FailureThrottleStore {
  readNow(rules: ThrottleRule[], now: number): ThrottleState[];
  recordFailureNow(rules: ThrottleRule[], now: number): ThrottleState[];
  resetNow(keys: string[]): void;
}

export const isInProcessThrottle = (store: FailureThrottleStore): store is InProcessFailureThrottleStore => 'recordFailureNow' in store;

const SWEEP_EVERY = 1000;

export function createMemoryFailureThrottleStore(): InProcessFailureThrottleStore {
  const counters = new Map<string, { count: number; lockedUntil: number; expiresAt: number }>();
  let writes = 0;

  const live = (key: string, now: number) => {
    const entry = counters.get(key);
    if (entry && entry.expiresAt <= now) {
      counters.delete(key);
      return undefined;
    }
    return entry;
  };

  const read = (rules: ThrottleRule[], now: number): ThrottleState[] =>
    rules.map((rule) => {
      const entry = live(rule.key, now);
      return { failures: entry?.count ?? 0, lockedForMs: Math.max(0, (entry?.lockedUntil ?? 0) - now) };
    });

  const recordFailure = (rules: ThrottleRule[], now: number): ThrottleState[] => {
    if (++writes % SWEEP_EVERY === 0) for (const [key, entry] of counters) if (entry.expiresAt <= now) counters.delete(key);
    return rules.map((rule) => {
      const entry = live(rule.key, now);
      const count = (entry?.count ?? 0) + 1;
      const lock = lockDurationMs(rule, count);
      const lockedUntil = lock > 0 ? now + lock : (entry?.lockedUntil ?? 0);
      counters.set(rule.key, { count, lockedUntil, expiresAt: now + Math.max(rule.windowMs, lock) });
      return { failures: count, lockedForMs: lock };
    });
  };

  const reset = (keys: string[]): void => {
    for (const key of keys) counters.delete(key);
  };

  return {
    async read(rules, now) {
      return read(rules, now);
    },
    async recordFailure(rules, now) {
      return recordFailure(rules, now);
    },
    // No await between the check and the count: as atomic as the Redis script.
    async attempt(rules, now) {
      const states = read(rules, now);
      if (anyLocked(states)) return { admitted: false, states };
      return { admitted: true, states: recordFailure(rules, now) };
    },
    async release(rules) {
      for (const rule of rules) {
        const entry = counters.get(rule.key);
        if (!entry) continue;
        if (entry.count <= 1) counters.delete(rule.key);
        else {
          entry.count -= 1;
          if (entry.count < rule.lockAfter) entry.lockedUntil = 0;
        }
      }
    },
    async reset(keys) {
      reset(keys);
    },
    readNow: read,
    recordFailureNow: recordFailure,
    resetNow: reset,
  };
}
