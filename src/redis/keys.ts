/**
 * Every Redis key template in one place. Keys of one user share the hash tag {u:<userId>}, so the
 * scripts that touch a user's sessions together stay on one slot under Redis Cluster.
 * The prefix is applied here, explicitly, because ioredis's keyPrefix does not reach SCAN patterns.
 */
export function createKeys(prefix: string) {
  return {
    /** Hash: one session (see SessionRecord fields in session-store.ts). */
    session: (userId: string, sessionId: string) => `${prefix}{u:${userId}}:sess:${sessionId}`,
    /** Sorted set: the user's session ids, scored by the time their record may be dropped. */
    userSessions: (userId: string) => `${prefix}{u:${userId}}:sessions`,
  };
}

export type Keys = ReturnType<typeof createKeys>;
