/**
 * The session record's storage layout and the Lua scripts that change it atomically.
 *
 * Session hash fields (short names): role, em (email), nm (name, absent when null), st (status),
 * rr (revoked reason), ca (created), lu (last used), ea (expires), rea (refresh expires), ip, ua
 * (user agent), cur (current refresh token digest). Times are decimal strings of epoch ms.
 *
 * Memory (measured on Redis 7.0 with its default configuration; README "Abuse protection and
 * failures" has the numbers): a hash stays a compact listpack only while every value is at most
 * hash-max-listpack-value (64) bytes, so
 * - em, nm, ip and ua are written in pieces of at most 64 bytes (listpack-pieces.ts): em, em1,
 *   em2, ... Readers that want whole values join them in Lua (GET_SCRIPT, LIST_SCRIPT); the
 *   access guard's HMGET takes the first piece of em and nm (see ACCESS_FIELDS).
 * - The rotation that the reuse grace window may replay (time, predecessor digest and the ~184
 *   byte sealed successor) lives in its own string key, keys.sessionGrace, expiring shortly
 *   after the window (GRACE_KEY_TTL_LUA), instead of in the hash for the session's whole life.
 * - No uid: the key's {u:<userId>} tag carries it and every caller passes it in.
 * Every other value is at most 64 bytes: digests 43, times 13, role/st/rr short enums.
 *
 * Records written before this layout (uid, prev, ra and succ fields in the hash, one long ua/em/nm
 * field) keep working: one long field reads as a single piece, and ROTATE_SCRIPT reads prev, ra
 * and succ from the hash when they are there. The first rotation of such a record rewrites it in
 * this layout (the hash is rebuilt, so it becomes a listpack again; Redis never converts back on
 * its own). The fallback can go once SESSION_ABSOLUTE_TTL has passed since the deploy.
 *
 * Invariants the scripts keep:
 * - Every time comes from ARGV (the caller's clock), never Redis TIME, so the in-process store
 *   and Redis agree and tests control time. The grace key's own expiry only bounds how long its
 *   bytes stay; whether a replay is inside the window is decided from the times in ARGV.
 * - A session hash, its grace key and its user's index share the {u:<userId>} hash tag. The
 *   per-user scripts build key names from key bases in ARGV (from keys.ts) plus the index
 *   members; all of them hash to the index key's slot, so they run on Redis Cluster.
 * - Revoking or disabling keeps the key's expiry (a tombstone until retainUntil) and drops the
 *   token digests and the sealed successor (the grace key).
 * - Digests are compared with plain equality: they are SHA-256 outputs of secret tokens, so the
 *   timing of a mismatch tells an attacker nothing about a token they could present.
 */
import { LUA_DELETE_PIECES, LUA_JOIN_PIECES, LUA_SET_IN_PIECES } from './listpack-pieces.js';

export const MAX_USER_AGENT_LENGTH = 256;
export const MAX_IP_LENGTH = 64;

