/**
 * The Redis client's write coalescing (src/redis/client.ts): the commands of one event-loop turn
 * leave in one socket write; a command issued from any phase still completes promptly; pipelines
 * and MULTI keep working. Against the real Redis.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { closeKeyValueBackend, openKeyValueBackend } from '../../src/redis/client.js';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';

async function openClient(t: Test) {
  const backend = await openKeyValueBackend({ redisUrl: TEST_REDIS_URL });
  if (backend.kind !== 'redis') throw new Error('expected Redis');
  const prefix = uniquePrefix();
  t.teardown(async () => {
    await deleteKeysWithPrefix(backend.client, prefix);
    await closeKeyValueBackend(backend);
  });
  return { client: backend.client, prefix };
}

/** Counts the socket-level writes (one per write syscall) while `action` runs. */
async function socketWrites(client: unknown, action: () => Promise<unknown>): Promise<number> {
  const socket = (client as { stream: { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void } }).stream;
  let writes = 0;
  const { _write, _writev } = socket;
  socket._write = function (this: unknown, ...args: unknown[]) {
    writes++;
    return _write.apply(this, args);
  };
  socket._writev = function (this: unknown, ...args: unknown[]) {
    writes++;
    return _writev.apply(this, args);
  };
  try {
    await action();
  } finally {
    socket._write = _write;
    socket._writev = _writev;
  }
  return writes;
}

t.test('twenty commands issued in one turn leave in one write, and every reply is right', async (t) => {
  const { client, prefix } = await openClient(t);
  await Promise.all(Array.from({ length: 20 }, (_, i) => client.set(`${prefix}k${i}`, `v${i}`)));
  let values: (string | null)[] = [];
  const writes = await socketWrites(client, async () => {
    values = await Promise.all(Array.from({ length: 20 }, (_, i) => client.get(`${prefix}k${i}`)));
  });
  t.equal(writes, 1, 'one socket write for the turn');
  t.strictSame(values, Array.from({ length: 20 }, (_, i) => `v${i}`));
});

t.test('commands of different turns are separate writes; each completes', async (t) => {
  const { client, prefix } = await openClient(t);
  const writes = await socketWrites(client, async () => {
    t.equal(await client.set(`${prefix}a`, '1'), 'OK');
    t.equal(await client.get(`${prefix}a`), '1');
  });
  t.equal(writes, 2);
});

t.test('a command issued from setImmediate, a timer or a microtask completes without waiting for other traffic', async (t) => {
  const { client, prefix } = await openClient(t);
  await client.set(`${prefix}x`, 'y');
  const fromImmediate = await new Promise((resolve, reject) => setImmediate(() => client.get(`${prefix}x`).then(resolve, reject)));
  const fromTimer = await new Promise((resolve, reject) => setTimeout(() => client.get(`${prefix}x`).then(resolve, reject), 1));
  await nextTurn();
  const fromMicrotask = await Promise.resolve().then(() => client.get(`${prefix}x`));
  t.strictSame([fromImmediate, fromTimer, fromMicrotask], ['y', 'y', 'y']);
});

t.test('a MULTI, a pipeline and plain commands of one turn share one write', async (t) => {
  const { client, prefix } = await openClient(t);
  let replies: unknown[] = [];
  const writes = await socketWrites(client, async () => {
    // The MULTI first: it is what corks the turn.
    replies = await Promise.all([
      client.multi().set(`${prefix}a`, '1').incr(`${prefix}a`).exec(),
      client.pipeline().incr(`${prefix}a`).exec(),
      client.get(`${prefix}a`),
    ]);
  });
  t.equal(writes, 1, 'one socket write for the turn');
  t.strictSame(replies, [[[null, 'OK'], [null, 2]], [[null, 3]], '3'], 'in issue order, the MULTI whole');
});

t.test('MULTI and pipelines still run as units', async (t) => {
  const { client, prefix } = await openClient(t);
  const multi = await client.multi().set(`${prefix}m`, '1').incr(`${prefix}m`).exec();
  t.strictSame(multi, [[null, 'OK'], [null, 2]]);
  const [pipelined, single] = await Promise.all([client.pipeline().get(`${prefix}m`).del(`${prefix}m`).exec(), client.exists(`${prefix}m`)]);
  t.strictSame(pipelined, [[null, '2'], [null, 1]]);
  t.equal(single, 0, 'the command issued after the pipeline in the same turn runs after it');
});
