/** FailureThrottleStore in process memory: the same counters and locks, expiry by the caller's time. */
import { type FailureThrottleStore, lockDurationMs } from './failure-throttle-store.js';

const SWEEP_EVERY = 1000;

export function createMemoryFailureThrottleStore(): FailureThrottleStore {
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

  return {
    async read(rules, now) {
      return rules.map((rule) => {
        const entry = live(rule.key, now);
        return { failures: entry?.count ?? 0, lockedForMs: Math.max(0, (entry?.lockedUntil ?? 0) - now) };
      });
    },
    async recordFailure(rules, now) {
      if (++writes % SWEEP_EVERY === 0) for (const [key, entry] of counters) if (entry.expiresAt <= now) counters.delete(key);
      return rules.map((rule) => {
        const entry = live(rule.key, now);
        const count = (entry?.count ?? 0) + 1;
        const lock = lockDurationMs(rule, count);
        const lockedUntil = lock > 0 ? now + lock : (entry?.lockedUntil ?? 0);
        counters.set(rule.key, { count, lockedUntil, expiresAt: now + Math.max(rule.windowMs, lock) });
        return { failures: count, lockedForMs: lock };
      });
    },
    async reset(keys) {
      for (const key of keys) counters.delete(key);
    },
  };
}
