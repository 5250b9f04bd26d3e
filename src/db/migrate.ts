/**
 * Applies drizzle-kit's migrations. On a server it uses its own single-connection client (as
 * Drizzle advises) and holds an advisory lock, so several instances starting together migrate once.
 * PGlite is single-process, so it migrates through the handle the app already opened.
 */
import { fileURLToPath } from 'node:url';
import type { DatabaseHandle } from './client.js';

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle', import.meta.url));
const MIGRATION_LOCK_ID = 7_303_011; // arbitrary, fixed: "pc" migrations

/** How many migrations this build ships (drizzle-kit's journal); readiness compares the database against it. */
export async function expectedMigrationCount(): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const journal = JSON.parse(await readFile(`${MIGRATIONS_FOLDER}/meta/_journal.json`, 'utf8')) as { entries: unknown[] };
  return journal.entries.length;
}

export async function migrateDatabase(databaseUrl: string | undefined, handle?: DatabaseHandle): Promise<void> {
  if (!databaseUrl) {
    if (!handle) throw new Error('PGlite migrations need the open database handle');
    const { migrate } = await import('drizzle-orm/pglite/migrator');
    await migrate(handle.db as never, { migrationsFolder: MIGRATIONS_FOLDER });
    return;
  }
  const { default: postgres } = await import('postgres');
  const { drizzle } = await import('drizzle-orm/postgres-js');
  const { migrate } = await import('drizzle-orm/postgres-js/migrator');
  const client = postgres(databaseUrl, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    await client`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
    await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_FOLDER });
  } finally {
    await client`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`.catch(() => {});
    await client.end({ timeout: 5 });
  }
}
