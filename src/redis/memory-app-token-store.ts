/**
 * AppTokenStore in process memory, for a single instance without Redis. It mirrors the Redis
 * store's observable behaviour: every method runs synchronously to completion (so it is atomic
 * within the process), values are kept as the same JSON Redis holds (so callers get fresh copies
 * and both stores agree on what survives serialisation), and a token record exists until
 * clock.now() passes its expiresAt, as a Redis key with a TTL would. Lapsed records are dropped
 * when touched, with the app's other lapsed records on issue, and by a sweep of everything that
 * issue triggers once a minute (by the clock) or when the record count has doubled.
 *
 * The brute-force counters of an issue are those of the in-process failure-throttle store the
 * credential throttle counts in, read, counted and cleared in issue's one synchronous step.
 */
import type { Clock } from '../lib/clock.js';
import type { AppSnapshot, AppTokenStore, IssueInput, IssueResult, SnapshotOrganization, SnapshotSecret } from './app-token-store.js';
import { assertIssueTimes, decodeSnapshot, decodeTokenRecord, encodeSnapshot, encodeTokenRecord } from './app-token-scripts.js';
import { anyLocked } from './failure-throttle-store.js';
import type { InProcessFailureThrottleStore } from './memory-failure-throttle-store.js';

const SWEEP_INTERVAL_MS = 60_000;
const MIN_SWEEP_SIZE = 1024;

interface StoredToken {
  json: string;
  expiresAt: number;
}

export type MemoryAppTokenStore = AppTokenStore & {
  /** Token records held, including lapsed ones not yet swept (for tests and diagnostics). */
  recordCount(): number;
};

/** Same rule as ISSUE_SCRIPT: ACTIVE, or GRACE strictly before graceUntil. */
function secretUsable(secret: SnapshotSecret, now: number): boolean {
  if (secret.status === 'ACTIVE') return true;
  return secret.status === 'GRACE' && typeof secret.graceUntil === 'number' && now < secret.graceUntil;
}

/** Same order as ISSUE_SCRIPT: a requested code, else a requested id, else the default, else the only one. */
function selectOrganization(app: AppSnapshot, input: IssueInput): SnapshotOrganization | 'org_denied' | 'org_required' {
  const { organizationCode: code, organizationId: id } = input;
  if (code) {
    const org = app.organizations.find((o) => o.code === code);
    return org && (!id || org.id === id) ? org : 'org_denied';
  }
  if (id) return app.organizations.find((o) => o.id === id) ?? 'org_denied';
  const fallback = app.organizations.find((o) => o.isDefault === true) ?? (app.organizations.length === 1 ? app.organizations[0] : undefined);
  return fallback ?? 'org_required';
}

