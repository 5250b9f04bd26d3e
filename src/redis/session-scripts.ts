/**
 * The session record's storage layout and the Lua scripts that change it atomically.
 *
 * Session hash fields (short names keep a session well under 1 KiB in Redis): uid, role, em
 * (email), nm (name, absent when null), st
 * (status), rr (revoked reason), ca (created), lu (last used), ea (expires), rea (refresh
 * expires), ip, ua, cur / prev (current and previous refresh token digests), ra (rotated at),
 * succ (sealed successor). Times are decimal strings of epoch milliseconds.
 *
 * Invariants the scripts keep:
 * - Every time comes from ARGV (the caller's clock), never Redis TIME, so the in-process store
 *   and Redis agree and tests control time.
 * - A session hash and its user's index share the {u:<userId>} hash tag. The per-user scripts
 *   build session key names from ARGV[1] (the user's session key base from keys.ts) plus the
 *   index members; all of them hash to the index key's slot, so they run on Redis Cluster.
 * - Revoking or disabling keeps the key's expiry (a tombstone until retainUntil) and drops the
 *   token digests and the sealed successor.
 * - Digests are compared with plain equality: they are SHA-256 outputs of secret tokens, so the
 *   timing of a mismatch tells an attacker nothing about a token they could present.
 */

export const MAX_USER_AGENT_LENGTH = 256;
export const MAX_IP_LENGTH = 64;

/** Cuts to `max` UTF-16 units without leaving half a surrogate pair (Redis would store U+FFFD). */
export function clip(value: string, max: number): string {
  if (value.length <= max) return value;
  const code = value.charCodeAt(max - 1);
  return value.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

/** Fields returned by get() and listActiveForUser(), in this order; never the token digests. */
export const INFO_FIELDS = ['uid', 'role', 'em', 'nm', 'st', 'rr', 'ca', 'lu', 'ea', 'rea', 'ip', 'ua'] as const;

/** Fields the access guard reads on every request. */
export const ACCESS_FIELDS = ['st', 'role', 'ea', 'rr', 'em', 'nm'] as const;

/** Sets the index key to expire with its longest-lived member, so an idle user's index goes too. */
const EXPIRE_INDEX_WITH_LAST_MEMBER = `
local top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if top[2] then redis.call('PEXPIREAT', KEYS[2], top[2]) end`;

/**
 * KEYS: session, index. ARGV: presentedHash, nextHash, sealedSuccessor, now, graceMs,
 * refreshTtlMs, retainMs, sessionId. Returns {kind, ...fields} (see parseRotateReply).
 */
export const ROTATE_SCRIPT = `
local f = redis.call('HMGET', KEYS[1], 'st', 'rr', 'ea', 'rea', 'cur', 'prev', 'ra', 'role', 'succ')
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
  redis.call('HSET', KEYS[1], 'prev', f[5], 'cur', ARGV[2], 'succ', ARGV[3], 'ra', ARGV[4], 'lu', ARGV[4], 'rea', rea)
  redis.call('PEXPIREAT', KEYS[1], keep)
  redis.call('ZADD', KEYS[2], keep, ARGV[8])
  ${EXPIRE_INDEX_WITH_LAST_MEMBER}
  return {'rotated', f[8], f[3], rea}
end
if f[6] and ARGV[1] == f[6] and now - tonumber(f[7]) <= tonumber(ARGV[5]) then
  return {'replayed', f[8], f[3], f[4], f[9]}
end
-- Neither current nor a fresh predecessor: someone holds a token that was already rotated.
redis.call('HSET', KEYS[1], 'st', 'revoked', 'rr', 'reuse_detected')
redis.call('HDEL', KEYS[1], 'cur', 'prev', 'succ')
return {'reused'}`;

/** KEYS: session. ARGV: reason. Returns 1 when the session was active; never overwrites a reason. */
export const REVOKE_SCRIPT = `
if redis.call('HGET', KEYS[1], 'st') ~= 'active' then return 0 end
redis.call('HSET', KEYS[1], 'st', 'revoked', 'rr', ARGV[1])
redis.call('HDEL', KEYS[1], 'cur', 'prev', 'succ')
return 1`;

/** Applies `action` (Lua using `key`) to every session in the index with status `status`; prunes dropped ids. */
function forEachSessionWithStatus(status: string, action: string): string {
  return `
local base = ARGV[1]
local n = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local key = base .. id
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

const forEachActiveSession = (action: string) => forEachSessionWithStatus('active', action);

/** KEYS: index. ARGV: session key base. Turns disabled sessions into revoked ones (reason kept). Returns how many. */
export const END_DISABLED_SCRIPT = forEachSessionWithStatus('disabled', `redis.call('HSET', key, 'st', 'revoked')`);

/** KEYS: index. ARGV: session key base, reason. Returns how many sessions were revoked. */
export const REVOKE_ALL_SCRIPT = forEachActiveSession(`redis.call('HSET', key, 'st', 'revoked', 'rr', ARGV[2])
    redis.call('HDEL', key, 'cur', 'prev', 'succ')`);

/** KEYS: index. ARGV: session key base. Returns how many sessions were disabled. */
export const DISABLE_ALL_SCRIPT = forEachActiveSession(`redis.call('HSET', key, 'st', 'disabled', 'rr', 'account_disabled')
    redis.call('HDEL', key, 'cur', 'prev', 'succ')`);

/**
 * KEYS: index. ARGV: session key base, role ('' keeps it), name mode ('keep', 'set' or 'clear'),
 * name. Returns how many sessions changed.
 */
export const UPDATE_PROFILE_SCRIPT = forEachActiveSession(`if ARGV[2] ~= '' then redis.call('HSET', key, 'role', ARGV[2]) end
    if ARGV[3] == 'set' then redis.call('HSET', key, 'nm', ARGV[4]) elseif ARGV[3] == 'clear' then redis.call('HDEL', key, 'nm') end`);

/**
 * KEYS: index. ARGV: session key base, then the INFO_FIELDS names. Returns {id, ...values} for
 * every session whose hash still exists and drops the ids of the rest from the index.
 */
export const LIST_SCRIPT = `
local base = ARGV[1]
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local key = base .. id
  if redis.call('EXISTS', key) == 1 then
    local values = redis.call('HMGET', key, unpack(ARGV, 2))
    table.insert(values, 1, id)
    table.insert(out, values)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out`;
