/**
 * Counters of failed credential checks, and the locks they trigger (brute-force protection).
 * Two implementations keep this contract: Redis (shared by every instance) and in-process; both
 * pass test/integration/failure-throttle-store.contract.ts.
 *
 * A counter lives `windowMs` after its last failure (or until its lock ends, if later). When a
 * failure brings it to `lockAfter` or beyond, it locks the key for `lockMs`, doubled for each
 * failure past the threshold when `doubling` is set, capped at `maxLockMs`. The count survives the
 * lock, so a failure right after a lock earns a longer one. Times come from the caller's clock.
 */

export interface ThrottleRule {
  key: string;
  lockAfter: number;
  lockMs: number;
  maxLockMs: number;
  doubling: boolean;
  windowMs: number;
}

export interface ThrottleState {
  failures: number;
  /** Milliseconds until the lock ends; 0 when not locked. */
  lockedForMs: number;
}

export interface ThrottleAttempt {
  admitted: boolean;
  /** Refused: the states that lock it. Admitted: the states with this attempt counted. */
  states: ThrottleState[];
}

export interface FailureThrottleStore {
  /** One round trip: count and remaining lock of each rule's key at `now`, in order. */
  read(rules: ThrottleRule[], now: number): Promise<ThrottleState[]>;
  /** Atomic (Lua): counts one failure on every rule's key and applies its expiry and lock. Returns the new states. */
  recordFailure(rules: ThrottleRule[], now: number): Promise<ThrottleState[]>;
  /**
   * Atomic (Lua): while any key is locked, refused and nothing counted; else counts one failure on
   * every key, as recordFailure, before the credential is checked (a right one is then `reset`).
   * Concurrent attempts are counted one by one, so no more pass than the thresholds allow.
   */
  attempt(rules: ThrottleRule[], now: number): Promise<ThrottleAttempt>;
  /** Atomic (Lua): takes back one admitted attempt that never reached the credential check. */
  release(rules: ThrottleRule[]): Promise<void>;
  /** Forgets the keys (after a success). One command. */
  reset(keys: string[]): Promise<void>;
}

/** The lock a count earns under a rule, or 0 below the threshold. Shared by both implementations. */
export function lockDurationMs(rule: ThrottleRule, failures: number): number {
  if (failures < rule.lockAfter) return 0;
  const factor = rule.doubling ? 2 ** Math.min(failures - rule.lockAfter, 30) : 1;
  return Math.min(rule.lockMs * factor, rule.maxLockMs);
}

/** Rules as the Lua scripts take them (failure-throttle-scripts.ts): lockAfter, lockMs, maxLockMs, doubling (1/0), windowMs each. */
export const ruleArguments = (rules: ThrottleRule[]): number[] =>
  rules.flatMap((rule) => [rule.lockAfter, rule.lockMs, rule.maxLockMs, rule.doubling ? 1 : 0, rule.windowMs]);

/** Locked when any counter's lock lasts past `now` (throttleLocked in failure-throttle-scripts.ts is the Lua twin). */
export const anyLocked = (states: ThrottleState[]): boolean => states.some((state) => state.lockedForMs > 0);
