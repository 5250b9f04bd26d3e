/** npm run db:seed: migrates, then loads the starter permission catalog and organizations (idempotent). */
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/client.js';
import { migrateDatabase } from '../src/db/migrate.js';
import { seedReferenceData } from '../src/db/seed.js';

const config = loadConfig();
const handle = await openDatabase({ databaseUrl: config.DATABASE_URL, pgliteDataDir: config.PGLITE_DATA_DIR, maxConnections: 1 });
try {
  await migrateDatabase(config.DATABASE_URL, handle);
  const added = await seedReferenceData(handle.db);
  process.stdout.write(`seeded ${handle.description}: ${added.permissions} permissions and ${added.organizations} organizations added\n`);
} finally {
  await handle.close();
}
