/**
 * The app token store's storage layout, shared by both implementations, and the Lua scripts that
 * change it atomically in Redis. The contract and threat model live in app-token-store.ts.
 *
 * Layout (keys from keys.ts, all under the app's {a:<appId>} hash tag):
 * - appSnapshot: the AppSnapshot as JSON, no expiry.
 * - appToken: one token record as a compact line (encodeTokenRecord) with PX = expiresAt - now.
 *   No names, and no appId (the key carries it), keep a record plus its index entry under
 *   0.5 KiB of Redis memory (see the memory test in redis-app-token-store.test.ts).
 * - appTokens: sorted set of token digests scored by expiresAt, expiring with its last member.
 *
 * Invariants the scripts keep:
 * - Every time comes from ARGV (the caller's clock), never Redis TIME, so the in-process store and
 *   Redis decide alike and tests control time.
 * - Numbers leave Lua through string.format('%.0f'): cjson.encode and tostring keep only 14
 *   significant digits, which is too few for epoch milliseconds on some inputs.
 * - ISSUE reads the failure-throttle counters (KEYS[4..], keys.clientFailures*, under the same
 *   hash tag) with the lock code READ_SCRIPT runs, so issuance is one round trip.
 * - REVOKE_ALL builds token key names from ARGV[1] (keys.appToken(appId, '')) plus the index
 *   members; they share the index's hash tag, so it runs on Redis Cluster.
 */
import type { AppSnapshot, AppTokenRecord, IssueInput } from './app-token-store.js';
import { THROTTLE_COUNT_LUA, THROTTLE_STATES_LUA } from './failure-throttle-scripts.js';

/**
 * A stored token record is one line of space-separated fields:
 *   tokenId organizationId secretVersion issuedAt expiresAt k scope_1 ... scope_k organizationCode
 * k is the number of scope codes (0 when the token is not limited to a scope). Every field before
 * the organization code is free of spaces (UUIDs, integers, and scope codes, which the issue
 * script splits on whitespace), so the code, last, is the rest of the line whatever it holds.
 *
 * Why not JSON (as before): the names, quotes and braces were ~30 of ~150 bytes, which put the
 * value in jemalloc's 160-byte size class; this form takes the usual record (an organization code
 * up to ~16 characters) to the 128-byte class, 32 bytes less per live token, out of a 0.5 KiB
 * budget. Records written as JSON before the change still decode until they expire (one token
 * lifetime, APP_TOKEN_TTL, after the deploy).
 */
export function encodeTokenRecord(r: AppTokenRecord): string {
  const scope = r.scope ?? [];
  return [r.tokenId, r.organizationId, r.secretVersion, r.issuedAt, r.expiresAt, scope.length, ...scope, r.organizationCode].join(' ');
}

/** The JSON form written before the compact one; read only as a fallback. */
interface LegacyTokenRecord {
  t: string;
  o: string;
  c: string;
  v: number;
  i: number;
  e: number;
  s?: string;
}

/** `appId` comes from the key the record was read under. */
export function decodeTokenRecord(appId: string, raw: string): AppTokenRecord {
  if (raw.startsWith('{')) {
    const s = JSON.parse(raw) as LegacyTokenRecord;
    return {
      tokenId: s.t,
      appId,
      organizationId: s.o,
      organizationCode: s.c,
      secretVersion: s.v,
      issuedAt: s.i,
      expiresAt: s.e,
      ...(s.s ? { scope: s.s.split(' ') } : {}),
    };
  }
  const parts = raw.split(' ');
  const k = Number(parts[5]);
  return {
    tokenId: parts[0]!,
    appId,
    organizationId: parts[1]!,
    organizationCode: parts.slice(6 + k).join(' '),
    secretVersion: Number(parts[2]),
    issuedAt: Number(parts[3]),
    expiresAt: Number(parts[4]),
    ...(k > 0 ? { scope: parts.slice(6, 6 + k) } : {}),
  };
}

export const encodeSnapshot = (snapshot: AppSnapshot): string => JSON.stringify(snapshot);
export const decodeSnapshot = (json: string): AppSnapshot => JSON.parse(json) as AppSnapshot;

/** Both stores refuse times Redis could not take as a PX (integer milliseconds, positive TTL). */
export function assertIssueTimes(input: IssueInput): void {
  if (!Number.isSafeInteger(input.now) || !Number.isSafeInteger(input.expiresAt) || input.expiresAt <= input.now) {
    throw new RangeError(`issue needs integer epoch ms with expiresAt > now (now=${input.now}, expiresAt=${input.expiresAt})`);
  }
}

