/**
 * The audit trail writer: record() buffers an event and returns at once; batches go to
 * audit_logs off the request path, and close() flushes the rest, so token issuance never waits on
 * Postgres and no event is lost on a clean shutdown.
 */
import type { Clock } from '../lib/clock.js';
import { isRowRefusal } from '../lib/dependency-errors.js';
import { createEventBuffer, type EventBuffer } from '../lib/event-buffer.js';
import { insertBatch } from './batch-insert.js';
import type { Db } from './client.js';
import { auditLogs } from './schema.js';

export interface AuditEvent {
  appId: string | null;
  eventType: string;
  /** "user:<id>", "app:<id>", "client:<client_id>", "cli" or "system". */
  actor: string;
  ip?: string | null;
  requestId?: string | null;
  details?: Record<string, unknown>;
}

export interface AuditLog {
  record(event: AuditEvent): void;
  /** Writes everything buffered so far. */
  flush(): Promise<void>;
  /** Stops the timer and writes the rest. */
  close(): Promise<void>;
  readonly buffer: Pick<EventBuffer<unknown>, 'pending' | 'dropped'>;
}

export function createAuditWriter(options: {
  db: Db;
  clock: Clock;
  intervalMs: number;
  onError?: (error: unknown, pending: number) => void;
  onDrop?: (dropped: number) => void;
}): AuditLog {
  const buffer = createEventBuffer<typeof auditLogs.$inferInsert>({
    intervalMs: options.intervalMs,
    write: async (batch) => {
      await insertBatch(options.db, auditLogs, batch);
    },
    ...(options.onError ? { onError: options.onError } : {}),
    ...(options.onDrop ? { onDrop: options.onDrop } : {}),
    isRefusal: isRowRefusal,
  });
  return {
    record(event) {
      buffer.push({
        appId: event.appId,
        eventType: event.eventType,
        actor: event.actor,
        ip: event.ip ?? null,
        requestId: event.requestId ?? null,
        details: event.details ?? {},
        createdAt: new Date(options.clock.now()),
      });
    },
    flush: () => buffer.flush(),
    close: () => buffer.close(),
    buffer,
  };
}
