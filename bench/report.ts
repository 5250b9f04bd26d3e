/**
 * The run's results as JSON and as markdown (bench/results/latest.{json,md}), and the README's
 * Benchmarks table between its markers. Every target is judged here, from the numbers alone.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadResult } from './load.js';
import type { MemoryResult } from './memory.js';
import type { Target } from './scenarios.js';

export interface ScenarioRow {
  id: string;
  label: string;
  server: string;
  connections: number;
  durationSec: number;
  result: LoadResult | null;
  unavailable?: string;
  baseline?: string;
  /** The baseline as measured in the slices alternating with this scenario's (the ratio's denominator). */
  pairedBaseline?: LoadResult;
  ratio?: number | null;
  /** The ratio's standard error, from its slice pairs (ratioStandardError); null with one slice. */
  ratioError?: number | null;
  target?: Target;
  pass?: boolean | null;
  /** The id of the floor row measuring this route's required work alone. */
  floor?: string;
}

export interface StormResult {
  me: LoadResult;
  login: LoadResult;
  /** Each load alone, in the slices alternating with the storm's. */
  meSolo: LoadResult;
  loginSolo: LoadResult;
  shareSum: number;
  serverCpuUsPerReq: number;
}

export interface ScaleResult {
  smallSessions: number;
  largeSessions: number;
  small: LoadResult;
  large: LoadResult;
}

export interface BenchReport {
  meta: Record<string, unknown> & { date: string; smoke: boolean; header: string };
  rows: ScenarioRow[];
  storm: StormResult | null;
  memory: { sessions: MemoryResult; appTokens: MemoryResult } | null;
  scale: ScaleResult | null;
  jwtAlgorithms: string | null;
  targets: TargetLine[];
  notes: string[];
}

export interface TargetLine {
  target: string;
  measured: string;
  /** The route's floor (its required work alone) against the same baseline, where it has one. */
  floor?: string;
  goal: string;
  pass: boolean | null;
  /** The goal lies within two standard errors of the measured ratio: this verdict is the run's noise as much as the route's. */
  withinNoise?: boolean;
  /** cpuBoundRatio of the route against its interleaved baseline, where both were measured. */
  cpuBound?: string;
}

const fixed = (value: number | null | undefined, digits = 2) => (value === null || value === undefined || Number.isNaN(value) ? 'n/a' : value.toFixed(digits));
const whole = (value: number) => Math.round(value).toLocaleString('en-US');
const verdict = (pass: boolean | null | undefined) => (pass === true ? 'PASS' : pass === false ? '**MISS**' : 'n/a');
export const describeTarget = (target: Target | undefined) => (!target ? '' : target.kind === 'min' ? `>= ${target.min}` : `${target.min} to ${target.max}`);

/**
 * How far a ratio can be trusted: slice k of a route and slice k of its baseline run next to each
 * other (ABBA), so each pair gives a ratio of its own, and their spread over √n is the standard
 * error of their mean. On a shared 2-core machine a pair's ratio moved from 0.48 to 1.01 within
 * one scenario, so a target missed or met by less than about two of these is noise.
 */
export function ratioStandardError(route: LoadResult, baseline: LoadResult): number | null {
  const pairs = route.sliceRps.length;
  if (pairs < 2 || baseline.sliceRps.length !== pairs) return null;
  const ratios = route.sliceRps.map((rps, k) => rps / Math.max(1, baseline.sliceRps[k]!));
  const mean = ratios.reduce((sum, r) => sum + r, 0) / pairs;
  const variance = ratios.reduce((sum, r) => sum + (r - mean) ** 2, 0) / (pairs - 1);
  return Math.sqrt(variance / pairs);
}

/** A ratio with its standard error when there is one: "0.74 ± 0.10". */
const withError = (ratio: number | null | undefined, error: number | null | undefined) => (error === null || error === undefined ? fixed(ratio) : `${fixed(ratio)} ± ${fixed(error)}`);

