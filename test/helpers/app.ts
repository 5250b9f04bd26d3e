/**
 * Builds the real app for a test: its own database cloned from the template, its own Redis key
 * prefix, cheap argon2 parameters, and teardown registered on the test.
 */
import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { type AppOverrides, buildApp } from '../../src/app.js';
import { type Config, loadConfig } from '../../src/config.js';
import { createTestDatabase } from './database.js';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniquePrefix } from './redis.js';

export { deleteKeysWithPrefix, TEST_REDIS_URL } from './redis.js';

export interface TestContext {
  teardown(fn: () => unknown): void;
}

export interface TestApp {
  app: FastifyInstance;
  config: Config;
  /** A Redis client for assertions on the store (null on the in-process store). */
  redis: Redis | null;
  databaseUrl: string | undefined;
}

export interface TestAppOptions extends AppOverrides {
  env?: Record<string, string>;
  /** Run on embedded PGlite (in memory) and the in-process store instead of the servers. */
  embedded?: boolean;
}

/** Every test database is cloned with a signing key sealed under this (test/helpers/prepare-template.ts). */
export const TEST_SIGNING_KEY_ENCRYPTION_KEY = 'portcullis-test-signing-key-encryption-key';

export function testEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    JWT_SECRET: randomBytes(32).toString('base64url'),
    APP_SECRET_PEPPER: randomBytes(32).toString('base64url'),
    SIGNING_KEY_ENCRYPTION_KEY: TEST_SIGNING_KEY_ENCRYPTION_KEY,
    ARGON2_MEMORY_KIB: '1024',
    ARGON2_TIME_COST: '1',
    // Test files log in hundreds of times from one address; rate-limit tests set their own limits.
    RATE_LIMIT_DEFAULT: '100000/1m',
    RATE_LIMIT_LOGIN: '100000/1m',
    RATE_LIMIT_REFRESH: '100000/1m',
    RATE_LIMIT_TOKEN: '100000/1m',
    LOGIN_THROTTLE_AFTER: '1000',
    // Parallel test files on 2 cores (and PGlite's synchronous start) lag the loop past any sane
    // production threshold; shedding would turn that into random 503s.
    MAX_EVENT_LOOP_DELAY_MS: '0',
    // Parallel test processes keep both cores busy at normal priority: niced hashing threads
    // would get almost no CPU and a file of logins would time out (CI did, at nice 19).
    ARGON2_NICE: '0',
    ...extra,
  };
}

export async function buildTestApp(t: TestContext, options: TestAppOptions = {}): Promise<TestApp> {
  const { env = {}, embedded = false, ...overrides } = options;
  const prefix = uniquePrefix();
  const database = embedded ? undefined : await createTestDatabase();
  const databaseUrl = database?.url;
  const config = loadConfig(
    testEnv({
      ...(embedded ? { PGLITE_DATA_DIR: 'memory://' } : { DATABASE_URL: databaseUrl!, REDIS_URL: TEST_REDIS_URL }),
      REDIS_KEY_PREFIX: prefix,
      ...env,
    }),
  );
  const redis = embedded ? null : new Redis(TEST_REDIS_URL);
  const cleanup = async (app?: FastifyInstance) => {
    await app?.close();
    if (redis) {
      await deleteKeysWithPrefix(redis, prefix);
      await redis.quit();
    }
    await database?.drop();
  };
  let app: FastifyInstance;
  try {
    app = await buildApp(config, overrides);
  } catch (error) {
    await cleanup();
    throw error;
  }
  t.teardown(() => cleanup(app));
  return { app, config, redis, databaseUrl };
}
