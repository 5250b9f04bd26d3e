/**
 * Opens Postgres (or embedded PGlite), applies migrations, loads the starter reference data when
 * configured, and decorates `app.db`.
 * Closed on app close.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { type DatabaseHandle, type Db, openDatabase } from '../db/client.js';
import { migrateDatabase } from '../db/migrate.js';
import { seedReferenceData } from '../db/seed.js';

declare module 'fastify' {
  interface FastifyInstance {
    db: Db;
    dbDescription: string;
  }
}

export default fp(
  async function dbPlugin(app: FastifyInstance, options: { config: Config; database?: DatabaseHandle }) {
    const { config } = options;
    const handle = options.database ?? (await openDatabase({ databaseUrl: config.DATABASE_URL, pgliteDataDir: config.PGLITE_DATA_DIR }));
    app.addHook('onClose', async () => {
      if (!options.database) await handle.close();
    });
    await migrateDatabase(config.DATABASE_URL, handle);
    if (config.SEED_REFERENCE_DATA) await seedReferenceData(handle.db);
    app.decorate('db', handle.db);
    app.decorate('dbDescription', handle.description);
  },
  { name: 'db' },
);
