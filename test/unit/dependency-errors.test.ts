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

t.test('Redis replies that mean "not now" are unavailability; replies about the command are not', async (t) => {
  const reply = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' });
  for (const message of [
    "OOM command not allowed when used memory > 'maxmemory'.",
    'LOADING Redis is loading the dataset in memory',
    'BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSCRIPT.',
    "READONLY You can't write against a read only replica.",
    'MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to no.',
    'TRYAGAIN Multiple keys request during rehashing of slot',
    'CLUSTERDOWN The cluster is down',
  ]) {
    t.ok(isDependencyUnavailable(reply(message)), message.split(' ')[0]);
  }
  t.ok(isDependencyUnavailable(new Error('login failed', { cause: reply('OOM command not allowed') })), 'as a cause');
  for (const message of ['WRONGTYPE Operation against a key holding the wrong kind of value', "ERR unknown command 'FOO'", 'NOSCRIPT No matching script.']) {
    t.notOk(isDependencyUnavailable(reply(message)), message.split(' ')[0]);
  }
  t.notOk(isDependencyUnavailable(new Error('OOM in our own code')), 'only a Redis reply, not any error whose text starts so');
});

t.test('Postgres short of resources or giving up on a wait is unavailability; a bad query is not', async (t) => {
  for (const code of ['53100', '53200', '53300', '57014', '55P03', '40001', '40P01', '57P01', '08006']) t.ok(isDependencyUnavailable(withCode(code)), code);
  for (const code of ['42P01', '42703', '42601', '22P02', '23505', '0A000']) t.notOk(isDependencyUnavailable(withCode(code)), code);
});
