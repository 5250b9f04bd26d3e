/** Reads of the audit trail (writes go through the buffered writer in src/plugins/audit.ts). */
import { and, count, desc, eq, gte, lte } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { auditLogs } from '../../db/schema.js';

export interface AuditQuery {
  appId: string;
  eventType?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  offset: number;
  limit: number;
}

export function createAuditRepository(db: Db) {
  return {
    async list(query: AuditQuery) {
      const where = and(
        eq(auditLogs.appId, query.appId),
        query.eventType ? eq(auditLogs.eventType, query.eventType) : undefined,
        query.from ? gte(auditLogs.createdAt, query.from) : undefined,
        query.to ? lte(auditLogs.createdAt, query.to) : undefined,
      );
      const [rows, [total]] = await Promise.all([
        db.select().from(auditLogs).where(where).orderBy(desc(auditLogs.createdAt), desc(auditLogs.id)).limit(query.limit).offset(query.offset),
        db.select({ value: count() }).from(auditLogs).where(where),
      ]);
      return { rows, total: total?.value ?? 0 };
    },
  };
}

export type AuditRepository = ReturnType<typeof createAuditRepository>;
