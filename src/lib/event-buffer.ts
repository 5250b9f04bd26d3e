/**
 * Buffers events in memory and writes them in batches off the request path: every
 * `intervalMs`, when `batchSize` are waiting, and on close. A failed write puts the batch back
 * (up to `capacity`) and is retried on the next flush; what does not fit is counted as dropped and
 * reported through onDrop, never silently lost.
 */
export interface EventBufferOptions<T> {
  write(batch: T[]): Promise<void>;
  intervalMs: number;
  batchSize?: number;
  capacity?: number;
  onError?(error: unknown, pending: number): void;
  onDrop?(dropped: number): void;
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

  async function writeAll(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.slice(0, batchSize);
      queue = queue.slice(batch.length);
      try {
        await options.write(batch);
      } catch (error) {
        const room = capacity - queue.length;
        if (room < batch.length) drop(batch.length - Math.max(room, 0));
        queue = [...batch.slice(0, Math.max(room, 0)), ...queue];
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
