/**
 * Recognises failures of our dependencies being unreachable (as opposed to bugs), so they answer
 * 503 with Retry-After instead of 500: Redis down, in a blackhole (command timeout) or refusing
 * connections, or answering that it cannot serve now (over maxmemory, loading its dataset, busy
 * in a script, a replica after a failover, a cluster resharding); Postgres refusing, dropping or
 * timing out connections, short of resources (disk, memory, connections), or giving up on a
 * statement that waited too long or lost a race it can win on a retry (a statement or lock
 * timeout, a deadlock, a serialization failure). Errors Redis or Postgres answer about a query
 * itself (wrong type, constraint violations, syntax) are not in this set.
 */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
const POSTGRES_CONNECTION_CODES = new Set(['CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT']);
/** Redis error replies (the prefix of ReplyError's message) that say "not now", not "not this". */
const REDIS_TRY_LATER = /^(OOM|LOADING|BUSY|MASTERDOWN|READONLY|TRYAGAIN|CLUSTERDOWN|NOREPLICAS) /;
const REDIS_UNAVAILABLE_MESSAGES = [
  "Stream isn't writeable and enableOfflineQueue options is false",
  'Command timed out',
  'Connection is closed.',
];

function* causes(error: unknown): Generator<Record<string, unknown>> {
  let current = error;
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth++) {
    yield current as Record<string, unknown>;
    current = (current as { cause?: unknown }).cause;
  }
}

export function isDependencyUnavailable(error: unknown): boolean {
  for (const candidate of causes(error)) {
    const code = typeof candidate.code === 'string' ? candidate.code : '';
    if (NETWORK_CODES.has(code) || POSTGRES_CONNECTION_CODES.has(code)) return true;
    // SQLSTATE class 08 (connection exception), 57P01-03 (shutdown), class 53 (insufficient
    // resources: disk full, out of memory, too many connections), 57014 (statement timeout or
    // cancel), 55P03 (lock timeout), 40001 and 40P01 (serialization failure, deadlock).
    if (/^08...$/.test(code) || /^57P0[123]$/.test(code) || /^53...$/.test(code)) return true;
    if (code === '57014' || code === '55P03' || code === '40001' || code === '40P01') return true;
    if (candidate.name === 'MaxRetriesPerRequestError') return true;
    if (typeof candidate.message === 'string' && REDIS_UNAVAILABLE_MESSAGES.includes(candidate.message)) return true;
    if (candidate.name === 'ReplyError' && typeof candidate.message === 'string' && REDIS_TRY_LATER.test(candidate.message)) return true;
  }
  return false;
}

/**
 * The opposite case for Postgres: it refused a write for a value in it (SQLSTATE class 22, data
 * exception, or 23, integrity constraint violation), a row it will refuse on every retry, unlike a
 * connection, timeout or missing-column failure, which would refuse every row alike. The event
 * buffers isolate and drop such rows (src/lib/event-buffer.ts).
 */
export function isRowRefusal(error: unknown): boolean {
  for (const candidate of causes(error)) {
    if (typeof candidate.code === 'string' && /^2[23][0-9A-Z]{3}$/.test(candidate.code)) return true;
  }
  return false;
}

/** Seconds a client should wait before retrying after a 503 for an unreachable dependency. */
export const DEPENDENCY_RETRY_AFTER_SECONDS = 5;
