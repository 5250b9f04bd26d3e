/**
 * SessionStore on Redis: one hash per session (and, for a few seconds after each rotation, a grace
 * key holding the replayable successor) plus a per-user sorted set (score = retainUntil)
 * so "revoke all" and listing are one script over one hash slot. Layout and scripts live in
 * session-scripts.ts; the contract and threat model in session-store.ts.
 */
import type { Redis } from 'ioredis';
import type { UserRole } from '../db/schema.js';
import { defineScript } from './define-script.js';
import type { Keys } from './keys.js';
import type { RevocationReason, RotateResult, SessionInfo, SessionStatus, SessionStore } from './session-store.js';
import { mayContinue, toPieces } from './listpack-pieces.js';
import {
  ACCESS_FIELDS,
  clip,
  CREATE_SCRIPT,
  DISABLE_ALL_SCRIPT,
  END_DISABLED_SCRIPT,
  GET_SCRIPT,
  INFO_FIELDS,
  LIST_SCRIPT,
  MAX_IP_LENGTH,
  MAX_USER_AGENT_LENGTH,
  REVOKE_ALL_SCRIPT,
  REVOKE_SCRIPT,
  ROTATE_SCRIPT,
  UPDATE_PROFILE_SCRIPT,
} from './session-scripts.js';

/** Appends `name`'s pieces to HSET's field/value list. */
function pushPieces(fields: (string | number)[], name: string, value: string): void {
  for (const [field, piece] of toPieces(name, value)) fields.push(field, piece);
}

/** `values` in INFO_FIELDS order, pieces joined. The user id comes from the key, not the record. */
function toInfo(userId: string, sessionId: string, values: readonly (string | null)[]): SessionInfo | null {
  const [role, em, nm, st, rr, ca, lu, ea, rea, ip, ua] = values;
  if (!st) return null;
  return {
    sessionId,
    userId,
    role: role as UserRole,
    email: em ?? '',
    name: nm ?? null,
    status: st as SessionStatus,
    revokedReason: rr ? (rr as RevocationReason) : null,
    createdAt: Number(ca),
    lastUsedAt: Number(lu),
    expiresAt: Number(ea),
    refreshExpiresAt: Number(rea),
    ip: ip ?? '',
    userAgent: ua ?? '',
  };
}

function parseRotateReply(reply: unknown): RotateResult {
  const [kind, a, b, c, d] = reply as (string | null)[];
  switch (kind) {
    case 'rotated':
      return { kind, role: a as UserRole, expiresAt: Number(b), refreshExpiresAt: Number(c) };
    case 'replayed':
      return { kind, role: a as UserRole, expiresAt: Number(b), refreshExpiresAt: Number(c), sealedSuccessor: d ?? '' };
    case 'revoked':
      return { kind, reason: a ? (a as RevocationReason) : null };
    case 'reused':
    case 'not_found':
    case 'disabled':
    case 'session_expired':
    case 'refresh_expired':
      return { kind };
    default:
      throw new Error(`unexpected rotate reply: ${String(kind)}`);
  }
}

