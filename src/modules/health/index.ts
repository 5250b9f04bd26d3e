/** Liveness and readiness for orchestrators. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { sql } from 'drizzle-orm';
import { Type } from 'typebox';

const HealthSchema = Type.Object({
  status: Type.Enum(['ok', 'unavailable']),
  checks: Type.Optional(Type.Record(Type.String(), Type.Enum(['ok', 'down']))),
});

const healthModule: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/health/live', { config: { rateLimit: false }, schema: { tags: ['health'], response: { 200: HealthSchema } } }, async () => ({ status: 'ok' as const }));

  app.get('/health/ready', { config: { rateLimit: false }, schema: { tags: ['health'], response: { 200: HealthSchema, 503: HealthSchema } } }, async (_request, reply) => {
    const [database, store] = await Promise.all([
      app.db.execute(sql`select 1`).then(() => 'ok' as const, () => 'down' as const),
      app.kv.kind === 'memory' ? ('ok' as const) : app.kv.client.ping().then(() => 'ok' as const, () => 'down' as const),
    ]);
    const ready = database === 'ok' && store === 'ok';
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ok' : 'unavailable', checks: { database, store } });
  });
};

export default healthModule;
