/**
 * Brute-force protection for one kind of credential (user passwords, app client secrets).
 * Failures are counted per subject+IP and per subject. The subject+IP pair is slowed down after a
 * few failures with a doubling lock, so an attacker's address is throttled while the real owner
 * from another address is not; the subject as a whole is locked only after a high ceiling of
 * consecutive failures (NIST SP 800-63B: at most 100). Locks are checked before the (slow)
 * credential check, so a throttled attempt costs almost nothing; `attempt` checks and counts in
 * one atomic step, so a burst of concurrent guesses gets no more through than a sequence would.
 */
import { sha256Base64url } from './crypto.js';
import { anyLocked, type FailureThrottleStore, type ThrottleRule, type ThrottleState } from '../redis/failure-throttle-store.js';
import type { Config } from '../config.js';
import type { Clock } from './clock.js';

export interface CredentialThrottleSettings {
  pairLockAfter: number;
  pairMaxLockMs: number;
  subjectLockAfter: number;
  subjectLockMs: number;
  windowMs: number;
}

export interface ThrottleDecision {
  locked: boolean;
  /** Failures counted so far (the larger of the two counters). */
  failures: number;
  /** Seconds until the attempt may be retried (for Retry-After). */
  retryAfterSeconds: number;
  /** Which counter holds the lock. */
  scope: 'pair' | 'subject' | null;
}

const PAIR_BASE_LOCK_MS = 1000;

/** The LOGIN_* settings (they govern passwords and client secrets alike). */
export function throttleSettings(config: Pick<Config, 'LOGIN_THROTTLE_AFTER' | 'LOGIN_THROTTLE_MAX_SECONDS' | 'LOGIN_LOCK_AFTER' | 'LOGIN_LOCK_SECONDS' | 'LOGIN_FAILURE_WINDOW'>): CredentialThrottleSettings {
  return {
    pairLockAfter: config.LOGIN_THROTTLE_AFTER,
    pairMaxLockMs: config.LOGIN_THROTTLE_MAX_SECONDS * 1000,
    subjectLockAfter: config.LOGIN_LOCK_AFTER,
    subjectLockMs: config.LOGIN_LOCK_SECONDS * 1000,
    windowMs: config.LOGIN_FAILURE_WINDOW * 1000,
  };
}

/** Short digest for key names: keeps emails and addresses out of Redis and bounds key length. */
export const digestForKey = (value: string) => sha256Base64url(value).slice(0, 22);

export function createCredentialThrottle(options: {
  store: FailureThrottleStore;
  clock: Clock;
  settings: CredentialThrottleSettings;
  keys: (subject: string, ip: string) => { pair: string; subject: string };
}) {
  const { store, settings } = options;
  const subjectRule = (key: string): ThrottleRule =>
    ({ key, lockAfter: settings.subjectLockAfter, lockMs: settings.subjectLockMs, maxLockMs: settings.subjectLockMs, doubling: false, windowMs: settings.windowMs });
  const rules = (subject: string, ip: string): [ThrottleRule, ThrottleRule] => {
    const keys = options.keys(subject, ip);
    return [
      { key: keys.pair, lockAfter: settings.pairLockAfter, lockMs: PAIR_BASE_LOCK_MS, maxLockMs: settings.pairMaxLockMs, doubling: true, windowMs: settings.windowMs },
      subjectRule(keys.subject),
    ];
  };
  const decide = (states: ThrottleState[]): ThrottleDecision => {
    const [pair, subject] = states as [ThrottleState, ThrottleState];
    const failures = Math.max(pair.failures, subject.failures);
    if (!anyLocked(states)) return { locked: false, failures, retryAfterSeconds: 0, scope: null };
    const lockedForMs = Math.max(pair.lockedForMs, subject.lockedForMs);
    return { locked: true, failures, retryAfterSeconds: Math.max(1, Math.ceil(lockedForMs / 1000)), scope: subject.lockedForMs > 0 ? 'subject' : 'pair' };
  };

  return {
    /**
     * The counters of this subject+IP (pair, then subject), for a store that reads them inside its
     * own round trip (AppTokenStore.issue); pass the states it returns to `decide`.
     */
    rules,
    /** The decision for the states of `rules(...)`, in order (as `attempt` and `failed` return it). */
    decide,
    /**
     * Checks and counts in one atomic store round trip, before the credential is checked: `admitted`
     * false is a refusal (`decision` holds its lock); admitted, the attempt is already counted as a
     * failure (`decision.locked`: it starts a lock if the credential proves wrong), so a right
     * credential must call `succeeded`, and an attempt that never reached the check `released`.
     */
    attempt: async (subject: string, ip: string): Promise<{ admitted: boolean; decision: ThrottleDecision }> => {
      const { admitted, states } = await store.attempt(rules(subject, ip), options.clock.now());
      return { admitted, decision: decide(states) };
    },
    /** Takes back an admitted attempt whose credential was never checked (a dependency failed). */
    released: async (subject: string, ip: string) => store.release(rules(subject, ip)),
    /**
     * The subject's own counter (every address together): its failures and the rest of its lock,
     * for support. One store read; the per-address counters are not listed.
     */
    subjectState: async (subject: string): Promise<ThrottleState> => {
      const [state] = await store.read([subjectRule(options.keys(subject, '').subject)], options.clock.now());
      return state ?? { failures: 0, lockedForMs: 0 };
    },
    /** Counts a failure; `decision.locked` tells whether this failure started (or extended) a lock. */
    failed: async (subject: string, ip: string) => decide(await store.recordFailure(rules(subject, ip), options.clock.now())),
    /** A success clears both counters ("consecutive" failures). */
    succeeded: async (subject: string, ip: string) => {
      const [pair, whole] = rules(subject, ip);
      await store.reset([pair.key, whole.key]);
    },
  };
}

export type CredentialThrottle = ReturnType<typeof createCredentialThrottle>;
