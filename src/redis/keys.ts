/**
 * Every Redis key template in one place. Keys of one user share the hash tag {u:<userId>}, and keys
 * of one app the tag {a:<appId>}, so scripts that touch them together stay on one slot under
 * Redis Cluster.
 * The prefix is applied here, explicitly, because ioredis's keyPrefix does not reach SCAN patterns.
 */
export function createKeys(prefix: string) {
  return {
    /** Hash: one session (fields listed in session-scripts.ts). */
    session: (userId: string, sessionId: string) => `${prefix}{u:${userId}}:sess:${sessionId}`,
    /**
     * String: the session's last rotation (time, predecessor digest, sealed successor), only for the
     * refresh reuse grace window (see ROTATE_SCRIPT in session-scripts.ts).
     */
    sessionGrace: (userId: string, sessionId: string) => `${prefix}{u:${userId}}:grace:${sessionId}`,
    /** Sorted set: the user's session ids, scored by the time their record may be dropped. */
    userSessions: (userId: string) => `${prefix}{u:${userId}}:sessions`,
    /** String (JSON): the app's snapshot (see app-token-store.ts). */
    appSnapshot: (appId: string) => `${prefix}{a:${appId}}:app`,
    /** String (JSON): one live app access token, keyed by the token's SHA-256. */
    appToken: (appId: string, tokenHash: string) => `${prefix}{a:${appId}}:tok:${tokenHash}`,
    /** Sorted set: the app's live token digests, scored by expiry (epoch ms). */
    appTokens: (appId: string) => `${prefix}{a:${appId}}:tokens`,
    /** Counter: failed logins for one account (subject = digest of the email), any IP. */
    loginFailures: (subject: string) => `${prefix}{lf:${subject}}:all`,
    /** Counter: failed logins for one account from one IP (digest). */
    loginFailuresFrom: (subject: string, ip: string) => `${prefix}{lf:${subject}}:ip:${ip}`,
    /** Counter: failed client-credential checks for one app, any IP. */
    clientFailures: (appId: string) => `${prefix}{a:${appId}}:cf:all`,
    /** Counter: failed client-credential checks for one app from one IP (digest). */
    clientFailuresFrom: (appId: string, ip: string) => `${prefix}{a:${appId}}:cf:ip:${ip}`,
  };
}

export type Keys = ReturnType<typeof createKeys>;
