/** Decorates `app.audit` with the buffered audit writer; flushed when the app closes. */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { type AuditLog, createAuditWriter } from '../db/audit-writer.js';
import type { Clock } from '../lib/clock.js';

export type { AuditEvent, AuditLog } from '../db/audit-writer.js';

declare module 'fastify' {
  interface FastifyInstance {
    audit: AuditLog;
  }
}

export default fp(
  async function auditPlugin(app: FastifyInstance, options: { config: Config; clock: Clock }) {
    const audit = createAuditWriter({
      db: app.db,
      clock: options.clock,
      intervalMs: options.config.AUDIT_FLUSH_INTERVAL_MS,
      onError: (error, pending) => app.log.error({ err: error, pending }, 'audit write failed; will retry'),
      onDrop: (dropped) => app.log.error({ dropped }, 'audit buffer full; events dropped'),
    });
    app.addHook('onClose', () => audit.close());
    app.decorate('audit', audit);
  },
  { name: 'audit', dependencies: ['db'] },
);