/** Cuts to `max` UTF-16 units without leaving half a surrogate pair (Redis would store U+FFFD). */
export function clip(value: string, max: number): string {
  if (value.length <= max) return value;
  const code = value.charCodeAt(max - 1);
  return value.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

/** Fields that may be longer than 64 bytes and are therefore stored in pieces. */
export const PIECED_FIELDS = ['em', 'nm', 'ip', 'ua'] as const;

/** Fields returned by get() and listActiveForUser(), in this order; never the token digests. */
export const INFO_FIELDS = ['role', 'em', 'nm', 'st', 'rr', 'ca', 'lu', 'ea', 'rea', 'ip', 'ua'] as const;

/**
 * Fields the access guard reads on every request (one HMGET). Email and name come as their first
 * piece only: one shorter than SHORTEST_CONTINUED_PIECE (61 bytes) is the whole value, and only a
 * longer one (a rare email or name) has the record read again through GET_SCRIPT. Six fields,
 * not the ten that fetching further pieces took: ioredis spends per argument and per reply
 * element, ~6 µs of a request on the slower bench machine for the four more.
 */
export const ACCESS_FIELDS = ['st', 'role', 'ea', 'rr', 'em', 'nm'] as const;

/**
 * PX of the grace key: the window (graceMs) plus as much again and a second. The window itself
 * is judged from the caller's clock in ROTATE_SCRIPT; the key has only to outlive it, also when
 * the instance that replays runs behind the one that rotated (clock skew up to graceMs + 1 s).
 * A key that vanished early would turn a legitimate replay into reuse and revoke the session;
 * one that stays longer costs ~400 bytes for those few seconds and decides nothing.
 */
const GRACE_KEY_TTL_LUA = `string.format('%.0f', 2 * tonumber(ARGV[5]) + 1000)`;

/** Sets the index key to expire with its longest-lived member, so an idle user's index goes too. */
const EXPIRE_INDEX_WITH_LAST_MEMBER = `
local top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if top[2] then redis.call('PEXPIREAT', KEYS[2], top[2]) end`;

/**
 * Lua: rewrites a record written by the layout before pieces and the grace key (it has a uid
 * field) into the current one: long values into pieces, without uid, prev, ra and succ. The hash
 * is deleted and written afresh so it is a listpack again; the caller sets its expiry.
 */
const LUA_MIGRATE_OLD_LAYOUT = `
${LUA_SET_IN_PIECES}
local function migrateOldLayout(key)
  local all = redis.call('HGETALL', key)
  redis.call('DEL', key)
  for i = 1, #all, 2 do
    local name = all[i]
    if name ~= 'uid' and name ~= 'prev' and name ~= 'ra' and name ~= 'succ' then setInPieces(key, name, all[i + 1]) end
  end
end`;

/**
 * KEYS: session, grace, index. ARGV: retainUntil, createdAt, sessionId, then the hash's field and
 * value pairs (long values already in pieces). Returns 1.
 *
 * A new session: its hash and expiry, its index entry and the index's expiry, together, with
 * nothing else running in between. A script rather than MULTI/EXEC: one command on the wire
 * instead of nine, for the same isolation. The shebang (Redis >= 7.0) declares a script that
 * writes, so over maxmemory Redis refuses it before it starts, as it refused the MULTI; without
 * one Redis checks memory only until a script's first write (the DEL) and would then write the
 * session past the limit. None of these commands can fail on our keys otherwise.
 * The index drops ids whose records are already gone, so it does not grow for ever; its expiry is
 * given if it has none and moved out to the longest-lived member (PEXPIREAT NX, GT: Redis >= 7.0).
 */
export const CREATE_SCRIPT = `#!lua
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[1], ARGV[3])
redis.call('PEXPIREAT', KEYS[3], ARGV[1], 'NX')
redis.call('PEXPIREAT', KEYS[3], ARGV[1], 'GT')
return 1`;

/**
 * KEYS: session, index, grace. ARGV: presentedHash, nextHash, sealedSuccessor, now, graceMs,
 * refreshTtlMs, retainMs, sessionId. Returns {kind, ...fields} (see parseRotateReply).
 *
 * The grace key holds "<rotatedAt> <predecessor digest> <sealed successor>". A record of the old
 * layout keeps the same three in its hash (ra, prev, succ); should both exist (an instance of the
 * previous release rotated during a rolling deploy), the later rotation wins, as it would have.
 */
export const ROTATE_SCRIPT = `
${LUA_MIGRATE_OLD_LAYOUT}
local f = redis.call('HMGET', KEYS[1], 'st', 'rr', 'ea', 'rea', 'cur', 'role', 'prev', 'ra', 'succ', 'uid')
local st = f[1]
if not st then return {'not_found'} end
if st == 'disabled' then return {'disabled'} end
if st ~= 'active' then return {'revoked', f[2] or ''} end
local now = tonumber(ARGV[4])
local ea = tonumber(f[3])
if now >= ea then return {'session_expired'} end
if f[5] and ARGV[1] == f[5] then
  if now >= tonumber(f[4]) then return {'refresh_expired'} end
  local rea = string.format('%.0f', math.min(now + tonumber(ARGV[6]), ea))
  local keep = string.format('%.0f', tonumber(rea) + tonumber(ARGV[7]))
  if f[10] then migrateOldLayout(KEYS[1]) end
  redis.call('HSET', KEYS[1], 'cur', ARGV[2], 'lu', ARGV[4], 'rea', rea)
  redis.call('SET', KEYS[3], ARGV[4] .. ' ' .. f[5] .. ' ' .. ARGV[3], 'PX', ${GRACE_KEY_TTL_LUA})
  redis.call('PEXPIREAT', KEYS[1], keep)
  redis.call('ZADD', KEYS[2], keep, ARGV[8])
  ${EXPIRE_INDEX_WITH_LAST_MEMBER}
  return {'rotated', f[6], f[3], rea}
end
local prev, ra, succ = f[7], f[8], f[9]
local g = redis.call('GET', KEYS[3])
if g then
  local i = string.find(g, ' ', 1, true)
  local j = string.find(g, ' ', i + 1, true)
  local gra = string.sub(g, 1, i - 1)
  if not ra or tonumber(gra) >= tonumber(ra) then
    ra, prev, succ = gra, string.sub(g, i + 1, j - 1), string.sub(g, j + 1)
  end
end
if prev and ARGV[1] == prev and now - tonumber(ra) <= tonumber(ARGV[5]) then
  return {'replayed', f[6], f[3], f[4], succ or ''}
end
-- Neither current nor a fresh predecessor: someone holds a token that was already rotated.
-- HDEL first: over maxmemory Redis refuses only a script's first write, and only when it may
-- grow memory (HSET may, HDEL cannot), so the revocation lands when Redis is full; a rotation,
-- whose first write is an HSET, is refused whole.
redis.call('HDEL', KEYS[1], 'cur', 'prev', 'ra', 'succ')
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[1], 'st', 'revoked', 'rr', 'reuse_detected')
return {'reused'}`;

/**
 * Shebang of the scripts that end sessions or change their profile: they run over maxmemory too
 * (allow-oom, Redis >= 7.0). A logout, a revocation, a disabled account or a demotion must take
 * effect when Redis is full; the scripts that end sessions free more (the token digests and the
 * grace key) than the status and reason they write. Without it Redis refuses a script whose
 * first write is an HSET once memory is over the limit.
 */
const RUNS_OVER_MAXMEMORY = '#!lua flags=allow-oom\n';

/** Lua: ends the session whose hash is `key` (status, reason), dropping its digests and grace key `grace`. */
const endSession = (status: string, reason: string) => `redis.call('HSET', key, 'st', '${status}', 'rr', ${reason})
    redis.call('HDEL', key, 'cur', 'prev', 'ra', 'succ')
    redis.call('DEL', grace)`;

/** KEYS: session, grace. ARGV: reason. Returns 1 when the session was active; never overwrites a reason. */
export const REVOKE_SCRIPT = `${RUNS_OVER_MAXMEMORY}local key, grace = KEYS[1], KEYS[2]
if redis.call('HGET', key, 'st') ~= 'active' then return 0 end
${endSession('revoked', 'ARGV[1]')}
return 1`;

/**
 * Applies `action` (Lua using `key`, the session hash, and `grace`, its grace key) to every
 * session in the index with status `status`; prunes dropped ids. `prelude` defines helpers.
 * KEYS: index. ARGV: session key base, grace key base, then the action's own arguments.
 */
function forEachSessionWithStatus(status: string, action: string, prelude = ''): string {
  return `${prelude}
local n = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local key, grace = ARGV[1] .. id, ARGV[2] .. id
  local st = redis.call('HGET', key, 'st')
  if not st then
    redis.call('ZREM', KEYS[1], id)
  elseif st == '${status}' then
    ${action}
    n = n + 1
  end
end
return n`;
}

const forEachActiveSession = (action: string, prelude = '') => forEachSessionWithStatus('active', action, prelude);

/** Turns disabled sessions into revoked ones (reason kept). Returns how many. */
export const END_DISABLED_SCRIPT = RUNS_OVER_MAXMEMORY + forEachSessionWithStatus('disabled', `redis.call('HSET', key, 'st', 'revoked')`);

/** ARGV[3]: reason. Returns how many sessions were revoked. */
export const REVOKE_ALL_SCRIPT = RUNS_OVER_MAXMEMORY + forEachActiveSession(endSession('revoked', 'ARGV[3]'));

/** Returns how many sessions were disabled. */
export const DISABLE_ALL_SCRIPT = RUNS_OVER_MAXMEMORY + forEachActiveSession(endSession('disabled', "'account_disabled'"));

/**
 * ARGV[3]: role ('' keeps it); ARGV[4]: name mode ('keep', 'set' or 'clear'); ARGV[5...]: the new
 * name's pieces as field/value pairs (toPieces('nm', name)). Returns how many sessions changed.
 * Over maxmemory too, like the scripts that end sessions: an admin's role change is committed
 * with it or not at all (src/modules/user-auth/admin-service.ts), and a demotion must not wait
 * for memory. It rewrites fields in place, so it grows Redis by at most a longer name's bytes.
 */
export const UPDATE_PROFILE_SCRIPT = RUNS_OVER_MAXMEMORY + forEachActiveSession(
  `if ARGV[3] ~= '' then redis.call('HSET', key, 'role', ARGV[3]) end
    if ARGV[4] ~= 'keep' then deletePieces(key, 'nm') end
    if ARGV[4] == 'set' then redis.call('HSET', key, unpack(ARGV, 5)) end`,
  LUA_DELETE_PIECES,
);

/** Lua: `readRecord(key, fields)` is HMGET of `fields` with pieced values joined (false where absent). */
const LUA_READ_RECORD = `
${LUA_JOIN_PIECES}
local PIECED = {${PIECED_FIELDS.map((f) => `${f} = true`).join(', ')}}
local function readRecord(key, fields)
  local values = redis.call('HMGET', key, unpack(fields))
  for i, name in ipairs(fields) do
    if PIECED[name] then values[i] = joinPieces(key, name, values[i]) end
  end
  return values
end`;

/** KEYS: session. ARGV: field names. Returns their values, pieces joined (all nil when the record is gone). */
export const GET_SCRIPT = `
${LUA_READ_RECORD}
return readRecord(KEYS[1], ARGV)`;

/**
 * KEYS: index. ARGV: session key base, then field names. Returns {id, ...values} (pieces
 * joined) for every session whose hash still exists and drops the ids of the rest from the index.
 */
export const LIST_SCRIPT = `
${LUA_READ_RECORD}
local base = ARGV[1]
local fields = {unpack(ARGV, 2)}
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local key = base .. id
  if redis.call('EXISTS', key) == 1 then
    local values = readRecord(key, fields)
    table.insert(values, 1, id)
    table.insert(out, values)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out`;
