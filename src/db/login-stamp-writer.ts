/**
 * users.last_login_at, written in batches off the login path: one UPDATE per flush for every
 * login since the last one, instead of a transaction (BEGIN, UPDATE, COMMIT and its WAL flush)
 * per login. A login's stamp reaches Postgres within AUDIT_FLUSH_INTERVAL_MS, like its
 * login.succeeded event, and on shutdown. The stamp only moves forward: an older one arriving
 * late (a retried batch) never overwrites a newer one.
 */
import { sql } from 'drizzle-orm';
import { isRowRefusal } from '../lib/dependency-errors.js';
import { createEventBuffer, type EventBuffer } from '../lib/event-buffer.js';
import type { Db } from './client.js';

export interface LoginStamps {
  record(userId: string, at: Date): void;
  flush(): Promise<void>;
  close(): Promise<void>;
  readonly buffer: Pick<EventBuffer<unknown>, 'pending' | 'dropped'>;
}

export function createLoginStampWriter(options: {
  db: Db;
  intervalMs: number;
  onError?: (error: unknown, pending: number) => void;
  onDrop?: (dropped: number) => void;
}): LoginStamps {
  const buffer = createEventBuffer<{ userId: string; at: Date }>({
    intervalMs: options.intervalMs,
    write: async (batch) => {
      // The latest stamp per user: one row each, so the UPDATE touches every user once.
      const latest = new Map<string, string>();
      for (const { userId, at } of batch) {
        const iso = at.toISOString();
        const seen = latest.get(userId);
        if (seen === undefined || seen < iso) latest.set(userId, iso);
      }
      const rows = JSON.stringify([...latest].map(([id, at]) => ({ id, at })));
      await options.db.execute(sql`
        update users set last_login_at = stamp.at
        from jsonb_to_recordset(${rows}::jsonb) as stamp(id uuid, at timestamptz)
        where users.id = stamp.id and (users.last_login_at is null or users.last_login_at < stamp.at)`);
    },
    ...(options.onError ? { onError: options.onError } : {}),
    ...(options.onDrop ? { onDrop: options.onDrop } : {}),
    isRefusal: isRowRefusal,
  });
  return {
    record: (userId, at) => buffer.push({ userId, at }),
    flush: () => buffer.flush(),
    close: () => buffer.close(),
    buffer,
  };
}
