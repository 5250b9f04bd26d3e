/**
 * Organizations, the permission catalog and route permissions: reference data that admins assign
 * to apps. Reads only; the seed command and migrations fill them.
 */
import { and, asc, count, eq, ilike, inArray, or, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { type OrganizationRow, organizations, type PermissionRow, permissions } from '../../db/schema.js';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const contains = (value: string) => `%${value.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;

export function createCatalogRepository(db: Db) {
  return {
    /** Resolves organization references (ids or codes); `missing` lists the references that match nothing. */
    async resolveOrganizations(refs: string[], tx: Db = db): Promise<{ found: Map<string, OrganizationRow>; missing: string[] }> {
      const unique = [...new Set(refs)];
      const ids = unique.filter((ref) => UUID_PATTERN.test(ref)).map((ref) => ref.toLowerCase());
      const conditions: SQL[] = [inArray(organizations.code, unique)];
      if (ids.length > 0) conditions.push(inArray(organizations.id, ids));
      const rows = unique.length === 0 ? [] : await tx.select().from(organizations).where(or(...conditions));
      const found = new Map<string, OrganizationRow>();
      for (const ref of unique) {
        const row = rows.find((candidate) => candidate.code === ref || candidate.id === ref.toLowerCase());
        if (row) found.set(ref, row);
      }
      return { found, missing: unique.filter((ref) => !found.has(ref)) };
    },

    async findPermissionsByCodes(codes: string[], tx: Db = db): Promise<{ found: PermissionRow[]; missing: string[] }> {
      const unique = [...new Set(codes)];
      const found = unique.length === 0 ? [] : await tx.select().from(permissions).where(inArray(permissions.permissionCode, unique));
      const known = new Set(found.map((row) => row.permissionCode));
      return { found, missing: unique.filter((code) => !known.has(code)) };
    },

    async listOrganizations(options: { q?: string | undefined; offset: number; limit: number }) {
      const search: SQL[] = [];
      if (options.q) {
        search.push(ilike(organizations.code, contains(options.q)), ilike(organizations.name, contains(options.q)));
        if (UUID_PATTERN.test(options.q)) search.push(eq(organizations.id, options.q.toLowerCase()));
      }
      const where = and(eq(organizations.isActive, true), search.length > 0 ? or(...search) : undefined);
      const [rows, [total]] = await Promise.all([
        db.select().from(organizations).where(where).orderBy(asc(organizations.code)).limit(options.limit).offset(options.offset),
        db.select({ value: count() }).from(organizations).where(where),
      ]);
      return { rows, total: total?.value ?? 0 };
    },

    async listPermissions(options: { moduleCode?: string | undefined; q?: string | undefined; offset: number; limit: number }) {
      const pattern = options.q ? contains(options.q) : undefined;
      const where = and(
        options.moduleCode ? eq(permissions.moduleCode, options.moduleCode) : undefined,
        pattern
          ? or(
              ilike(permissions.permissionCode, pattern),
              ilike(permissions.resourceCode, pattern),
              ilike(permissions.actionCode, pattern),
              ilike(permissions.description, pattern),
            )
          : undefined,
      );
      const [rows, [total]] = await Promise.all([
        db.select().from(permissions).where(where).orderBy(asc(permissions.permissionCode)).limit(options.limit).offset(options.offset),
        db.select({ value: count() }).from(permissions).where(where),
      ]);
      return { rows, total: total?.value ?? 0 };
    },
  };
}

export type CatalogRepository = ReturnType<typeof createCatalogRepository>;
