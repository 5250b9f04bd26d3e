/** npm run db:migrate: applies drizzle/ migrations to DATABASE_URL (or the embedded PGlite directory). */
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/client.js';
import { migrateDatabase } from '../src/db/migrate.js';

const config = loadConfig();
if (config.DATABASE_URL) {
  await migrateDatabase(config.DATABASE_URL);
} else {
  const handle = await openDatabase({ pgliteDataDir: config.PGLITE_DATA_DIR });
  await migrateDatabase(undefined, handle);
  await handle.close();
}
process.stdout.write(`migrations applied (${config.DATABASE_URL ? 'postgres' : `pglite ${config.PGLITE_DATA_DIR}`})\n`);
