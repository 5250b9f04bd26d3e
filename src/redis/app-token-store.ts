/**
 * The app token store contract (API V3). Two implementations keep it: RedisAppTokenStore and
 * MemoryAppTokenStore; both pass test/integration/app-token-store.contract.ts.
 *
 * What lives here and why:
 * - An app snapshot per app (status, secret digests, permission codes, organizations): a copy of
 *   Postgres, rewritten by every admin change, so that issuing and validating tokens never query
 *   Postgres. Postgres stays the source of truth; a missing snapshot is rebuilt from it.
 * - One record per live access token, keyed by the SHA-256 of the token, expiring with the token
 *   (TTL = expires_in). Tokens are never stored in the clear.
 * - A per-app index of live token digests (sorted by expiry) so "revoke all" is one call.
 * Keys of one app share the hash tag {a:<appId>}, so each operation touches one slot.
 *
 * Invariants:
 * - issue() checks the brute-force lock (the caller's throttle rules, whose counters share the
 *   app's hash tag), then the secret (counting it on those counters when wrong or unusable), the
 *   app status and the organization and writes the token in one atomic step (Lua in Redis): a
 *   suspension, rotation or concurrent guess cannot interleave with an issuance.
 * - lookup() is one round trip (MGET of the token record and the snapshot).
 * - Secret digests are compared by equality inside the store: they are keyed HMACs of 256-bit
 *   secrets, so timing reveals nothing usable about a secret.
 * - Every time is passed in by the caller (epoch milliseconds).
 */
import type { AppStatus, SecretStatus } from '../db/schema.js';
import type { ThrottleRule, ThrottleState } from './failure-throttle-store.js';

export interface SnapshotSecret {
  version: number;
  /** HMAC digest (base64url) of the client secret. */
  digest: string;
  status: SecretStatus;
  /** For GRACE secrets: epoch ms after which the secret no longer works. */
  graceUntil: number | null;
}

export interface SnapshotOrganization {
  id: string;
  code: string;
  isDefault: boolean;
}

export interface AppSnapshot {
  id: string;
  code: string;
  name: string;
  status: AppStatus;
  clientId: string;
  /** Recent secrets, newest first (ACTIVE, GRACE, and a few EXPIRED/REVOKED to name the failure). */
  secrets: SnapshotSecret[];
  /** Granted permission codes. */
  permissions: string[];
  organizations: SnapshotOrganization[];
}

export interface AppTokenRecord {
  tokenId: string;
  appId: string;
  organizationId: string;
  organizationCode: string;
  secretVersion: number;
  issuedAt: number;
  expiresAt: number;
  /** When the token was issued for a subset of the app's grants (OAuth scope). */
  scope?: string[];
}

export interface IssueInput {
  appId: string;
  /** Digest of the presented client secret. */
  secretDigest: string;
  /** At most one of these selects the organization; neither means default, else the only one. */
  organizationCode?: string | undefined;
  organizationId?: string | undefined;
  tokenHash: string;
  tokenId: string;
  now: number;
  /** Epoch ms; the record's TTL is expiresAt - now. */
  expiresAt: number;
  /** Limit the token to these permission codes; each must be granted to the app (else invalid_scope). */
  scope?: string[] | undefined;
  /**
   * Failure-throttle counters (FailureThrottleStore's, keys under the app's hash tag) read at `now`
   * before anything else: if one is locked, the result is `locked` and nothing is written. A wrong
   * or unusable secret is counted on them in the same atomic step; an issuance clears them.
   */
  throttle?: ThrottleRule[] | undefined;
}

export type IssueResult = (
  | { kind: 'issued'; record: AppTokenRecord; appCode: string }
  /** A counter of input.throttle is locked at `now`. Checked first, so also for an unknown app. */
  | { kind: 'locked' }
  /** No snapshot for this app id: the caller rebuilds it from Postgres (or it does not exist). */
  | { kind: 'no_snapshot' }
  /** The digest matches none of the app's secrets. Checked first after the throttle and the snapshot. */
  | { kind: 'invalid_client' }
  /** The digest matches a secret that is EXPIRED, REVOKED, or GRACE past its graceUntil. */
  | { kind: 'secret_expired' }
  | { kind: 'app_suspended' }
  /** Checked right after the secret matched (a revoked app's secrets are revoked too). */
  | { kind: 'app_revoked' }
  /** The requested organization is not assigned to the app. */
  | { kind: 'org_denied' }
  /** Nothing requested, no default, and not exactly one organization. */
  | { kind: 'org_required' }
  /** A requested scope code is not among the app's permissions. Checked last. */
  | { kind: 'invalid_scope' }
) & {
  /**
   * Present exactly when input.throttle is: each rule's state at `now`, in order, as
   * FailureThrottleStore.read returns it; for invalid_client and secret_expired, with this failure
   * counted (as FailureThrottleStore.recordFailure returns it).
   */
  throttle?: ThrottleState[];
};

export interface AppTokenStore {
  /** Replaces the app's snapshot (one SET, no expiry). */
  putSnapshot(snapshot: AppSnapshot): Promise<void>;

  /** The snapshot or null (one GET); read-only, like lookup's (shared and frozen on Redis). */
  getSnapshot(appId: string): Promise<AppSnapshot | null>;

  /**
   * One round trip, atomic (Lua): throttle not locked, secret matches, app not revoked, secret
   * usable, app not suspended, organization, scope, in that order; on success
   * writes the token record with TTL expiresAt - now, adds it to the app's index and prunes
   * index entries that expired before `now`.
   */
  issue(input: IssueInput): Promise<IssueResult>;

  /**
   * One round trip (MGET): the token record (null once expired or revoked) and the app's snapshot.
   * The snapshot may be shared between reads (Redis parses each version once): read-only,
   * frozen where shared.
   */
  lookup(appId: string, tokenHash: string): Promise<{ token: AppTokenRecord | null; app: AppSnapshot | null }>;

  /** Deletes one token record and its index entry, atomically. True when it existed. */
  revoke(appId: string, tokenHash: string): Promise<boolean>;

  /** Deletes every live token of the app and empties its index, atomically. Returns how many. */
  revokeAllForApp(appId: string): Promise<number>;

  /** How many tokens of the app are live at `now` (index entries with expiry after now). */
  countLive(appId: string, now: number): Promise<number>;
}
