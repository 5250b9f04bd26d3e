import t from 'tap';
import { parseDurationSeconds } from '../../src/lib/duration.js';

t.test('parses suffixed and bare durations', async (t) => {
  t.equal(parseDurationSeconds('15m'), 900);
  t.equal(parseDurationSeconds('7d'), 604800);
  t.equal(parseDurationSeconds('3600'), 3600);
  t.equal(parseDurationSeconds('2h'), 7200);
});

t.test('rejects anything else', async (t) => {
  for (const bad of ['', '15x', '-1s', '1.5m', 'm']) t.equal(parseDurationSeconds(bad), undefined, bad);
});
