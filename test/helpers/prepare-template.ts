/** tap `before` script: (re)creates the migrated template database every test database is cloned from. */
import { openDatabase } from '../../src/db/client.js';
import { migrateDatabase } from '../../src/db/migrate.js';
import { seedReferenceData } from '../../src/db/seed.js';
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
} finally {
  await handle.close();
}
