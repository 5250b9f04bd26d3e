/**
 * insertBatch (the event writers' one-statement batch insert) on Postgres and on PGlite: every
 * column type the event tables use round-trips, left-out columns get their defaults, rows that
 * omit an optional field get NULL, and awkward text (quotes, backslashes, non-Latin, emoji, JSON
 * look-alikes) arrives byte for byte.
 */
import t, { type Test } from 'tap';
import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { createAuditWriter } from '../../src/db/audit-writer.js';
import { insertBatch } from '../../src/db/batch-insert.js';
import { type DatabaseHandle, openDatabase } from '../../src/db/client.js';
import { migrateDatabase } from '../../src/db/migrate.js';
import { auditLogs, authEvents } from '../../src/db/schema.js';
import { systemClock } from '../../src/lib/clock.js';
import { isRowRefusal } from '../../src/lib/dependency-errors.js';
import { createTestDatabase } from '../helpers/database.js';

const AWKWARD = [`it's "quoted" \\ back\\slash`, 'Jürgen Weiß — 東京 🚀', '{"looks":"like json"}', '$1 and ? and %s', ' padded '];

async function contract(t: Test, handle: DatabaseHandle) {
  const db = handle.db;

  t.test('audit rows: every column round-trips; id and defaults come from the database', async (t) => {
    const appId = randomUUID();
    const at = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
    const rows = AWKWARD.map((text, i) => ({
      appId,
      eventType: `test.event.${i}`,
      actor: text,
      ip: i % 2 === 0 ? '203.0.113.7' : null,
      requestId: i === 0 ? undefined : `req-${i}`,
      details: { text, nested: { list: [1, 'two', null, true] }, i },
      createdAt: new Date(at.getTime() + i),
    }));
    await insertBatch(db, auditLogs, rows);
    const stored = await db.select().from(auditLogs).where(eq(auditLogs.appId, appId)).orderBy(auditLogs.createdAt);
    t.equal(stored.length, rows.length);
    stored.forEach((row, i) => {
      t.match(row.id, /^[0-9a-f-]{36}$/, 'id from the database default');
      t.equal(row.actor, AWKWARD[i], `text ${i} byte for byte`);
      t.equal(row.eventType, `test.event.${i}`);
      t.equal(row.ip, i % 2 === 0 ? '203.0.113.7' : null);
      t.equal(row.requestId, i === 0 ? null : `req-${i}`, 'an omitted optional field is NULL');
      t.strictSame(row.details, { text: AWKWARD[i], nested: { list: [1, 'two', null, true] }, i });
      t.equal(row.createdAt.getTime(), at.getTime() + i, 'milliseconds kept');
    });
    t.equal(new Set(stored.map((row) => row.id)).size, rows.length, 'distinct ids');
  });

  t.test('auth events: integers, uuids, and columns no row sets take their defaults', async (t) => {
    const userId = randomUUID();
    const before = Date.now();
    await insertBatch(db, authEvents, [
      { kind: 'denied', reason: 'TOKEN_EXPIRED', status: 401, userId, sessionId: randomUUID(), method: 'GET', route: '/api/auth/me', ip: '::1', count: 3, details: {} },
      { kind: 'login.succeeded', userId, userAgent: AWKWARD[1], count: 1, details: { folded: false } },
      { kind: 'logout', userId },
    ]);
    const stored = await db.select().from(authEvents).where(eq(authEvents.userId, userId)).orderBy(authEvents.kind);
    t.equal(stored.length, 3);
    const [denied, login, logout] = stored;
    t.match(denied, { kind: 'denied', reason: 'TOKEN_EXPIRED', status: 401, method: 'GET', route: '/api/auth/me', ip: '::1', count: 3, userAgent: null });
    t.match(login, { kind: 'login.succeeded', reason: null, status: null, sessionId: null, userAgent: AWKWARD[1], count: 1 });
    t.strictSame(login!.details, { folded: false });
    t.match(logout, { kind: 'logout', count: 1, details: {} }, 'fields a row leaves out take their JavaScript defaults (count 1, details {})');
    t.ok(denied!.occurredAt.getTime() >= before - 5_000, 'occurred_at from the database default (now)');
  });

  t.test('a database-computed default set by only some rows is refused before anything is sent', async (t) => {
    const appId = randomUUID();
    await t.rejects(insertBatch(db, auditLogs, [{ appId, eventType: 'a', actor: 'system', createdAt: new Date() }, { appId, eventType: 'b', actor: 'system' }]), /every row of a batch sets it or none does/);
    t.equal((await db.select().from(auditLogs).where(eq(auditLogs.appId, appId))).length, 0);
  });

  // Regression: Postgres's JSON parser refuses these, so one such event failed its batch on every retry.
  t.test('a NUL or an unpaired surrogate becomes U+FFFD instead of failing the batch; pairs survive', async (t) => {
    const appId = randomUUID();
    await insertBatch(db, auditLogs, [
      { appId, eventType: 'a', actor: 'client:\ud800x', details: { note: 'nul\u0000here', low: '\udc00' } },
      { appId, eventType: 'b', actor: 'client:ok 🚀', details: {} },
      // Backslashes that only look like escapes in the JSON text stay as they are.
      { appId, eventType: 'c', actor: 'client:\\u0000 \\\ud800', details: { text: '\\\\u0000', tail: '\\' } },
    ]);
    const stored = await db.select().from(auditLogs).where(eq(auditLogs.appId, appId)).orderBy(auditLogs.eventType);
    t.equal(stored.length, 3, 'the whole batch was written');
    t.equal(stored[0]!.actor, 'client:\ufffdx');
    t.strictSame(stored[0]!.details, { note: 'nul\ufffdhere', low: '\ufffd' });
    t.equal(stored[1]!.actor, 'client:ok 🚀', 'a surrogate pair is kept');
    t.equal(stored[2]!.actor, 'client:\\u0000 \\\ufffd', 'a literal backslash-u is text; the surrogate after a backslash is still replaced');
    t.strictSame(stored[2]!.details, { text: '\\\\u0000', tail: '\\' });
  });

  t.test('an empty batch writes nothing; a bad row fails the whole batch', async (t) => {
    const appId = randomUUID();
    await insertBatch(db, auditLogs, []);
    await t.rejects(insertBatch(db, auditLogs, [
      { appId, eventType: 'ok', actor: 'system', details: {} },
      { appId: 'not-a-uuid', eventType: 'bad', actor: 'system', details: {} },
    ]));
    t.equal((await db.select().from(auditLogs).where(eq(auditLogs.appId, appId))).length, 0, 'nothing of the failed batch was written');
  });

  t.test('the audit writer drops only the row Postgres refuses, and the trail behind it goes on', async (t) => {
    const appId = randomUUID();
    const errors: unknown[] = [];
    const writer = createAuditWriter({ db, clock: systemClock, intervalMs: 60_000, onError: (error) => errors.push(error) });
    t.teardown(() => writer.close());
    for (let i = 0; i < 6; i++) writer.record({ appId: i === 3 ? 'not-a-uuid' : appId, eventType: `refusal.${i}`, actor: 'system' });
    await writer.flush();
    const stored = await db.select().from(auditLogs).where(eq(auditLogs.appId, appId)).orderBy(auditLogs.eventType);
    t.strictSame(stored.map((row) => row.eventType), ['refusal.0', 'refusal.1', 'refusal.2', 'refusal.4', 'refusal.5'], 'every other row of the batch was written');
    t.equal(writer.buffer.dropped, 1, 'the refused row is counted as dropped');
    t.equal(writer.buffer.pending, 0, 'and not retried for ever');
    t.equal(errors.length, 1, 'and reported');
    t.ok(isRowRefusal(errors[0]), 'as a refusal of the row (SQLSTATE class 22)');
    writer.record({ appId, eventType: 'refusal.later', actor: 'system' });
    await writer.flush();
    t.equal((await db.select().from(auditLogs).where(eq(auditLogs.appId, appId))).length, 6, 'a later event is written');
  });
}

t.test('on Postgres', async (t) => {
  const database = await createTestDatabase();
  t.teardown(database.drop);
  const handle = await openDatabase({ databaseUrl: database.url, pgliteDataDir: 'memory://', maxConnections: 2 });
  t.teardown(() => handle.close());
  await contract(t, handle);
});

t.test('on PGlite', async (t) => {
  const handle = await openDatabase({ pgliteDataDir: 'memory://' });
  t.teardown(() => handle.close());
  await migrateDatabase(undefined, handle);
  await contract(t, handle);
});
