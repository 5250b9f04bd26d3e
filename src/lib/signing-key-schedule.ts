/**
 * Which signing key does what at a given time, derived only from the keys' activation times, so
 * every instance reading the same rows reaches the same answer (no leader, no "current" flag to
 * race on). Keys in activation order:
 *   pending    activates later: published in the JWKS (so caches hold it first), not signing yet;
 *   active     the latest key that has activated: signs every new token;
 *   verifying  superseded, but tokens it signed may still be unexpired: published, verifies;
 *   retired    its successor activated more than one access-token lifetime (plus clock skew)
 *              ago, so everything it signed has expired: unpublished, verifies nothing.
 */
export type SigningKeyStatus = 'pending' | 'active' | 'verifying' | 'retired';

export interface ScheduledKey {
  kid: string;
  activatesAt: number;
}

export interface KeyState<K extends ScheduledKey> {
  key: K;
  status: SigningKeyStatus;
  /** When the key stops verifying; null while it has no active successor. */
  retiresAt: number | null;
}

/** Allowance for instances whose clocks disagree a little. */
export const CLOCK_SKEW_MS = 60_000;

export function byActivation<K extends ScheduledKey>(keys: readonly K[]): K[] {
  return [...keys].sort((a, b) => a.activatesAt - b.activatesAt || (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0));
}

export function scheduleAt<K extends ScheduledKey>(keys: readonly K[], now: number, accessTtlMs: number): Array<KeyState<K>> {
  const ordered = byActivation(keys);
  let activeIndex = -1;
  ordered.forEach((key, index) => {
    if (key.activatesAt <= now) activeIndex = index;
  });
  return ordered.map((key, index) => {
    if (index > activeIndex) return { key, status: 'pending' as const, retiresAt: null };
    if (index === activeIndex) return { key, status: 'active' as const, retiresAt: null };
    const retiresAt = ordered[index + 1]!.activatesAt + accessTtlMs + CLOCK_SKEW_MS;
    return { key, status: now < retiresAt ? ('verifying' as const) : ('retired' as const), retiresAt };
  });
}

/** The next moment any key changes status after `now` (Infinity if none will). */
export function nextChangeAfter(states: ReadonlyArray<KeyState<ScheduledKey>>, now: number): number {
  let next = Infinity;
  for (const { key, retiresAt } of states) {
    if (key.activatesAt > now) next = Math.min(next, key.activatesAt);
    if (retiresAt !== null && retiresAt > now) next = Math.min(next, retiresAt);
  }
  return next;
}
