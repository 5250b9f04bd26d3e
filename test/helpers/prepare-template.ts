/** tap `before` script: (re)creates the migrated template database every test database is cloned from. */
import { migrateDatabase } from '../../src/db/migrate.js';
import { adminClient, databaseUrl, TEMPLATE_DATABASE } from './database.js';

const sql = adminClient();
try {
  await sql.unsafe(`drop database if exists "${TEMPLATE_DATABASE}" with (force)`);
  await sql.unsafe(`create database "${TEMPLATE_DATABASE}"`);
} finally {
  await sql.end();
}
await migrateDatabase(databaseUrl(TEMPLATE_DATABASE));