export function createRedisSessionStore(options: { client: Redis; keys: Keys }): SessionStore {
  const { client, keys } = options;
  // The per-user scripts derive session and grace keys as base + sessionId; refuse a template they cannot follow.
  if (keys.session('u', 's') !== `${keys.session('u', '')}s`) throw new Error('keys.session must end with the session id');
  if (keys.sessionGrace('u', 's') !== `${keys.sessionGrace('u', '')}s`) throw new Error('keys.sessionGrace must end with the session id');

  const createScript = defineScript(client, 'portcullisSessionCreate', CREATE_SCRIPT, 3);
  const rotateScript = defineScript(client, 'portcullisSessionRotate', ROTATE_SCRIPT, 3);
  const revokeScript = defineScript(client, 'portcullisSessionRevoke', REVOKE_SCRIPT, 2);
  const getScript = defineScript(client, 'portcullisSessionGet', GET_SCRIPT, 1);
  const revokeAllScript = defineScript(client, 'portcullisSessionRevokeAll', REVOKE_ALL_SCRIPT, 1);
  const disableAllScript = defineScript(client, 'portcullisSessionDisableAll', DISABLE_ALL_SCRIPT, 1);
  const endDisabledScript = defineScript(client, 'portcullisSessionEndDisabled', END_DISABLED_SCRIPT, 1);
  const updateProfileScript = defineScript(client, 'portcullisSessionUpdateProfile', UPDATE_PROFILE_SCRIPT, 1);
  const listScript = defineScript(client, 'portcullisSessionList', LIST_SCRIPT, 1);
  /** The key bases the per-user scripts append index members to. */
  const bases = (userId: string) => [keys.session(userId, ''), keys.sessionGrace(userId, '')];
  const get = async (userId: string, sessionId: string) =>
    toInfo(userId, sessionId, (await getScript(keys.session(userId, sessionId), ...INFO_FIELDS)) as (string | null)[]);

  return {
    /** One script (CREATE_SCRIPT). Free text goes in 64-byte pieces so the hash stays a listpack (session-scripts.ts). */
    async create(s) {
      const fields: (string | number)[] = ['role', s.role];
      pushPieces(fields, 'em', s.email);
      if (s.name !== null) pushPieces(fields, 'nm', s.name);
      fields.push('st', 'active', 'ca', s.createdAt, 'lu', s.createdAt, 'ea', s.expiresAt, 'rea', s.refreshExpiresAt);
      pushPieces(fields, 'ip', clip(s.ip, MAX_IP_LENGTH));
      pushPieces(fields, 'ua', clip(s.userAgent, MAX_USER_AGENT_LENGTH));
      fields.push('cur', s.refreshTokenHash);
      await createScript(
        keys.session(s.userId, s.sessionId),
        keys.sessionGrace(s.userId, s.sessionId),
        keys.userSessions(s.userId),
        s.retainUntil,
        s.createdAt,
        s.sessionId,
        ...fields,
      );
    },

    /**
     * One HMGET; the key's PEXPIREAT makes a dropped record read as null. An email or name that
     * may go on in further pieces (61 bytes or more, rare) is read again, whole, by get(): a
     * second round trip.
     */
    async getAccessState(userId, sessionId) {
      const [st, role, ea, rr, em, nm] = await client.hmget(keys.session(userId, sessionId), ...ACCESS_FIELDS);
      if ((em !== null && mayContinue(em)) || (nm !== null && mayContinue(nm))) {
        const info = await get(userId, sessionId);
        return info && { status: info.status, role: info.role, email: info.email, name: info.name, expiresAt: info.expiresAt, revokedReason: info.revokedReason };
      }
      if (!st) return null;
      return {
        status: st as SessionStatus,
        role: role as UserRole,
        email: em ?? '',
        name: nm,
        expiresAt: Number(ea),
        revokedReason: rr ? (rr as RevocationReason) : null,
      };
    },

    /** One Lua script (HMGET of everything but the token digests, pieces joined). */
    get,

    /**
     * One Lua script; on rotation the key and its index score move to refreshExpiresAt + retainMs
     * and the replayable rotation goes to the grace key, which expires soon after graceMs.
     */
    async rotate(input) {
      const reply = await rotateScript(
        keys.session(input.userId, input.sessionId),
        keys.userSessions(input.userId),
        keys.sessionGrace(input.userId, input.sessionId),
        input.presentedHash,
        input.nextHash,
        input.sealedSuccessor,
        input.now,
        input.graceMs,
        input.refreshTtlMs,
        input.retainMs,
        input.sessionId,
      );
      return parseRotateReply(reply);
    },

    /** One Lua script (check active, then mark); the key keeps its expiry as a tombstone. */
    async revoke(userId, sessionId, reason) {
      return (await revokeScript(keys.session(userId, sessionId), keys.sessionGrace(userId, sessionId), reason)) === 1;
    },

    /** One Lua script over the user's index; tombstones keep their expiry. */
    async revokeAllForUser(userId, reason) {
      return Number(await revokeAllScript(keys.userSessions(userId), ...bases(userId), reason));
    },

    /** One Lua script over the user's index; tombstones keep their expiry. */
    async disableAllForUser(userId) {
      return Number(await disableAllScript(keys.userSessions(userId), ...bases(userId)));
    },

    /** One Lua script over the user's index; tombstones keep their expiry. */
    async endDisabledForUser(userId) {
      return Number(await endDisabledScript(keys.userSessions(userId), ...bases(userId)));
    },

    /** One Lua script over the user's index; expiries unchanged. */
    async updateProfileForUser(userId, changes) {
      const nameMode = changes.name === undefined ? 'keep' : changes.name === null ? 'clear' : 'set';
      const namePieces = typeof changes.name === 'string' ? toPieces('nm', changes.name).flat() : [];
      return Number(await updateProfileScript(keys.userSessions(userId), ...bases(userId), changes.role ?? '', nameMode, ...namePieces));
    },

    /** One Lua script reads every indexed record and prunes ids whose hash has expired; filtering happens here. */
    async listActiveForUser(userId, now) {
      const rows = (await listScript(keys.userSessions(userId), keys.session(userId, ''), ...INFO_FIELDS)) as [
        string,
        ...(string | null)[],
      ][];
      return rows
        .map(([id, ...values]) => toInfo(userId, id, values))
        .filter((s): s is SessionInfo => s !== null && s.status === 'active' && now < s.expiresAt && now < s.refreshExpiresAt)
        .sort((a, b) => b.createdAt - a.createdAt);
    },
  };
}