export function createMemoryAppTokenStore(options: {
  clock: Clock;
  /** Where issue reads input.throttle's counters: the store the credential throttle records failures in. */
  throttle: InProcessFailureThrottleStore;
}): MemoryAppTokenStore {
  const { clock, throttle } = options;
  const snapshots = new Map<string, string>();
  /** appId -> tokenHash -> record; doubles as the index (score = expiresAt). */
  const apps = new Map<string, Map<string, StoredToken>>();
  let count = 0;
  let lastSweepAt = clock.now();
  let sweepAtCount = MIN_SWEEP_SIZE;

  /** Drops the app's records with expiresAt < cutoff (a Redis key lapses once now > its expiry). */
  function prune(appId: string, cutoff: number) {
    const tokens = apps.get(appId);
    if (!tokens) return;
    for (const [hash, token] of tokens) {
      if (token.expiresAt < cutoff) {
        tokens.delete(hash);
        count--;
      }
    }
    if (tokens.size === 0) apps.delete(appId);
  }

  function sweep() {
    const now = clock.now();
    for (const appId of [...apps.keys()]) prune(appId, now);
    lastSweepAt = now;
    sweepAtCount = Math.max(MIN_SWEEP_SIZE, count * 2);
  }

  /** The live record, or undefined; a lapsed one is dropped on the way. */
  function find(appId: string, tokenHash: string): StoredToken | undefined {
    const tokens = apps.get(appId);
    const token = tokens?.get(tokenHash);
    if (!tokens || !token) return undefined;
    if (clock.now() <= token.expiresAt) return token;
    tokens.delete(tokenHash);
    count--;
    if (tokens.size === 0) apps.delete(appId);
    return undefined;
  }

  function decide(input: IssueInput): IssueResult | { kind: 'ok'; organization: SnapshotOrganization; secretVersion: number; appCode: string } {
    const json = snapshots.get(input.appId);
    if (json === undefined) return { kind: 'no_snapshot' };
    const app = decodeSnapshot(json);
    const secret = input.secretDigest === '' ? undefined : app.secrets.find((s) => s.digest === input.secretDigest);
    if (!secret) return { kind: 'invalid_client' };
    if (app.status === 'REVOKED') return { kind: 'app_revoked' };
    if (!secretUsable(secret, input.now)) return { kind: 'secret_expired' };
    if (app.status === 'SUSPENDED') return { kind: 'app_suspended' };
    if (app.status !== 'ACTIVE') return { kind: 'app_revoked' };
    const organization = selectOrganization(app, input);
    if (typeof organization === 'string') return { kind: organization };
    if (input.scope?.some((code) => !app.permissions.includes(code))) return { kind: 'invalid_scope' };
    return { kind: 'ok', organization, secretVersion: secret.version, appCode: app.code };
  }

  return {
    recordCount: () => count,

    /** Replaces the snapshot; no expiry. */
    async putSnapshot(snapshot) {
      snapshots.set(snapshot.id, encodeSnapshot(snapshot));
    },

    /** A fresh copy, or null. */
    async getSnapshot(appId) {
      const json = snapshots.get(appId);
      return json === undefined ? null : decodeSnapshot(json);
    },

    /** Synchronous, so atomic in process; the same decisions, counting and clearing as ISSUE_SCRIPT. */
    async issue(input) {
      assertIssueTimes(input);
      const rules = input.throttle;
      const states = rules ? { throttle: throttle.readNow(rules, input.now) } : {};
      if (states.throttle && anyLocked(states.throttle)) return { kind: 'locked', ...states };
      const decision = decide(input);
      if (decision.kind === 'invalid_client' || decision.kind === 'secret_expired') {
        return { kind: decision.kind, ...(rules ? { throttle: throttle.recordFailureNow(rules, input.now) } : {}) };
      }
      if (decision.kind !== 'ok') return { ...decision, ...states };
      if (rules && states.throttle!.some((state) => state.failures > 0)) throttle.resetNow(rules.map((rule) => rule.key));
      if (count >= sweepAtCount || clock.now() - lastSweepAt >= SWEEP_INTERVAL_MS) sweep();
      // As ZREMRANGEBYSCORE -inf (now, plus whatever has lapsed by the clock.
      prune(input.appId, Math.max(input.now, clock.now()));
      const record = {
        tokenId: input.tokenId,
        appId: input.appId,
        organizationId: decision.organization.id,
        organizationCode: decision.organization.code,
        secretVersion: decision.secretVersion,
        issuedAt: input.now,
        expiresAt: input.expiresAt,
        ...(input.scope && input.scope.length > 0 ? { scope: input.scope } : {}),
      };
      let tokens = apps.get(input.appId);
      if (!tokens) apps.set(input.appId, (tokens = new Map()));
      if (!tokens.has(input.tokenHash)) count++;
      const json = encodeTokenRecord(record);
      tokens.set(input.tokenHash, { json, expiresAt: input.expiresAt });
      return { kind: 'issued', record: decodeTokenRecord(input.appId, json), appCode: decision.appCode, ...states };
    },

    /** One synchronous read of both; copies, or null once the record has lapsed. */
    async lookup(appId, tokenHash) {
      const token = find(appId, tokenHash);
      const app = snapshots.get(appId);
      return { token: token ? decodeTokenRecord(appId, token.json) : null, app: app === undefined ? null : decodeSnapshot(app) };
    },

    /** True when a live record was removed. */
    async revoke(appId, tokenHash) {
      if (!find(appId, tokenHash)) return false;
      apps.get(appId)?.delete(tokenHash);
      count--;
      if (apps.get(appId)?.size === 0) apps.delete(appId);
      return true;
    },

    /** Synchronous; counts only records that had not lapsed. */
    async revokeAllForApp(appId) {
      const tokens = apps.get(appId);
      if (!tokens) return 0;
      const now = clock.now();
      let live = 0;
      for (const token of tokens.values()) if (now <= token.expiresAt) live++;
      count -= tokens.size;
      apps.delete(appId);
      return live;
    },

    /** Records whose expiresAt is strictly after `now`. */
    async countLive(appId, now) {
      let live = 0;
      for (const token of apps.get(appId)?.values() ?? []) if (token.expiresAt > now) live++;
      return live;
    },
  };
}
