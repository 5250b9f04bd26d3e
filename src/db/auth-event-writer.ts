/**
 * Auth events for support: every denial (401/403) and every session-changing success. record()
 * returns at once; rows are written in batches off the request path and flushed on close.
 *
 * Flood folding: per (kind, reason, ip, subject, route) and minute, the first `floodThreshold`
 * denials are written as rows; the rest are only counted, and one row with that count is written
 * when the minute ends. An attacker or a broken client costs a bounded number of rows.
 */
import { lt } from 'drizzle-orm';
import type { Clock } from '../lib/clock.js';
import { isRowRefusal } from '../lib/dependency-errors.js';
import { createEventBuffer } from '../lib/event-buffer.js';
import { insertBatch } from './batch-insert.js';
import type { Db } from './client.js';
import { authEvents } from './schema.js';

export type AuthEventInsert = typeof authEvents.$inferInsert;
export type AuthEvent = Omit<AuthEventInsert, 'id' | 'occurredAt' | 'count'>;

export interface AuthEventLog {
  record(event: AuthEvent): void;
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Deletes events older than `days`; returns how many. */
  deleteOlderThan(days: number): Promise<number>;
  readonly pending: number;
  readonly dropped: number;
}

const FLOOD_WINDOW_MS = 60_000;

interface Fold {
  windowStart: number;
  seen: number;
  /** The first folded event, as the representative of the counted row. */
  sample: AuthEvent | undefined;
}

export function createAuthEventWriter(options: {
  db: Db;
  clock: Clock;
  intervalMs: number;
  floodThreshold: number;
  onError?: (error: unknown, pending: number) => void;
  onDrop?: (dropped: number) => void;
}): AuthEventLog {
  const { db, clock } = options;
  const folds = new Map<string, Fold>();
  const buffer = createEventBuffer<AuthEventInsert>({
    intervalMs: options.intervalMs,
    write: async (batch) => {
      await insertBatch(db, authEvents, batch);
    },
    ...(options.onError ? { onError: options.onError } : {}),
    ...(options.onDrop ? { onDrop: options.onDrop } : {}),
    isRefusal: isRowRefusal,
  });

  const keyOf = (event: AuthEvent) =>
    [event.kind, event.reason, event.ip, event.userId ?? event.appId ?? event.email ?? '', event.method, event.route].join('|');

  /** Writes one counted row per fold whose window has ended (all of them when `everything`). */
  function emitFolds(now: number, everything: boolean): void {
    for (const [key, fold] of folds) {
      if (!everything && now - fold.windowStart < FLOOD_WINDOW_MS) continue;
      const folded = fold.seen - options.floodThreshold;
      if (folded > 0 && fold.sample) {
        buffer.push({
          ...fold.sample,
          occurredAt: new Date(now),
          count: folded,
          details: { ...(fold.sample.details ?? {}), folded: true, window_start: new Date(fold.windowStart).toISOString() },
        });
      }
      folds.delete(key);
    }
  }

  const sweeper = setInterval(() => emitFolds(clock.now(), false), Math.min(options.intervalMs, FLOOD_WINDOW_MS));
  sweeper.unref();

  return {
    record(event) {
      const now = clock.now();
      if (event.kind === 'denied') {
        const key = keyOf(event);
        let fold = folds.get(key);
        if (fold && now - fold.windowStart >= FLOOD_WINDOW_MS) {
          emitFolds(now, false);
          fold = undefined;
        }
        if (!fold) folds.set(key, (fold = { windowStart: now, seen: 0, sample: undefined }));
        fold.seen++;
        if (fold.seen > options.floodThreshold) {
          fold.sample ??= event;
          return;
        }
      }
      buffer.push({ ...event, occurredAt: new Date(now), count: 1 });
    },
    async flush() {
      await buffer.flush();
    },
    async close() {
      clearInterval(sweeper);
      emitFolds(clock.now(), true);
      await buffer.close();
    },
    async deleteOlderThan(days) {
      const cutoff = new Date(clock.now() - days * 86_400_000);
      const deleted = await db.delete(authEvents).where(lt(authEvents.occurredAt, cutoff)).returning({ id: authEvents.id });
      return deleted.length;
    },
    get pending() {
      return buffer.pending;
    },
    get dropped() {
      return buffer.dropped;
    },
  };
}
