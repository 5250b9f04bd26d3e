/** A running app on a fresh database and Redis prefix, and the operator CLI as a child process against the same. */
import type { Test } from 'tap';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { deleteKeysWithPrefix, TEST_REDIS_URL, testEnv } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/database.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function appWithCli(t: Test, extraEnv: Record<string, string> = {}) {
  const database = await createTestDatabase();
  const env = testEnv({ DATABASE_URL: database.url, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: `t:${randomUUID().replaceAll('-', '').slice(0, 20)}:`, ...extraEnv });
  const app = await buildApp(loadConfig(env));
  const redis = new Redis(TEST_REDIS_URL);
  t.teardown(async () => {
    await app.close();
    await deleteKeysWithPrefix(redis, env.REDIS_KEY_PREFIX!);
    await redis.quit();
    await database.drop();
  });
  const cli = async (...args: string[]): Promise<CliResult> => {
    try {
      const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'scripts/cli.ts', ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env } });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  };
  return { app, env, database, cli };
}
