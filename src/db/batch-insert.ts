/**
 * Batched inserts for the event writers (audit_logs, auth_events): the whole batch travels as one
 * JSON parameter and Postgres unpacks it with jsonb_to_recordset. Drizzle's insert().values() of
 * a 500-row batch builds a query of thousands of bound values, and did so for 19% of the CPU of
 * a token issuance in a profile (two rows per token); this builds one short statement per table
 * and serialises the rows with JSON.stringify. Same SQL on postgres.js and PGlite.
 *
 * Columns a batch leaves out get their database defaults (ids, timestamps); a column some rows
 * leave out gets the column's JavaScript default (details' {}), else NULL. A column whose default
 * only the database computes must be set by every row of a batch or by none.
 *
 * Postgres's JSON parser refuses a NUL and an unpaired surrogate anywhere in the parameter, which
 * would fail the whole batch on every retry and stop the trail behind it; both become U+FFFD (the
 * replacement postgres.js makes for a surrogate in a bound text value).
 */
import { getTableColumns, is, SQL, sql } from 'drizzle-orm';
import { getTableConfig, type PgColumn, type PgTable } from 'drizzle-orm/pg-core';
import type { Db } from './client.js';

interface ColumnPlan {
  property: string;
  name: string;
  sqlType: string;
  /** The JavaScript default (a value, objects included), null if none. */
  fallback: unknown;
  /** A default only the database can compute (gen_random_uuid(), now()). */
  sqlDefault: boolean;
}

const plans = new WeakMap<PgTable, { table: string; columns: ColumnPlan[] }>();

function planFor(table: PgTable) {
  let plan = plans.get(table);
  if (!plan) {
    const config = getTableConfig(table);
    const columns = Object.entries(getTableColumns(table) as Record<string, PgColumn>).map(([property, column]) => {
      const sqlDefault = is(column.default, SQL);
      return { property, name: column.name, sqlType: column.getSQLType(), fallback: column.default === undefined || sqlDefault ? null : column.default, sqlDefault };
    });
    plan = { table: config.schema ? `"${config.schema}"."${config.name}"` : `"${config.name}"`, columns };
    plans.set(table, plan);
  }
  return plan;
}

/**
 * JSON.stringify writes a NUL as the escape \u0000 and an unpaired surrogate as \udXXX (paired
 * ones stay raw characters), so both are found in its output as escapes: a backslash that is not
 * itself escaped (an even run before it), then one of those. Done on the text, not with a
 * replacer: a replacer function takes JSON.stringify off its fast path for every value of every
 * row, and most batches hold no escape at all.
 */
const UNSAFE_ESCAPE = /(?<!\\)((?:\\\\)*)\\u(?:0000|d[89a-f][0-9a-f]{2})/g;
const toSafeJson = (value: unknown): string => {
  const json = JSON.stringify(value);
  return json.includes('\\u') ? json.replace(UNSAFE_ESCAPE, '$1\\ufffd') : json;
};

/** Inserts `rows` (Drizzle insert shapes: property names, Date for timestamps) in one statement. */
export async function insertBatch<T extends PgTable>(db: Db, table: T, rows: ReadonlyArray<T['$inferInsert']>): Promise<void> {
  if (rows.length === 0) return;
  const plan = planFor(table);
  const present = plan.columns.filter((column) => rows.some((row) => (row as Record<string, unknown>)[column.property] !== undefined));
  for (const column of present) {
    if (column.sqlDefault && rows.some((row) => (row as Record<string, unknown>)[column.property] === undefined)) {
      throw new Error(`insertBatch: ${plan.table}.${column.name} has a database default, so every row of a batch sets it or none does`);
    }
  }
  const records = rows.map((row) => {
    const record: Record<string, unknown> = {};
    for (const column of present) {
      const value = (row as Record<string, unknown>)[column.property];
      record[column.name] = value === undefined ? column.fallback : value instanceof Date ? value.toISOString() : value;
    }
    return record;
  });
  const names = present.map((column) => `"${column.name}"`).join(', ');
  const types = present.map((column) => `"${column.name}" ${column.sqlType}`).join(', ');
  await db.execute(sql`insert into ${sql.raw(plan.table)} (${sql.raw(names)}) select ${sql.raw(names)} from jsonb_to_recordset(${toSafeJson(records)}::jsonb) as batch(${sql.raw(types)})`);
}
