/** Redis helpers for tests: a unique key prefix per store or app, cleanup by SCAN, command counting. */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Short enough for REDIS_KEY_PREFIX's pattern, unique per call. */
export const uniquePrefix = () => `t:${randomUUID().replaceAll('-', '').slice(0, 20)}:`;

/** Deletes one prefix's keys; SCAN, never KEYS. */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** Names of the commands `client` sends while `action` runs (round-trip budgets are asserted with it). */
export async function commandsSentBy(client: Redis, action: () => Promise<unknown>): Promise<string[]> {
  const sent: string[] = [];
  const original = client.sendCommand;
  client.sendCommand = function (this: Redis, ...args: Parameters<Redis['sendCommand']>) {
    sent.push(args[0].name);
    return original.apply(this, args);
  };
  try {
    await action();
  } finally {
    client.sendCommand = original;
  }
  return sent;
}
