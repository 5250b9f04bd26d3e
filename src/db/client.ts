/**
 * One Db type over two drivers: postgres.js against a real server, or embedded PGlite when
 * DATABASE_URL is unset. Both are Drizzle PgDatabase instances, so repositories never know which.
 */
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import * as schema from './schema.js';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface DatabaseHandle {
  db: Db;
  /** "postgres" or "pglite (<dir>)", for the start-up line and /health. */
  description: string;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl?: string | undefined;
  pgliteDataDir: string;
  /** Pool size for postgres.js. */
  maxConnections?: number;
}

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl) {
    const { default: postgres } = await import('postgres');
    const { drizzle } = await import('drizzle-orm/postgres-js');
    const client = postgres(options.databaseUrl, {
      max: options.maxConnections ?? 10,
      onnotice: () => {},
      connect_timeout: 5,
    });
    return {
      db: drizzle(client, { schema }) as unknown as Db,
      description: `postgres (${new URL(options.databaseUrl).host})`,
      close: () => client.end({ timeout: 5 }),
    };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const dataDir = options.pgliteDataDir;
  if (dataDir !== 'memory://') {
    const { mkdir } = await import('node:fs/promises');
    await mkdir(dataDir, { recursive: true });
  }
  const client = new PGlite(dataDir);
  return {
    db: drizzle(client, { schema }) as unknown as Db,
    description: `pglite (${dataDir})`,
    close: () => client.close(),
  };
}

/** Postgres SQLSTATE of an error from either driver, unwrapping Drizzle's query error. */
export function pgErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 3 && current && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

export const PG_UNIQUE_VIOLATION = '23505';