/** A verdict's note when the goal lies within two standard errors of the measured ratio. */
function nearGoal(ratio: number | null | undefined, error: number | null | undefined, target: Target | undefined): boolean {
  if (!target || ratio === null || ratio === undefined || error === null || error === undefined) return false;
  const bounds = target.kind === 'min' ? [target.min] : [target.min, target.max];
  return bounds.some((bound) => Math.abs(ratio - bound) < 2 * error);
}

/**
 * The ratio the route's CPU cost allows: its interleaved baseline's machine CPU per request
 * (service, Redis, Postgres, load generator) over the route's. Everything shares the 2 cores, so
 * when they are saturated a rate is 2 cores over that total, and the measured ratio lands at or
 * just under this (within 0.01 to 0.07 for the CPU-bound routes). A route that stays well under it
 * is held back by something else (its event loop alone, its latency), and one over it was
 * measured against a baseline bound by something else (one core, not two).
 */
export function cpuBoundRatio(route: LoadResult, baseline: LoadResult): number | null {
  const total = (load: LoadResult) => load.serverCpuUsPerReq + (load.redisCpuUsPerReq ?? 0) + (load.postgresCpuUsPerReq ?? 0) + load.loadgenCpuUsPerReq;
  const routeTotal = total(route);
  return routeTotal > 0 && Number.isFinite(routeTotal) ? total(baseline) / routeTotal : null;
}

export function judgeRatio(ratio: number | null, target: Target | undefined): boolean | null {
  if (!target || ratio === null || Number.isNaN(ratio)) return null;
  return target.kind === 'min' ? ratio >= target.min : ratio >= target.min && ratio <= target.max;
}

/** Every target of the issue, one line each, in the issue's order. */
export function targetLines(report: Omit<BenchReport, 'targets' | 'notes' | 'meta'>): TargetLine[] {
  const lines: TargetLine[] = [];
  for (const row of report.rows) {
    if (!row.target) continue;
    const floor = row.floor ? report.rows.find((candidate) => candidate.id === row.floor) : undefined;
    const measured = withError(row.ratio, row.ratioError);
    lines.push({
      target: `${row.label} vs ${row.baseline}`,
      measured: row.unavailable ? `not available: ${row.unavailable}` : row.result && row.result.errors > 0 ? `${measured} (${row.result.errors} errors)` : measured,
      ...(!row.floor ? {} : { floor: floor?.result && floor.result.errors === 0 ? withError(floor.ratio, floor.ratioError) : 'n/a' }),
      goal: describeTarget(row.target),
      // A run with errors does not pass, whatever its speed.
      pass: row.unavailable ? null : row.result && row.result.errors > 0 ? false : (row.pass ?? null),
      withinNoise: !row.unavailable && nearGoal(row.ratio, row.ratioError, row.target),
      ...(row.result && row.pairedBaseline ? { cpuBound: fixed(cpuBoundRatio(row.result, row.pairedBaseline)) } : {}),
    });
  }
  const storm = report.storm;
  if (storm) {
    lines.push({ target: '/me p99 during a login storm', measured: `${fixed(storm.me.p99Ms)} ms`, goal: '<= 25 ms', pass: storm.me.errors === 0 && storm.me.p99Ms <= 25 });
    lines.push({
      target: 'storm: /me share + login share of their solo rates',
      measured: `${fixed(storm.me.rps / storm.meSolo.rps)} + ${fixed(storm.login.rps / storm.loginSolo.rps)} = ${fixed(storm.shareSum)}`,
      goal: '>= 0.90',
      pass: storm.shareSum >= 0.9 && storm.login.errors === 0,
    });
  }
  if (report.memory) {
    const { sessions, appTokens } = report.memory;
    lines.push({ target: 'Redis memory per live session', measured: `${whole(sessions.bytesPerItem)} B`, goal: '<= 1024 B', pass: sessions.bytesPerItem <= 1024 });
    lines.push({ target: 'Redis memory per live app token', measured: `${whole(appTokens.bytesPerItem)} B`, goal: '<= 512 B', pass: appTokens.bytesPerItem <= 512 });
  }
  if (report.scale) {
    const { small, large, smallSessions, largeSessions } = report.scale;
    const ratio = large.p99Ms / small.p99Ms;
    lines.push({
      target: `/me p99 with ${whole(largeSessions)} vs ${whole(smallSessions)} live sessions`,
      measured: `${fixed(large.p99Ms)} / ${fixed(small.p99Ms)} ms = ${fixed(ratio)}x`,
      goal: '<= 1.2x',
      pass: small.errors === 0 && large.errors === 0 && ratio <= 1.2,
    });
  }
  return lines;
}

