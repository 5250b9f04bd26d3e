/**
 * A private redis-server for the phases that fill Redis (memory per record, /me with 1,000,000
 * sessions). On the shared Redis those phases measure other clients too: every SCAN-based cleanup
 * of other test runs walks the whole keyspace, so a million extra sessions made Redis spend ~10x
 * the CPU per /me request (and slowed everyone's tests), and INFO's used_memory moves with their
 * keys. The private instance runs the configured Redis's own binary (INFO server `executable`)
 * with its encoding, rehashing and lazy-free settings copied over, persistence off.
 */
import type { Redis as RedisClient } from 'ioredis';
import { Redis } from 'ioredis';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort } from './processes.js';

const MIRRORED = [
  'hash-max-listpack-entries',
  'hash-max-listpack-value',
  'zset-max-listpack-entries',
  'zset-max-listpack-value',
  'set-max-intset-entries',
  'list-max-listpack-size',
  'hz',
  'activerehashing',
  'lazyfree-lazy-user-del',
  'lazyfree-lazy-expire',
  'lazyfree-lazy-server-del',
  'maxmemory-policy',
];

export interface PrivateRedis {
  url: string;
  client: RedisClient;
  /** What was copied from the configured Redis, for the report. */
  description: string;
  stop(): Promise<void>;
}

/** Starts one like `configured`; null when no redis-server binary can be found (the caller skips its phases). */
export async function startPrivateRedis(configured: RedisClient): Promise<PrivateRedis | null> {
  const server = await configured.info('server');
  const executable = /^executable:(.+)$/m.exec(server)?.[1]?.trim();
  const binary = executable && existsSync(executable) ? executable : 'redis-server';
  const args: string[] = [];
  for (const name of MIRRORED) {
    const [, value] = (await configured.config('GET', name)) as [string?, string?];
    if (value !== undefined && value !== '') args.push(`--${name}`, value);
  }
  const port = await freePort();
  const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...args], { stdio: 'ignore' });
  const failed = await new Promise<boolean>((resolve) => {
    child.once('error', () => resolve(true));
    child.once('spawn', () => resolve(false));
  });
  if (failed) return null;
  // Stopped with the run even if the run is killed (see startServer's watchdog).
  spawn('sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${child.pid} 2>/dev/null; do sleep 1; done; kill -0 ${process.pid} 2>/dev/null || kill -TERM ${child.pid} 2>/dev/null`], { detached: true, stdio: 'ignore' }).unref();
  const url = `redis://127.0.0.1:${port}`;
  // Not lazyConnect + connect(): that rejects on the first refused attempt, and the server may
  // not listen yet. The retry strategy keeps trying until it does (or exits).
  const client = new Redis(url, { retryStrategy: (attempt) => (attempt > 50 ? null : 100) });
  client.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('end', () => reject(new Error(`private redis-server on port ${port} did not come up`)));
    child.once('exit', (code) => reject(new Error(`private redis-server exited with ${code}`)));
  });
  const version = /^redis_version:(.+)$/m.exec(await client.info('server'))?.[1]?.trim() ?? '?';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url,
    client,
    description: `a private redis-server ${version} (${binary}) with the configured Redis's ${MIRRORED.filter((name) => args.includes(`--${name}`)).join(', ')}`,
    async stop() {
      await client.quit().catch(() => client.disconnect());
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
