/**
 * Each counter is a hash {n: failures, u: locked until (epoch ms)}; it lives windowMs after its
 * last failure (longer while locked), so the count survives a lock and the next lock can double.
 *
 * throttleCount(keys, args): counts one failure on every key. args[1]: now; then 5 values per key:
 * lockAfter, lockMs, maxLockMs, doubling (1/0), windowMs. Returns {count, lockedForMs} per key.
 */
export const THROTTLE_COUNT_LUA = `
local function throttleCount(keys, args)
  local now = tonumber(args[1])
  local out = {}
  for i, key in ipairs(keys) do
    local base = 1 + (i - 1) * 5
    local lockAfter = tonumber(args[base + 1])
    local lockMs = tonumber(args[base + 2])
    local maxLockMs = tonumber(args[base + 3])
    local doubling = args[base + 4] == '1'
    local windowMs = tonumber(args[base + 5])
    local count = redis.call('HINCRBY', key, 'n', 1)
    local lock = 0
    if count >= lockAfter then
      local factor = 1
      if doubling then factor = 2 ^ math.min(count - lockAfter, 30) end
      lock = math.min(lockMs * factor, maxLockMs)
      redis.call('HSET', key, 'u', string.format('%.0f', now + lock))
    end
    redis.call('PEXPIRE', key, string.format('%.0f', math.max(windowMs, lock)))
    table.insert(out, {count, lock})
  end
  return out
end`;

/** KEYS: the counters. ARGV as throttleCount's args. Returns {count, lockedForMs} per key. */
export const RECORD_FAILURE_SCRIPT = `${THROTTLE_COUNT_LUA}
return throttleCount(KEYS, ARGV)`;

/**
 * Lua function definitions, shared by READ_SCRIPT and the app token ISSUE_SCRIPT (which checks the
 * lock in the issuance round trip), so the lock is computed by one piece of code:
 * - throttleStates(keys, now): {count, lockedForMs} per counter key, in order (0, 0 when missing).
 * - throttleLocked(states): true when any counter's lock lasts past `now`.
 * lockedForMs is what ThrottleState.lockedForMs means; credential-throttle.ts decides from it.
 */
export const THROTTLE_STATES_LUA = `
local function throttleStates(keys, now)
  local out = {}
  for _, key in ipairs(keys) do
    local f = redis.call('HMGET', key, 'n', 'u')
    local count = tonumber(f[1] or '0')
    local remaining = tonumber(f[2] or '0') - now
    if remaining < 0 then remaining = 0 end
    table.insert(out, {count, remaining})
  end
  return out
end
local function throttleLocked(states)
  for _, state in ipairs(states) do
    if state[2] > 0 then return true end
  end
  return false
end`;

/** KEYS: the counters. ARGV[1]: now. Returns {count, lockedForMs} per key (0, 0 when missing). */
export const READ_SCRIPT = `${THROTTLE_STATES_LUA}
return throttleStates(KEYS, tonumber(ARGV[1]))`;

/**
 * ATTEMPT: the lock check and the count in one atomic step, so concurrent attempts cannot all pass
 * a check made before any of them is counted. KEYS and ARGV as RECORD_FAILURE_SCRIPT's. Returns
 * {0, states} (locked: nothing counted) or {1, states after counting this attempt as a failure}.
 */
export const ATTEMPT_SCRIPT = `${THROTTLE_STATES_LUA}
${THROTTLE_COUNT_LUA}
local states = throttleStates(KEYS, tonumber(ARGV[1]))
if throttleLocked(states) then return {0, states} end
return {1, throttleCount(KEYS, ARGV)}`;

/**
 * RELEASE: takes back one counted attempt that never reached the credential check. KEYS: the
 * counters; ARGV[i]: lockAfter of KEYS[i]. A counter back at 0 is forgotten; one back below its
 * threshold loses its lock (one still at or past it keeps the lock, which its earlier failures
 * had earned anyway).
 */
export const RELEASE_SCRIPT = `
for i, key in ipairs(KEYS) do
  local count = tonumber(redis.call('HGET', key, 'n') or '0')
  if count <= 1 then
    redis.call('DEL', key)
  else
    redis.call('HINCRBY', key, 'n', -1)
    if count - 1 < tonumber(ARGV[i]) then redis.call('HDEL', key, 'u') end
  end
end
return 1`;
