/**
 * Postgres's own "not now" errors, raised for real, are classed as the dependency being
 * unavailable (503 with Retry-After), not as a bug (500).
 */
import postgres from 'postgres';
import t from 'tap';
import { isDependencyUnavailable } from '../../src/lib/dependency-errors.js';
import { createTestDatabase } from '../helpers/database.js';

t.test('a statement timeout and a lock timeout', async (t) => {
  const database = await createTestDatabase();
  t.teardown(() => database.drop());
  const sql = postgres(database.url, { max: 2, onnotice: () => {} });
  t.teardown(() => sql.end({ timeout: 5 }));

  const timedOut = await sql.begin(async (tx) => {
    await tx`set local statement_timeout = '20ms'`;
    return tx`select pg_sleep(1)`.catch((error: unknown) => error);
  }).catch((error: unknown) => error);
  t.match(timedOut, { code: '57014' }, 'statement timeout');
  t.ok(isDependencyUnavailable(timedOut));

  await sql`create table locked_row (id int primary key)`;
  await sql`insert into locked_row values (1)`;
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let holding!: () => void;
  const lockTaken = new Promise<void>((resolve) => (holding = resolve));
  const holder = sql.begin(async (tx) => {
    await tx`select id from locked_row where id = 1 for update`;
    holding();
    await held;
  });
  await lockTaken;
  const waited = await sql.begin(async (tx) => {
    await tx`set local lock_timeout = '20ms'`;
    await tx`select id from locked_row where id = 1 for update`;
  }).catch((error: unknown) => error);
  release();
  await holder;
  t.match(waited, { code: '55P03' }, 'lock timeout');
  t.ok(isDependencyUnavailable(waited));

  const badQuery = await sql`select * from no_such_table`.catch((error: unknown) => error);
  t.match(badQuery, { code: '42P01' });
  t.notOk(isDependencyUnavailable(badQuery), 'a query that can never work is a bug, not an outage');
});
