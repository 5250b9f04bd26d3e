import t from 'tap';
import { createEventBuffer } from '../../src/lib/event-buffer.js';

t.test('batches by size and flushes the rest on close', async (t) => {
  const batches: number[][] = [];
  const buffer = createEventBuffer<number>({ intervalMs: 60_000, batchSize: 3, write: async (batch) => void batches.push(batch) });
  for (let i = 0; i < 7; i++) buffer.push(i);
  await buffer.flush();
  t.strictSame(batches, [[0, 1, 2], [3, 4, 5], [6]]);
  buffer.push(7);
  t.equal(buffer.pending, 1);
  await buffer.close();
  t.strictSame(batches.at(-1), [7]);
  t.equal(buffer.pending, 0);
});

t.test('a failed write keeps the batch for the next flush, in order', async (t) => {
  const written: number[] = [];
  let failures = 1;
  const errors: number[] = [];
  const buffer = createEventBuffer<number>({
    intervalMs: 60_000,
    batchSize: 10,
    write: async (batch) => {
      if (failures-- > 0) throw new Error('database down');
      written.push(...batch);
    },
    onError: (_error, pending) => errors.push(pending),
  });
  buffer.push(1);
  buffer.push(2);
  await buffer.flush();
  t.strictSame(written, [], 'nothing written while the database is down');
  t.strictSame(errors, [2], 'the failure is reported with what is pending');
  buffer.push(3);
  await buffer.close();
  t.strictSame(written, [1, 2, 3], 'retried, not dropped, and in order');
});

t.test('beyond capacity events are counted as dropped, never silently lost', async (t) => {
  const dropped: number[] = [];
  const buffer = createEventBuffer<number>({
    intervalMs: 60_000,
    batchSize: 100,
    capacity: 3,
    write: async () => {
      throw new Error('down');
    },
    onDrop: (count) => dropped.push(count),
  });
  for (let i = 0; i < 5; i++) buffer.push(i);
  t.equal(buffer.pending, 3);
  t.equal(buffer.dropped, 2);
  t.strictSame(dropped, [1, 1]);
  await buffer.flush();
  t.equal(buffer.pending, 3, 'a failed batch goes back within capacity');
});

t.test('the timer flushes without being asked', async (t) => {
  const written: number[] = [];
  const buffer = createEventBuffer<number>({ intervalMs: 20, write: async (batch) => void written.push(...batch) });
  t.teardown(() => buffer.close());
  buffer.push(42);
  for (let i = 0; i < 50 && written.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  t.strictSame(written, [42]);
});

t.test('a refused event is isolated and dropped; the rest of its batch is written, in order', async (t) => {
  const written: number[] = [];
  const errors: unknown[] = [];
  const refusal = Object.assign(new Error('invalid input syntax'), { code: '22P02' });
  const buffer = createEventBuffer<number>({
    intervalMs: 60_000,
    batchSize: 8,
    write: async (batch) => {
      if (batch.includes(5) || batch.includes(6)) throw refusal;
      written.push(...batch);
    },
    isRefusal: (error) => error === refusal,
    onError: (error) => errors.push(error),
  });
  for (let i = 0; i < 10; i++) buffer.push(i);
  await buffer.flush();
  t.strictSame(written, [0, 1, 2, 3, 4, 7, 8, 9]);
  t.equal(buffer.dropped, 2);
  t.equal(buffer.pending, 0);
  t.strictSame(errors, [refusal, refusal], 'each dropped event is reported');
});

t.test('any other failure while isolating keeps what is unwritten for the next flush, in order', async (t) => {
  const written: number[] = [];
  const refusal = new Error('refused');
  let down = false;
  let goesDown = true;
  const buffer = createEventBuffer<number>({
    intervalMs: 60_000,
    batchSize: 8,
    write: async (batch) => {
      if (down) throw new Error('database down');
      if (batch.includes(1)) {
        // The first time, the store goes down while the refused batch is being split.
        if (batch.length < 8 && goesDown) [down, goesDown] = [true, false];
        throw refusal;
      }
      written.push(...batch);
    },
    isRefusal: (error) => error === refusal,
  });
  for (let i = 0; i < 8; i++) buffer.push(i);
  await buffer.flush();
  t.strictSame(written, [], 'nothing written');
  t.equal(buffer.dropped, 0, 'nothing dropped: the store was down, not refusing');
  t.equal(buffer.pending, 8);
  down = false;
  await buffer.flush();
  t.strictSame(written, [0, 2, 3, 4, 5, 6, 7], 'retried in order once it is back; the refused event dropped');
  t.equal(buffer.dropped, 1);
});

t.test('without isRefusal every failure is retried, as before', async (t) => {
  let calls = 0;
  const buffer = createEventBuffer<number>({
    intervalMs: 60_000,
    write: async () => {
      calls++;
      throw Object.assign(new Error('refused'), { code: '22P02' });
    },
  });
  buffer.push(1);
  buffer.push(2);
  await buffer.flush();
  t.equal(calls, 1, 'no splitting');
  t.equal(buffer.pending, 2);
  t.equal(buffer.dropped, 0);
});
