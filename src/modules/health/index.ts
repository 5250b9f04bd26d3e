/** Liveness and readiness for orchestrators. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { sql } from 'drizzle-orm';
import { Type } from 'typebox';
import { expectedMigrationCount } from '../../db/migrate.js';
import { ErrorResponseSchema } from '../../lib/http-schemas.js';

const HealthSchema = Type.Object({
  status: Type.Enum(['ok', 'unavailable']),
  checks: Type.Optional(Type.Record(Type.String(), Type.Enum(['ok', 'down']))),
});
// A 503 is either this route's own answer or one of ours from before the handler: load shedding
// (@fastify/under-pressure) or a closing server. Without the error shape here, serializing those
// failed and the probe read 500.
const NotReadySchema = Type.Union([HealthSchema, ErrorResponseSchema]);

const healthModule: FastifyPluginAsyncTypebox = async (app) => {
  const expectedMigrations = await expectedMigrationCount();
  // Ready means reachable and migrated: drizzle records each applied migration in this table.
  const databaseCheck = async () => {
    const result = await app.db.execute<{ applied: number }>(sql`select count(*)::int as applied from drizzle.__drizzle_migrations`);
    const applied = Number((result as unknown as { rows?: { applied: number }[] }).rows?.[0]?.applied ?? (result as unknown as { applied: number }[])[0]?.applied);
    return applied >= expectedMigrations ? ('ok' as const) : ('down' as const);
  };

  app.get('/health/live', { config: { rateLimit: false }, schema: { tags: ['health'], response: { 200: HealthSchema } } }, async () => ({ status: 'ok' as const }));

  app.get('/health/ready', { config: { rateLimit: false }, schema: { tags: ['health'], response: { 200: HealthSchema, 503: NotReadySchema } } }, async (_request, reply) => {
    const [database, store] = await Promise.all([
      databaseCheck().catch(() => 'down' as const),
      app.kv.kind === 'memory' ? ('ok' as const) : app.kv.client.ping().then(() => 'ok' as const, () => 'down' as const),
    ]);
    const ready = database === 'ok' && store === 'ok';
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ok' : 'unavailable', checks: { database, store } });
  });
};

export default healthModule;
