/**
 * Buffers events in memory and writes them in batches off the request path: every
 * `intervalMs`, when `batchSize` are waiting, and on close. A write that fails because the store
 * is unavailable puts the batch back (up to `capacity`) and is retried on the next flush; what does
 * not fit is counted as dropped and reported through onDrop, never silently lost.
 *
 * A write the store refuses for its content (`isRefusal`: a value it cannot take) is split in
 * halves until the refused events are alone: those are dropped, counted and reported through
 * onError, and the rest is written. Retried as a whole, one such event would hold back every event
 * behind it for ever. Any other failure (the store down, overloaded, or a schema not migrated)
 * is retried, since it would refuse every event alike.
 */
export interface EventBufferOptions<T> {
  write(batch: T[]): Promise<void>;
  intervalMs: number;
  batchSize?: number;
  capacity?: number;
  onError?(error: unknown, pending: number): void;
  onDrop?(dropped: number): void;
  /** Whether the store refused the content of the write, not the write itself; absent, never. */
  isRefusal?(error: unknown): boolean;
}

export interface EventBuffer<T> {
  push(event: T): void;
  /** Writes everything buffered now; resolves when done (or failed and re-queued). */
  flush(): Promise<void>;
  /** Stops the timer and flushes what is left. */
  close(): Promise<void>;
  readonly pending: number;
  readonly dropped: number;
}

export function createEventBuffer<T>(options: EventBufferOptions<T>): EventBuffer<T> {
  const batchSize = options.batchSize ?? 500;
  const capacity = options.capacity ?? 100_000;
  let queue: T[] = [];
  let dropped = 0;
  let flushing: Promise<void> | undefined;

  const drop = (count: number) => {
    dropped += count;
    options.onDrop?.(count);
  };

  const isRefusal = options.isRefusal ?? (() => false);

  /** Writes `batch`, isolating and dropping refused events; returns what must wait for the store, if any. */
  async function writeIsolating(batch: T[]): Promise<{ waiting: T[]; error: unknown } | null> {
    try {
      await options.write(batch);
      return null;
    } catch (error) {
      if (!isRefusal(error)) return { waiting: batch, error };
      if (batch.length === 1) {
        drop(1);
        options.onError?.(error, queue.length);
        return null;
      }
      const half = batch.length >> 1;
      const first = await writeIsolating(batch.slice(0, half));
      if (first) return { waiting: [...first.waiting, ...batch.slice(half)], error: first.error };
      return writeIsolating(batch.slice(half));
    }
  }

  async function writeAll(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.slice(0, batchSize);
      queue = queue.slice(batch.length);
      const failed = await writeIsolating(batch);
      if (failed) {
        const { waiting, error } = failed;
        const room = capacity - queue.length;
        if (room < waiting.length) drop(waiting.length - Math.max(room, 0));
        queue = [...waiting.slice(0, Math.max(room, 0)), ...queue];
        options.onError?.(error, queue.length);
        return;
      }
    }
  }

  const flush = (): Promise<void> => {
    flushing ??= writeAll().finally(() => {
      flushing = undefined;
    });
    return flushing;
  };

  const timer = setInterval(() => void flush(), options.intervalMs);
  timer.unref();

  return {
    push(event) {
      if (queue.length >= capacity) return drop(1);
      queue.push(event);
      if (queue.length >= batchSize && !flushing) void flush();
    },
    flush,
    async close() {
      clearInterval(timer);
      await flushing;
      await flush();
    },
    get pending() {
      return queue.length;
    },
    get dropped() {
      return dropped;
    },
  };
}