/**
 * KEYS: snapshot, index, token, then the failure-throttle counters (none or more). ARGV:
 * secretDigest, organizationCode, organizationId (both '' when not given), tokenHash, tokenId,
 * now, expiresAt, scope (space-separated, '' for none), then each counter's rule as
 * RECORD_FAILURE_SCRIPT takes it (lockAfter, lockMs, maxLockMs, doubling, windowMs).
 * Returns {kind, states} or {'issued', states, record, appCode}; states as READ_SCRIPT returns
 * them, except after a wrong or unusable secret, which this script counts itself (the states
 * then include it), so the check and the count cannot be interleaved by concurrent guesses; an
 * issuance clears counters that held failures. Decision order: lock (before the snapshot, so a
 * locked unknown app costs no Postgres rebuild), secret, app status, organization, scope (each
 * code must be granted).
 */
export const ISSUE_SCRIPT = `${THROTTLE_STATES_LUA}
${THROTTLE_COUNT_LUA}
local now = tonumber(ARGV[6])
local expiresAt = tonumber(ARGV[7])
local counters = {}
for i = 4, #KEYS do counters[#counters + 1] = KEYS[i] end
local throttle = throttleStates(counters, now)
if throttleLocked(throttle) then return {'locked', throttle} end
local function countFailure(kind)
  local rules = {ARGV[6]}
  for i = 9, #ARGV do rules[#rules + 1] = ARGV[i] end
  return {kind, throttleCount(counters, rules)}
end

local raw = redis.call('GET', KEYS[1])
if not raw then return {'no_snapshot', throttle} end
local app = cjson.decode(raw)

local secret
if ARGV[1] ~= '' then
  for _, s in ipairs(app.secrets) do
    if s.digest == ARGV[1] then secret = s break end
  end
end
if not secret then return countFailure('invalid_client') end
-- A holder of any of its secrets learns that the app is revoked (its secrets are all revoked too).
if app.status == 'REVOKED' then return {'app_revoked', throttle} end
local usable = secret.status == 'ACTIVE'
  or (secret.status == 'GRACE' and type(secret.graceUntil) == 'number' and now < secret.graceUntil)
if not usable then return countFailure('secret_expired') end

if app.status == 'SUSPENDED' then return {'app_suspended', throttle} end
if app.status ~= 'ACTIVE' then return {'app_revoked', throttle} end

local orgs = app.organizations
local function find(field, value)
  for _, o in ipairs(orgs) do
    if o[field] == value then return o end
  end
  return nil
end
local code, id = ARGV[2], ARGV[3]
local org
if code ~= '' then
  org = find('code', code)
  if not org or (id ~= '' and org.id ~= id) then return {'org_denied', throttle} end
elseif id ~= '' then
  org = find('id', id)
  if not org then return {'org_denied', throttle} end
else
  org = find('isDefault', true)
  if not org and #orgs == 1 then org = orgs[1] end
  if not org then return {'org_required', throttle} end
end

local scope = {}
if (ARGV[8] or '') ~= '' then
  local granted = {}
  for _, p in ipairs(app.permissions) do granted[p] = true end
  for p in string.gmatch(ARGV[8], '%S+') do
    if not granted[p] then return {'invalid_scope', throttle} end
    scope[#scope + 1] = p
  end
end

-- The compact record of encodeTokenRecord, byte for byte.
local record = table.concat({ARGV[5], org.id, string.format('%.0f', secret.version), string.format('%.0f', now),
  string.format('%.0f', expiresAt), #scope}, ' ')
if #scope > 0 then record = record .. ' ' .. table.concat(scope, ' ') end
record = record .. ' ' .. org.code
redis.call('SET', KEYS[3], record, 'PX', string.format('%.0f', expiresAt - now))
redis.call('ZADD', KEYS[2], string.format('%.0f', expiresAt), ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. string.format('%.0f', now))
-- The index expires with its longest-lived member, so an idle app's index goes too.
local top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[2], top[2])
for _, state in ipairs(throttle) do
  if state[1] > 0 then redis.call('DEL', unpack(counters)) break end
end
return {'issued', throttle, record, app.code}`;

/**
 * KEYS: snapshot. ARGV: its JSON. A SET without expiry (clearing any TTL a previous value had),
 * allowed over maxmemory (Redis >= 7.0): suspending or revoking an app rewrites its snapshot, and
 * that must land when Redis is full, which is when a flood or a leaked secret is most likely
 * being answered. Admin writes are rare and one snapshot is a few hundred bytes.
 */
export const PUT_SNAPSHOT_SCRIPT = `#!lua flags=allow-oom
return redis.call('SET', KEYS[1], ARGV[1])`;

/**
 * KEYS: token record, app's index. ARGV: token hash. Returns 1 if the record existed. The record
 * and its index entry go together; allowed over maxmemory, where Redis refuses every command
 * queued in a MULTI, even a DEL: revoking a token must land when Redis is full.
 */
export const REVOKE_SCRIPT = `#!lua flags=allow-oom
local n = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return n`;

/** KEYS: index. ARGV: token key base. Returns how many token keys existed and were deleted. */
export const REVOKE_ALL_SCRIPT = `
local n = 0
for _, hash in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  n = n + redis.call('DEL', ARGV[1] .. hash)
end
redis.call('DEL', KEYS[1])
return n`;