function scenarioTable(rows: ScenarioRow[]): string {
  const out = [
    '| scenario | conns | req/s | p50 ms | p99 ms | errors | server CPU µs/req (event loop; its sleeps, preemptions per req) | CPU vs baseline | Redis / PG CPU µs/req | load-gen CPU µs/req | baseline | baseline req/s, interleaved | ratio | target | result |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---|',
  ];
  for (const row of rows) {
    const r = row.result;
    if (!r) {
      out.push(`| ${row.label} | ${row.connections} | not available: ${row.unavailable ?? 'skipped'} | | | | | | | | ${row.baseline ?? ''} | | | ${describeTarget(row.target)} | n/a |`);
      continue;
    }
    const base = row.pairedBaseline;
    const errors = r.errors === 0 ? '0' : `${r.errors} (${Object.entries(r.outcomes).map(([k, v]) => `${k}: ${v}`).join(', ')})`;
    const pass = row.target ? verdict(r.errors > 0 ? false : row.pass) : '';
    const cpuRatio = base ? `${fixed(r.serverCpuUsPerReq / base.serverCpuUsPerReq, 1)}x` : '';
    out.push(
      `| ${row.label} | ${row.connections} | ${whole(r.rps)} | ${fixed(r.p50Ms)} | ${fixed(r.p99Ms)} | ${errors} | ${whole(r.serverCpuUsPerReq)} (${whole(r.eventLoopCpuUsPerReq)}; ${r.eventLoopSleepsPerReq.toFixed(1)}, ${r.eventLoopPreemptionsPerReq.toFixed(1)}) | ${cpuRatio} | ${r.redisCpuUsPerReq === null ? 'n/a' : whole(r.redisCpuUsPerReq)} / ${r.postgresCpuUsPerReq === null ? 'n/a' : whole(r.postgresCpuUsPerReq)} | ${whole(r.loadgenCpuUsPerReq)} | ${row.baseline ?? ''} | ${base ? whole(base.rps) : ''} | ${row.baseline ? withError(row.ratio, row.ratioError) : ''} | ${describeTarget(row.target)} | ${pass} |`,
    );
  }
  return out.join('\n');
}

export function targetsTable(targets: TargetLine[]): string {
  return [
    '| target | measured | floor: its required work alone | what its CPU per request allows | goal | result |',
    '|---|---|---|---|---|---|',
    ...targets.map((t) => `| ${t.target} | ${t.measured} | ${t.floor ?? ''} | ${t.cpuBound ?? ''} | ${t.goal} | ${verdict(t.pass)}${t.withinNoise ? ' (within 2 s.e.)' : ''} |`),
  ].join('\n');
}

