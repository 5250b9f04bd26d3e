/**
 * The Redis connection, or the decision to run without one. Commands fail fast instead of queueing
 * while disconnected (an auth service must answer 503 quickly, not hang), and ioredis reconnects
 * by itself when Redis comes back.
 */
import { Redis } from 'ioredis';

export type KeyValueBackend = { kind: 'redis'; client: Redis; description: string } | { kind: 'memory'; description: string };

export interface RedisOptions {
  redisUrl?: string | undefined;
  commandTimeoutMs?: number;
}

export async function openKeyValueBackend(options: RedisOptions): Promise<KeyValueBackend> {
  if (!options.redisUrl) return { kind: 'memory', description: 'in-process store' };
  const client = new Redis(options.redisUrl, {
    lazyConnect: true,
    enableOfflineQueue: false,
    commandTimeout: options.commandTimeoutMs ?? 2000,
    connectTimeout: 2000,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  // Errors surface on the commands that fail; without a listener ioredis would log each reconnect attempt as unhandled.
  client.on('error', () => {});
  await client.connect();
  return { kind: 'redis', client, description: `redis (${new URL(options.redisUrl).host})` };
}

export async function closeKeyValueBackend(backend: KeyValueBackend): Promise<void> {
  if (backend.kind === 'redis') await backend.client.quit().catch(() => backend.client.disconnect());
}
