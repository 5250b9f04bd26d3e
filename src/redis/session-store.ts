/**
 * The session store contract. Two implementations keep it: RedisSessionStore (production, shared by
 * every instance) and MemorySessionStore (embedded default, one process). Both pass the same
 * contract tests in test/integration/session-store.contract.ts.
 *
 * Threat model and invariants:
 * - Only SHA-256 digests of refresh tokens are stored; the successor kept for the reuse grace
 *   window is sealed with a key derived from its predecessor (see src/lib/refresh-token.ts), so
 *   the store's contents alone never yield a usable refresh token.
 * - Rotation, replay and theft detection happen in one atomic step (a Lua script in Redis), so N
 *   concurrent refreshes with one token cannot fork a session.
 * - A revoked or disabled session is kept as a tombstone until `retainUntil`, so requests with
 *   access tokens minted for it get the precise reason (SESSION_REVOKED, ACCOUNT_DISABLED)
 *   rather than "unknown session".
 * - Every time is passed in by the caller (milliseconds since the epoch), from the injected clock.
 */
import type { UserRole } from '../db/schema.js';

export type SessionStatus = 'active' | 'revoked' | 'disabled';

export type RevocationReason = 'logout' | 'logout_all' | 'user_revoked' | 'admin_revoked' | 'reuse_detected' | 'account_disabled';

export interface NewSession {
  sessionId: string;
  userId: string;
  role: UserRole;
  /** Carried so /me and refresh never need Postgres; kept current by updateProfileForUser. */
  email: string;
  name: string | null;
  ip: string;
  userAgent: string;
  /** SHA-256 (base64url) of the first refresh token. */
  refreshTokenHash: string;
  createdAt: number;
  /** Absolute end of the session; nothing extends it. */
  expiresAt: number;
  /** End of the current refresh token's life (<= expiresAt). */
  refreshExpiresAt: number;
  /** When the record may be dropped entirely (>= refreshExpiresAt; covers live access tokens). */
  retainUntil: number;
}

export interface SessionInfo {
  sessionId: string;
  userId: string;
  role: UserRole;
  email: string;
  name: string | null;
  status: SessionStatus;
  revokedReason: RevocationReason | null;
  createdAt: number;
  lastUsedAt: number;
  expiresAt: number;
  refreshExpiresAt: number;
  ip: string;
  userAgent: string;
}

/** The little the access guard needs on every request. */
export interface SessionAccessState {
  status: SessionStatus;
  role: UserRole;
  email: string;
  name: string | null;
  expiresAt: number;
  revokedReason: RevocationReason | null;
}

export interface RotateInput {
  userId: string;
  sessionId: string;
  /** Digest of the refresh token the client presented. */
  presentedHash: string;
  /** Digest of the successor the caller generated, used only if this call rotates. */
  nextHash: string;
  /** The successor sealed under a key derived from the presented token (opaque to the store). */
  sealedSuccessor: string;
  now: number;
  /** How long the immediate predecessor still replays the rotation. */
  graceMs: number;
  /** Lifetime of the successor, capped by the session's expiresAt. */
  refreshTtlMs: number;
  /** How long after refreshExpiresAt the record is kept. */
  retainMs: number;
}

export type RotateResult =
  | { kind: 'rotated'; role: UserRole; expiresAt: number; refreshExpiresAt: number }
  /** The predecessor inside the grace window: hand back the current successor, rotate nothing. */
  | { kind: 'replayed'; role: UserRole; expiresAt: number; refreshExpiresAt: number; sealedSuccessor: string }
  /** An older token, or the predecessor after the window: the session is now revoked (reuse_detected). */
  | { kind: 'reused' }
  | { kind: 'not_found' }
  | { kind: 'revoked'; reason: RevocationReason | null }
  | { kind: 'disabled' }
  /** The session's absolute lifetime is over. */
  | { kind: 'session_expired' }
  /** The presented (current) token outlived refreshExpiresAt. */
  | { kind: 'refresh_expired' };

export interface ProfileChanges {
  role?: UserRole;
  /** null clears the name. */
  name?: string | null;
}

export interface SessionStore {
  /** Writes the session and adds it to the user's index, atomically (one script on Redis); the key expires at retainUntil. */
  create(session: NewSession): Promise<void>;

  /** One read (HMGET) of the fields the access guard checks; null when the record no longer exists. */
  getAccessState(userId: string, sessionId: string): Promise<SessionAccessState | null>;

  /** Full record, or null. One read. */
  get(userId: string, sessionId: string): Promise<SessionInfo | null>;

  /**
   * Rotation, replay within the grace window, and theft detection in one atomic step (Lua).
   * On 'rotated' the key's expiry moves to the new refreshExpiresAt + retainMs.
   */
  rotate(input: RotateInput): Promise<RotateResult>;

  /**
   * Marks one session revoked (keeping the tombstone until its retainUntil) and drops the
   * sealed successor and token digests. Atomic. Returns true when the session was active.
   */
  revoke(userId: string, sessionId: string, reason: RevocationReason): Promise<boolean>;

  /** revoke() for every active session of the user, in one atomic step. Returns how many were active. */
  revokeAllForUser(userId: string, reason: RevocationReason): Promise<number>;

  /** Sets status 'disabled' on every active session of the user, atomically. Returns how many. */
  disableAllForUser(userId: string): Promise<number>;

  /**
   * After re-enabling an account: its disabled sessions become revoked (reason account_disabled),
   * atomically, so they read as ended rather than as a still-disabled account. Returns how many.
   */
  endDisabledForUser(userId: string): Promise<number>;

  /**
   * Sets role and/or name on every active session of the user, atomically. A new role makes older
   * access tokens stale. Returns how many sessions changed.
   */
  updateProfileForUser(userId: string, changes: ProfileChanges): Promise<number>;

  /** The user's active, unexpired sessions (now < expiresAt and now < refreshExpiresAt), newest first. Prunes dropped ids from the index. */
  listActiveForUser(userId: string, now: number): Promise<SessionInfo[]>;
}
