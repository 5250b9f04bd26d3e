/**
 * Long text in a Redis hash, stored in pieces that keep the hash a listpack.
 *
 * Why: one value longer than hash-max-listpack-value (64 bytes by default) converts the whole hash
 * from a listpack (one allocation, a few bytes per field) to a hashtable (a dict entry and two
 * strings per field, ~40 bytes each), and Redis never converts it back. A browser's user agent
 * is 70 to 200 bytes, so with the default configuration one such field made a session hash cost
 * 1,176 bytes instead of ~500 (measured with MEMORY USAGE on Redis 7.0).
 *
 * Layout: `name` holds the first piece, `name1`, `name2`, ... the rest, each at most PIECE_BYTES
 * of UTF-8. A value that fits is one field, exactly as before pieces existed, so records written
 * by older code (one long field) read the same way. Pieces end on character boundaries, so each
 * one is valid UTF-8 on its own; joining happens in Lua (byte concatenation) or not at all: a
 * reader that got `name` by HMGET and sees `name1` absent has the whole value.
 */

/** Redis's default hash-max-listpack-value: the longest value a listpack hash keeps. */
export const PIECE_BYTES = 64;

/**
 * A piece that another follows is at least this long: it was cut back from PIECE_BYTES over at
 * most three continuation bytes. So a first piece shorter than this is the whole value, and a
 * reader that fetched only `name` needs `name1` only when `name` is at least this long.
 */
export const SHORTEST_CONTINUED_PIECE = PIECE_BYTES - 3;

/** True when `first` (the value of a field's first piece) may have further pieces. */
export const mayContinue = (first: string): boolean => first.length * 3 >= SHORTEST_CONTINUED_PIECE && Buffer.byteLength(first) >= SHORTEST_CONTINUED_PIECE;

/** True for a UTF-8 continuation byte (10xxxxxx): a piece must not start there. */
const isContinuation = (byte: number) => (byte & 0xc0) === 0x80;

/** [field, value] pairs for HSET: `name`, then `name1`, `name2`, ... when the value needs them. */
export function toPieces(name: string, value: string): [string, string][] {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length <= PIECE_BYTES) return [[name, value]];
  const pieces: [string, string][] = [];
  for (let start = 0; start < bytes.length; ) {
    let end = Math.min(start + PIECE_BYTES, bytes.length);
    while (end < bytes.length && end > start + 1 && isContinuation(bytes[end]!)) end--;
    pieces.push([pieces.length === 0 ? name : `${name}${pieces.length}`, bytes.toString('utf8', start, end)]);
    start = end;
  }
  return pieces;
}

/**
 * Lua: `joinPieces(key, name, first)` returns `first` (the value of `name`, already read) with
 * any further pieces appended, or `first` itself (false when absent).
 */
export const LUA_JOIN_PIECES = `
local function joinPieces(key, name, first)
  if not first then return first end
  local parts, n = {first}, 1
  while true do
    local piece = redis.call('HGET', key, name .. n)
    if not piece then break end
    n = n + 1
    parts[n] = piece
  end
  return n == 1 and first or table.concat(parts)
end`;

/** Lua: `deletePieces(key, name)` drops `name` and every further piece of it. */
export const LUA_DELETE_PIECES = `
local function deletePieces(key, name)
  redis.call('HDEL', key, name)
  local n = 1
  while redis.call('HDEL', key, name .. n) == 1 do n = n + 1 end
end`;

/**
 * Lua: `setInPieces(key, name, value)` writes `value` as toPieces does (same cut points, so the
 * two writers agree byte for byte). Used where a script rewrites a value it read from Redis.
 */
export const LUA_SET_IN_PIECES = `
local function setInPieces(key, name, value)
  local len, start, n = #value, 1, 0
  repeat
    local stop = math.min(start + ${PIECE_BYTES} - 1, len)
    while stop < len and stop > start do
      local b = string.byte(value, stop + 1)
      if b < 128 or b >= 192 then break end
      stop = stop - 1
    end
    redis.call('HSET', key, n == 0 and name or name .. n, string.sub(value, start, stop))
    n = n + 1
    start = stop + 1
  until start > len
end`;
