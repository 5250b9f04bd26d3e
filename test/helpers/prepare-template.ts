/** tap `before` script: (re)creates the migrated template database every test database is cloned from. */
import { openDatabase } from '../../src/db/client.js';
import { migrateDatabase } from '../../src/db/migrate.js';
import { seedReferenceData } from '../../src/db/seed.js';
import { createSigningKeyRepository } from '../../src/db/signing-key-repository.js';
import { TEST_SIGNING_KEY_ENCRYPTION_KEY } from './app.js';
import { adminClient, databaseUrl, TEMPLATE_DATABASE } from './database.js';

const sql = adminClient();
try {
  await sql.unsafe(`drop database if exists "${TEMPLATE_DATABASE}" with (force)`);
  await sql.unsafe(`create database "${TEMPLATE_DATABASE}"`);
} finally {
  await sql.end();
}
await migrateDatabase(databaseUrl(TEMPLATE_DATABASE));
// Reference data in the template, so every test database starts with the starter catalog.
const handle = await openDatabase({ databaseUrl: databaseUrl(TEMPLATE_DATABASE), pgliteDataDir: 'memory://', maxConnections: 1 });
try {
  await seedReferenceData(handle.db);
  // One RS256 key for every test database, so each test app does not generate its own.
  await createSigningKeyRepository(handle.db, TEST_SIGNING_KEY_ENCRYPTION_KEY).ensure('RS256', new Date(Date.now() - 3_600_000), 0, 0);
} finally {
  await handle.close();
}
