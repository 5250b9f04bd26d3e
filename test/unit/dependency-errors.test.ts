import t from 'tap';
import { isDependencyUnavailable, isRowRefusal } from '../../src/lib/dependency-errors.js';

const withCode = (code: string) => Object.assign(new Error(code), { code });

t.test('a row refusal is SQLSTATE class 22 or 23, also as the cause of a wrapping error', async (t) => {
  for (const code of ['22P02', '22001', '23505', '23503']) t.ok(isRowRefusal(withCode(code)), code);
  t.ok(isRowRefusal(new Error('query failed', { cause: withCode('22P02') })), 'wrapped, as Drizzle does');
  for (const code of ['08006', '57P01', '53300', '42703', '40001', 'ECONNREFUSED']) t.notOk(isRowRefusal(withCode(code)), `${code} refuses every row alike`);
  t.notOk(isRowRefusal(new Error('no code')));
  t.notOk(isRowRefusal(undefined));
});

t.test('a refusal is never mistaken for the store being unavailable, and the reverse', async (t) => {
  t.notOk(isDependencyUnavailable(withCode('23505')));
  t.ok(isDependencyUnavailable(withCode('08006')));
  t.notOk(isRowRefusal(withCode('08006')));
});
