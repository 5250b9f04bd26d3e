/** The bench report's judgement: a ratio's standard error from its slice pairs, and the targets table around it. */
import t from 'tap';
import type { LoadResult } from '../../bench/load.js';
import { cpuBoundRatio, ratioStandardError, type ScenarioRow, targetLines, targetsTable } from '../../bench/report.js';

const load = (sliceRps: number[]): LoadResult => ({
  requests: sliceRps.reduce((sum, rps) => sum + rps, 0),
  seconds: sliceRps.length,
  rps: sliceRps.reduce((sum, rps) => sum + rps, 0) / sliceRps.length,
  p50Ms: 1,
  p99Ms: 2,
  maxMs: 3,
  errors: 0,
  outcomes: { 200: 1 },
  serverCpuUsPerReq: 10,
  eventLoopCpuUsPerReq: 9,
  eventLoopSleepsPerReq: 0,
  eventLoopPreemptionsPerReq: 0,
  redisCpuUsPerReq: 1,
  postgresCpuUsPerReq: 0,
  loadgenCpuUsPerReq: 5,
  loadgenCoreShare: 0.5,
  sliceRps,
});

t.test('the standard error comes from the ratios of slices measured side by side', async (t) => {
  // Pair ratios 0.8, 0.6, 1.0: mean 0.8, sample standard deviation 0.2, over √3.
  t.equal(Number(ratioStandardError(load([80, 60, 100]), load([100, 100, 100]))!.toFixed(6)), Number((0.2 / Math.sqrt(3)).toFixed(6)));
  t.equal(ratioStandardError(load([75, 75]), load([100, 100])), 0, 'steady pairs: no spread');
  t.equal(ratioStandardError(load([75]), load([100])), null, 'one slice (the smoke run): none');
  t.equal(ratioStandardError(load([75, 80]), load([100])), null, 'slices that do not pair: none');
});

t.test("what a route's CPU allows: its baseline's machine CPU per request over its own", async (t) => {
  const baseline = { ...load([100]), serverCpuUsPerReq: 40, redisCpuUsPerReq: 6, postgresCpuUsPerReq: 0, loadgenCpuUsPerReq: 34 };
  const route = { ...load([60]), serverCpuUsPerReq: 60, redisCpuUsPerReq: 8, postgresCpuUsPerReq: 2, loadgenCpuUsPerReq: 30 };
  t.equal(cpuBoundRatio(route, baseline), 0.8, '80 µs of the machine against 100');
  t.equal(cpuBoundRatio({ ...route, redisCpuUsPerReq: null, postgresCpuUsPerReq: null }, baseline), 80 / 90, 'a server not measured counts as none');
  t.equal(cpuBoundRatio({ ...route, serverCpuUsPerReq: 0, redisCpuUsPerReq: 0, postgresCpuUsPerReq: 0, loadgenCpuUsPerReq: 0 }, baseline), null, 'nothing measured: none');
});

function row(id: string, ratio: number, ratioError: number | null, extra: Partial<ScenarioRow> = {}): ScenarioRow {
  return { id, label: id, server: 'service', connections: 50, durationSec: 10, result: load([1000]), baseline: 'base.get', ratio, ratioError, ...extra };
}

t.test('the targets table shows the ratio, its floor, each with its error, and flags a verdict inside two errors', async (t) => {
  const rows = [
    row('me', 0.74, 0.1, { target: { kind: 'min', min: 0.75 }, pass: false, floor: 'floor.me', pairedBaseline: { ...load([1000]), serverCpuUsPerReq: 2 } }),
    row('floor.me', 0.8, 0.03),
    row('check', 0.95, 0.02, { target: { kind: 'min', min: 0.85 }, pass: true }),
    row('login.wrong', 1.0, null, { target: { kind: 'range', min: 0.9, max: 1.1 }, pass: true }),
  ];
  const lines = targetLines({ rows, storm: null, memory: null, scale: null, jwtAlgorithms: null });
  t.strictSame(
    lines.map(({ measured, floor, withinNoise }) => ({ measured, floor, withinNoise })),
    [
      { measured: '0.74 ± 0.10', floor: '0.80 ± 0.03', withinNoise: true },
      { measured: '0.95 ± 0.02', floor: undefined, withinNoise: false },
      { measured: '1.00', floor: undefined, withinNoise: false },
    ],
  );
  const table = targetsTable(lines).split('\n');
  t.equal(table[0], '| target | measured | floor: its required work alone | what its CPU per request allows | goal | result |');
  t.equal(table[2], '| me vs base.get | 0.74 ± 0.10 | 0.80 ± 0.03 | 0.50 | >= 0.75 | **MISS** (within 2 s.e.) |');
  t.equal(table[3], '| check vs base.get | 0.95 ± 0.02 |  |  | >= 0.85 | PASS |', 'five errors clear of its goal: no note; no interleaved baseline, no CPU bound');
});
