/**
 * SessionStore in process memory, for a single instance without Redis. It mirrors the Redis
 * store's observable behaviour: every method runs synchronously to completion (so it is atomic
 * within the process), and a record exists until clock.now() passes its retainUntil, as a Redis
 * key with PEXPIREAT would. Expired records are dropped when touched, with the user's other
 * expired records on create, and by a sweep of everything that create triggers once a minute
 * (by the clock) or when the record count has doubled, so memory tracks the live sessions.
 */
import type { Clock } from '../lib/clock.js';
import type { RevocationReason, RotateResult, SessionInfo, SessionStatus, SessionStore } from './session-store.js';
import { clip, MAX_IP_LENGTH, MAX_USER_AGENT_LENGTH } from './session-scripts.js';

const SWEEP_INTERVAL_MS = 60_000;
const MIN_SWEEP_SIZE = 1024;

interface SessionRecord {
  info: SessionInfo;
  cur: string | null;
  prev: string | null;
  rotatedAt: number;
  sealedSuccessor: string | null;
  retainUntil: number;
}

export type MemorySessionStore = SessionStore & {
  /** Records held, including expired ones not yet swept (for tests and diagnostics). */
  recordCount(): number;
};

export function createMemorySessionStore(options: { clock: Clock }): MemorySessionStore {
  const { clock } = options;
  const users = new Map<string, Map<string, SessionRecord>>();
  let count = 0;
  let lastSweepAt = clock.now();
  let sweepAtCount = MIN_SWEEP_SIZE;

  // Redis drops a key once its time is strictly greater than the PEXPIREAT time.
  const expired = (record: SessionRecord, now: number) => now > record.retainUntil;

  /** The user's live records, dropping expired ones on the way. */
  function liveSessions(userId: string): Map<string, SessionRecord> | undefined {
    const sessions = users.get(userId);
    if (!sessions) return undefined;
    const now = clock.now();
    for (const [id, record] of sessions) {
      if (expired(record, now)) {
        sessions.delete(id);
        count--;
      }
    }
    if (sessions.size === 0) users.delete(userId);
    return sessions.size > 0 ? sessions : undefined;
  }

  function find(userId: string, sessionId: string): SessionRecord | undefined {
    const sessions = users.get(userId);
    const record = sessions?.get(sessionId);
    if (!sessions || !record) return undefined;
    if (!expired(record, clock.now())) return record;
    sessions.delete(sessionId);
    count--;
    if (sessions.size === 0) users.delete(userId);
    return undefined;
  }

  function sweep() {
    for (const userId of [...users.keys()]) liveSessions(userId);
    lastSweepAt = clock.now();
    sweepAtCount = Math.max(MIN_SWEEP_SIZE, count * 2);
  }

  function endSession(record: SessionRecord, status: SessionStatus, reason: RevocationReason) {
    record.info.status = status;
    record.info.revokedReason = reason;
    record.cur = record.prev = record.sealedSuccessor = null;
  }

  function forEachActive(userId: string, change: (record: SessionRecord) => void): number {
    let changed = 0;
    for (const record of liveSessions(userId)?.values() ?? []) {
      if (record.info.status !== 'active') continue;
      change(record);
      changed++;
    }
    return changed;
  }

  return {
    recordCount: () => count,

    /** Synchronous, so atomic in process; the record lives until retainUntil. */
    async create(s) {
      if (count >= sweepAtCount || clock.now() - lastSweepAt >= SWEEP_INTERVAL_MS) sweep();
      else liveSessions(s.userId);
      let sessions = users.get(s.userId);
      if (!sessions) users.set(s.userId, (sessions = new Map()));
      if (!sessions.has(s.sessionId)) count++;
      sessions.set(s.sessionId, {
        info: {
          sessionId: s.sessionId,
          userId: s.userId,
          role: s.role,
          email: s.email,
          name: s.name,
          status: 'active',
          revokedReason: null,
          createdAt: s.createdAt,
          lastUsedAt: s.createdAt,
          expiresAt: s.expiresAt,
          refreshExpiresAt: s.refreshExpiresAt,
          ip: clip(s.ip, MAX_IP_LENGTH),
          userAgent: clip(s.userAgent, MAX_USER_AGENT_LENGTH),
        },
        cur: s.refreshTokenHash,
        prev: null,
        rotatedAt: 0,
        sealedSuccessor: null,
        retainUntil: s.retainUntil,
      });
    },

    /** One lookup; null once the record's retainUntil has passed. */
    async getAccessState(userId, sessionId) {
      const info = find(userId, sessionId)?.info;
      if (!info) return null;
      return {
        status: info.status,
        role: info.role,
        email: info.email,
        name: info.name,
        expiresAt: info.expiresAt,
        revokedReason: info.revokedReason,
      };
    },

    /** A copy of the record, or null once its retainUntil has passed. */
    async get(userId, sessionId) {
      const info = find(userId, sessionId)?.info;
      return info ? { ...info } : null;
    },

    /** Same decision order as ROTATE_SCRIPT; on rotation retainUntil moves to refreshExpiresAt + retainMs. */
    async rotate(input): Promise<RotateResult> {
      const record = find(input.userId, input.sessionId);
      if (!record) return { kind: 'not_found' };
      const { info } = record;
      if (info.status === 'disabled') return { kind: 'disabled' };
      if (info.status !== 'active') return { kind: 'revoked', reason: info.revokedReason };
      const { now } = input;
      if (now >= info.expiresAt) return { kind: 'session_expired' };
      if (record.cur !== null && input.presentedHash === record.cur) {
        if (now >= info.refreshExpiresAt) return { kind: 'refresh_expired' };
        record.prev = record.cur;
        record.cur = input.nextHash;
        record.sealedSuccessor = input.sealedSuccessor;
        record.rotatedAt = now;
        info.lastUsedAt = now;
        info.refreshExpiresAt = Math.min(now + input.refreshTtlMs, info.expiresAt);
        record.retainUntil = info.refreshExpiresAt + input.retainMs;
        return { kind: 'rotated', role: info.role, expiresAt: info.expiresAt, refreshExpiresAt: info.refreshExpiresAt };
      }
      if (record.prev !== null && input.presentedHash === record.prev && now - record.rotatedAt <= input.graceMs) {
        return {
          kind: 'replayed',
          role: info.role,
          expiresAt: info.expiresAt,
          refreshExpiresAt: info.refreshExpiresAt,
          sealedSuccessor: record.sealedSuccessor ?? '',
        };
      }
      endSession(record, 'revoked', 'reuse_detected');
      return { kind: 'reused' };
    },

    /** Only an active session changes; the tombstone keeps its retainUntil. */
    async revoke(userId, sessionId, reason) {
      const record = find(userId, sessionId);
      if (record?.info.status !== 'active') return false;
      endSession(record, 'revoked', reason);
      return true;
    },

    /** Synchronous over the user's records; tombstones keep their retainUntil. */
    async revokeAllForUser(userId, reason) {
      return forEachActive(userId, (record) => endSession(record, 'revoked', reason));
    },

    /** Synchronous over the user's records; tombstones keep their retainUntil. */
    async disableAllForUser(userId) {
      return forEachActive(userId, (record) => endSession(record, 'disabled', 'account_disabled'));
    },

    /** Synchronous over the user's records; tombstones keep their retainUntil. */
    async endDisabledForUser(userId) {
      let changed = 0;
      for (const record of liveSessions(userId)?.values() ?? []) {
        if (record.info.status !== 'disabled') continue;
        record.info.status = 'revoked';
        changed++;
      }
      return changed;
    },

    /** Synchronous over the user's records; retainUntil unchanged. */
    async updateProfileForUser(userId, changes) {
      return forEachActive(userId, (record) => {
        if (changes.role !== undefined) record.info.role = changes.role;
        if (changes.name !== undefined) record.info.name = changes.name;
      });
    },

    /** Copies of the active, unexpired records, newest first; drops the user's expired records. */
    async listActiveForUser(userId, now) {
      return [...(liveSessions(userId)?.values() ?? [])]
        .map((record) => record.info)
        .filter((info) => info.status === 'active' && now < info.expiresAt && now < info.refreshExpiresAt)
        .sort((a, b) => b.createdAt - a.createdAt)
        .map((info) => ({ ...info }));
    },
  };
}