function detailTables(report: BenchReport): string[] {
  const parts: string[] = [];
  if (report.storm) {
    const { me, login, meSolo, loginSolo } = report.storm;
    const line = (name: string, conns: number, together: LoadResult, alone: LoadResult) =>
      `| ${name} | ${conns} | ${whole(together.rps)} | ${whole(alone.rps)} | ${fixed(together.rps / alone.rps)} | ${fixed(together.p50Ms)} | ${fixed(together.p99Ms)} | ${fixed(alone.p99Ms)} | ${together.errors + alone.errors} |`;
    parts.push(
      '### Login storm (both loads at once, in slices alternating with each load alone)',
      '',
      '| load | conns | req/s | alone req/s | share of alone | p50 ms | p99 ms | alone p99 ms | errors |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
      line('GET /api/auth/me', 50, me, meSolo),
      line('POST /api/auth/login', 16, login, loginSolo),
      '',
      `Server CPU per request of either kind during the storm: ${whole(report.storm.serverCpuUsPerReq)} µs.`,
      '',
    );
  }
  if (report.memory) {
    const row = (name: string, m: MemoryResult) => `| ${name} | ${whole(m.count)} | ${whole(m.infoBytesPerItem)} | ${whole(m.memoryUsageBytesPerItem)} | ${whole(m.bytesPerItem)} |`;
    parts.push(
      '### Redis memory',
      '',
      '| record | created | INFO used_memory delta, B each | MEMORY USAGE, B each | judged (larger) |',
      '|---|---:|---:|---:|---:|',
      row('live session (hash + its user index, one session per user)', report.memory.sessions),
      row('live app token (record + its share of the app index)', report.memory.appTokens),
      '',
    );
  }
  if (report.scale) {
    const { small, large, smallSessions, largeSessions } = report.scale;
    parts.push(
      '### /me against a small and a large session population (in alternating slices; each population holds sessions of the same pool of users, whose tokens are drawn)',
      '',
      '| live sessions | req/s | p50 ms | p99 ms | errors |',
      '|---:|---:|---:|---:|---:|',
      `| ${whole(smallSessions)} | ${whole(small.rps)} | ${fixed(small.p50Ms)} | ${fixed(small.p99Ms)} | ${small.errors} |`,
      `| ${whole(largeSessions)} | ${whole(large.rps)} | ${fixed(large.p50Ms)} | ${fixed(large.p99Ms)} | ${large.errors} |`,
      '',
    );
  }
  if (report.jwtAlgorithms) parts.push('### Access-token algorithms (bench/jwt-algorithms.ts, fast-jwt, one core)', '', report.jwtAlgorithms.trim(), '');
  return parts;
}

export function renderMarkdown(report: BenchReport): string {
  return [
    `# Portcullis benchmark${report.meta.smoke ? ' (smoke run: 1 s per scenario, tiny data; numbers mean nothing)' : ''}`,
    '',
    report.meta.header,
    '',
    '## Targets',
    '',
    targetsTable(report.targets),
    '',
    '## Scenarios',
    '',
    scenarioTable(report.rows),
    '',
    ...detailTables(report),
    ...(report.notes.length > 0 ? ['## Notes from this run', '', ...report.notes.map((note) => `- ${note}`), ''] : []),
  ].join('\n');
}

export function writeReport(outDir: string, report: BenchReport): { json: string; markdown: string } {
  const json = join(outDir, 'latest.json');
  const markdown = join(outDir, 'latest.md');
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(markdown, renderMarkdown(report));
  return { json, markdown };
}

export const README_START = '<!-- bench-results:start -->';
export const README_END = '<!-- bench-results:end -->';

/** The README section between the markers: header, targets and scenarios of this run. */
export function readmeSection(report: BenchReport): string {
  return [README_START, '', report.meta.header, '', targetsTable(report.targets), '', scenarioTable(report.rows), '', README_END].join('\n');
}

/** Rewrites the README between its markers; false when the markers are missing. */
export function updateReadme(readmePath: string, report: BenchReport): boolean {
  const text = readFileSync(readmePath, 'utf8');
  const start = text.indexOf(README_START);
  const end = text.indexOf(README_END);
  if (start < 0 || end < start) return false;
  writeFileSync(readmePath, text.slice(0, start) + readmeSection(report) + text.slice(end + README_END.length));
  return true;
}
