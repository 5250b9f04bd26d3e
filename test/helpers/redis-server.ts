/** A throwaway redis-server on a free port, for tests that stop and restart Redis. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function createRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;
  return {
    url,
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => {});
      for (let attempt = 0; attempt < 100; attempt++) {
        try {
          await probe.connect();
          await probe.ping();
          probe.disconnect();
          return;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      throw new Error(`redis-server on ${port} did not start`);
    },
    async stop() {
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * A started throwaway redis-server (stopped when the test ends) and a client on it, which the test
 * can fill: `fill()` sets maxmemory 1 with noeviction, so every write that may grow memory is
 * refused with OOM; `free()` lifts the limit.
 */
export async function startRedisToFill(t: { teardown(fn: () => unknown): void }) {
  const server = await createRedisServer();
  await server.start();
  t.teardown(() => server.stop());
  const redis = new Redis(server.url, { maxRetriesPerRequest: 0 });
  t.teardown(() => redis.disconnect());
  return {
    url: server.url,
    redis,
    async fill() {
      await redis.config('SET', 'maxmemory-policy', 'noeviction');
      await redis.config('SET', 'maxmemory', '1');
    },
    free: () => redis.config('SET', 'maxmemory', '0'),
  };
}
