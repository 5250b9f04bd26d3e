/**
 * One load run through autocannon (HTTP/1.1 keep-alive, no pipelining), measured the way the
 * report needs it:
 * - latency of every response (any status) recorded with hrtime precision by this module, since
 *   autocannon's own histogram keeps whole milliseconds and only 2xx responses;
 * - an error is anything but the expected status (a 401 from a refresh is an error), a failed
 *   body check, a connection error or a timeout;
 * - CPU time of the server process (all threads), of Redis (INFO cpu), of the Postgres backends
 *   serving the bench database and of this load generator, each divided by completed requests.
 */
import autocannon, { type AutocannonRequest } from 'autocannon';
import type { Redis } from 'ioredis';
import { mainThreadCpuMicros, mainThreadSwitches, processCpuMicros } from './processes.js';

export interface RequestShape {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface LoadSpec {
  baseUrl: string;
  /** Process whose CPU time is charged to the requests. */
  serverPid: number;
  connections: number;
  durationSec: number;
  warmupSec: number;
  /** Called for every request: draws the token, credentials or cookie it carries. */
  next: () => RequestShape;
  expectStatus?: number;
  /** Extra check of a response with the expected status; false makes it an error. */
  check?: (body: string, headers: Record<string, string | string[]>) => boolean;
  redis?: Redis;
  /** Pids of the Postgres backends serving the bench database (their CPU is charged too). */
  postgresPids?: () => Promise<number[]>;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: number;
  /** Response counts by status, plus "connection" errors and "timeout"s. */
  outcomes: Record<string, number>;
  serverCpuUsPerReq: number;
  /** The part of it spent on the server's main thread (its event loop), hashing workers left out. */
  eventLoopCpuUsPerReq: number;
  /** How often per request the event loop slept and woke up again (voluntary context switches), and was preempted. */
  eventLoopSleepsPerReq: number;
  eventLoopPreemptionsPerReq: number;
  redisCpuUsPerReq: number | null;
  postgresCpuUsPerReq: number | null;
  loadgenCpuUsPerReq: number;
  /** Share of one core the load generator used: near 1 means it, not the server, may be the limit. */
  loadgenCoreShare: number;
  /** Requests/s of each slice it was measured in, in order (one unless interleaved): the spread shows the noise. */
  sliceRps: number[];
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** CPU time of each listed process, by pid; processes that are gone are left out. */
async function cpuByPid(pids: (() => Promise<number[]>) | undefined): Promise<Map<number, number> | null> {
  if (!pids) return null;
  const result = new Map<number, number>();
  for (const pid of await pids()) {
    try {
      result.set(pid, processCpuMicros(pid));
    } catch {
      // exited meanwhile
    }
  }
  return result;
}

/** CPU spent between two samples; a backend that appeared meanwhile counts from zero. */
function cpuDelta(before: Map<number, number> | null, after: Map<number, number> | null): number | null {
  if (!before || !after) return null;
  let sum = 0;
  for (const [pid, micros] of after) sum += micros - (before.get(pid) ?? 0);
  return sum;
}

async function redisCpuMicros(redis: Redis | undefined): Promise<number | null> {
  if (!redis) return null;
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
}

/** autocannon's per-request hook, filled from the next RequestShape. */
function setupFrom(next: () => RequestShape): NonNullable<AutocannonRequest['setupRequest']> {
  return (defaults) => {
    const shape = next();
    defaults.method = shape.method;
    defaults.path = shape.path;
    defaults.headers = shape.headers ?? {};
    defaults.body = shape.body ?? '';
    return defaults;
  };
}

/** Runs autocannon once for `durationSec`; nothing is measured here but what it returns. */
function drive(spec: LoadSpec, durationSec: number, onResponse?: (status: number, ms: number, ok: boolean) => void) {
  const expected = spec.expectStatus ?? 200;
  let failedChecks = 0;
  const request: AutocannonRequest = {
    setupRequest: setupFrom(spec.next),
    onResponse: (status, body, _context, headers) => {
      if (status === expected && spec.check && !spec.check(body, headers)) failedChecks++;
    },
  };
  return new Promise<{ failedChecks: number; connectionErrors: number; timeouts: number }>((resolve, reject) => {
    const instance = autocannon(
      { url: spec.baseUrl, connections: spec.connections, pipelining: 1, duration: durationSec, timeout: 30, requests: [request], skipAggregateResult: true },
      (error, result) => (error ? reject(error) : resolve({ failedChecks, connectionErrors: result.errors - result.timeouts, timeouts: result.timeouts })),
    );
    if (onResponse) {
      instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => onResponse(status, ms, status === expected));
    }
  });
}

/**
 * Sends every request of `shapes` once, in order, over `connections` (nothing is measured): a
 * scenario's caches (verified access tokens, app snapshots) start in the state a long-running
 * instance has them in. Left to the warm-up, the first of 10,000 distinct tokens drawn at random
 * took ~90,000 requests to see them all, so the first slices of /me measured signature checks.
 */
export function prime(baseUrl: string, shapes: RequestShape[], connections: number): Promise<void> {
  if (shapes.length === 0) return Promise.resolve();
  let next = 0;
  const request: AutocannonRequest = { setupRequest: setupFrom(() => shapes[next++ % shapes.length]!) };
  return new Promise((resolve, reject) => {
    autocannon({ url: baseUrl, connections: Math.min(connections, shapes.length), pipelining: 1, amount: shapes.length, timeout: 30, requests: [request], skipAggregateResult: true }, (error) => (error ? reject(error) : resolve()));
  });
}

/**
 * What one load has gathered so far, over one or more slices (runInterleaved measures a scenario
 * in several). CPU shared by the loads of a slice is split by their completed requests, so every
 * request of the slice carries the same share.
 */
class Measurement {
  private latencies = new Float64Array(1 << 16);
  requests = 0;
  seconds = 0;
  outcomes: Record<string, number> = {};
  connectionErrors = 0;
  timeouts = 0;
  failedChecks = 0;
  serverMicros = 0;
  eventLoopMicros = 0;
  eventLoopSleeps = 0;
  eventLoopPreemptions = 0;
  redisMicros: number | null = 0;
  postgresMicros: number | null = 0;
  loadgenMicros = 0;
  sliceRps: number[] = [];

  record(status: number, ms: number): void {
    if (this.requests === this.latencies.length) {
      const grown = new Float64Array(this.latencies.length * 2);
      grown.set(this.latencies);
      this.latencies = grown;
    }
    this.latencies[this.requests++] = ms;
    const key = String(status);
    this.outcomes[key] = (this.outcomes[key] ?? 0) + 1;
  }

  result(spec: LoadSpec): LoadResult {
    const sorted = this.latencies.slice(0, this.requests).sort();
    const expected = String(spec.expectStatus ?? 200);
    const unexpected = Object.entries(this.outcomes).reduce((sum, [status, count]) => (status === expected ? sum : sum + count), 0);
    const outcomes = { ...this.outcomes };
    if (this.connectionErrors > 0) outcomes.connection = this.connectionErrors;
    if (this.timeouts > 0) outcomes.timeout = this.timeouts;
    if (this.failedChecks > 0) outcomes['failed check'] = this.failedChecks;
    const perRequest = (micros: number) => micros / Math.max(1, this.requests);
    return {
      requests: this.requests,
      seconds: this.seconds,
      rps: this.requests / this.seconds,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      maxMs: percentile(sorted, 100),
      errors: unexpected + this.connectionErrors + this.timeouts + this.failedChecks,
      outcomes,
      serverCpuUsPerReq: perRequest(this.serverMicros),
      eventLoopCpuUsPerReq: perRequest(this.eventLoopMicros),
      eventLoopSleepsPerReq: perRequest(this.eventLoopSleeps),
      eventLoopPreemptionsPerReq: perRequest(this.eventLoopPreemptions),
      redisCpuUsPerReq: this.redisMicros === null ? null : perRequest(this.redisMicros),
      postgresCpuUsPerReq: this.postgresMicros === null ? null : perRequest(this.postgresMicros),
      loadgenCpuUsPerReq: perRequest(this.loadgenMicros),
      loadgenCoreShare: this.loadgenMicros / 1e6 / this.seconds,
      sliceRps: this.sliceRps,
    };
  }
}

/** One slice: a warm-up, then every load at once for `durationSec`, added to its measurement. */
async function measureSlice(specs: LoadSpec[], into: Measurement[], durationSec: number, warmupSec: number): Promise<void> {
  if (warmupSec > 0) await Promise.all(specs.map((spec) => drive(spec, warmupSec)));
  const first = specs[0]!;
  const before = { server: processCpuMicros(first.serverPid), eventLoop: mainThreadCpuMicros(first.serverPid), switches: mainThreadSwitches(first.serverPid), redis: await redisCpuMicros(first.redis), postgres: await cpuByPid(first.postgresPids), loadgen: process.cpuUsage() };
  const counted = into.map((measurement) => measurement.requests);
  const started = process.hrtime.bigint();
  const runs = await Promise.all(specs.map((spec, index) => drive(spec, durationSec, (status, ms) => into[index]!.record(status, ms))));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const loadgen = process.cpuUsage(before.loadgen);
  const server = processCpuMicros(first.serverPid) - before.server;
  const eventLoop = mainThreadCpuMicros(first.serverPid) - before.eventLoop;
  const switches = mainThreadSwitches(first.serverPid);
  const redisAfter = await redisCpuMicros(first.redis);
  const redis = before.redis === null || redisAfter === null ? null : redisAfter - before.redis;
  const postgres = cpuDelta(before.postgres, await cpuByPid(first.postgresPids));
  const completed = into.map((measurement, index) => measurement.requests - counted[index]!);
  const total = Math.max(1, completed.reduce((sum, count) => sum + count, 0));
  into.forEach((measurement, index) => {
    const share = completed[index]! / total;
    const run = runs[index]!;
    measurement.seconds += seconds;
    measurement.sliceRps.push(Math.round(completed[index]! / seconds));
    measurement.connectionErrors += run.connectionErrors;
    measurement.timeouts += run.timeouts;
    measurement.failedChecks += run.failedChecks;
    measurement.serverMicros += server * share;
    measurement.eventLoopMicros += eventLoop * share;
    measurement.eventLoopSleeps += (switches.sleeps - before.switches.sleeps) * share;
    measurement.eventLoopPreemptions += (switches.preemptions - before.switches.preemptions) * share;
    measurement.redisMicros = redis === null || measurement.redisMicros === null ? null : measurement.redisMicros + redis * share;
    measurement.postgresMicros = postgres === null || measurement.postgresMicros === null ? null : measurement.postgresMicros + postgres * share;
    measurement.loadgenMicros += (loadgen.user + loadgen.system) * share;
  });
}

/** One load, measured in one slice after its warm-up. */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const [run] = await runRotation([[spec]], 1, 0);
  return run!.results[0]!;
}

/**
 * Loads measured in alternating slices, each side over its first spec's `durationSec` in all. A
 * side is one load, or several run at once (the login storm). The order reverses every round
 * (A B C, C B A, ...; with two sides the ABBA order): a shared machine's speed drifts by 10-20%
 * within a minute (the same load measured a minute apart), more than some targets' margin, and
 * alternating cancels a linear drift and averages the rest over every side alike. Each slice
 * opens its connections anew after a warm-up (the first `warmupSec`, later ones at most
 * `laterWarmupSec`), which also lets the previous slice's requests still in flight drain.
 */
export async function runRotation(sides: LoadSpec[][], slices: number, laterWarmupSec: number): Promise<{ results: LoadResult[]; serverCpuUsPerReq: number }[]> {
  const measured = sides.map((specs) => specs.map(() => new Measurement()));
  for (let slice = 0; slice < slices; slice++) {
    const order = sides.map((_, index) => (slice % 2 === 0 ? index : sides.length - 1 - index));
    for (const index of order) {
      const specs = sides[index]!;
      const lead = specs[0]!;
      await measureSlice(specs, measured[index]!, lead.durationSec / slices, slice === 0 ? lead.warmupSec : Math.min(lead.warmupSec, laterWarmupSec));
    }
  }
  return measured.map((measurements, index) => {
    const micros = measurements.reduce((sum, m) => sum + m.serverMicros, 0);
    const requests = measurements.reduce((sum, m) => sum + m.requests, 0);
    return { results: measurements.map((m, at) => m.result(sides[index]![at]!)), serverCpuUsPerReq: micros / Math.max(1, requests) };
  });
}

/** A scenario and its baseline in alternating slices (runRotation), baseline first. */
export async function runInterleaved(baseline: LoadSpec, scenario: LoadSpec, slices: number, laterWarmupSec: number): Promise<{ baseline: LoadResult; scenario: LoadResult }> {
  const [base, measured] = await runRotation([[{ ...baseline, durationSec: scenario.durationSec }], [scenario]], slices, laterWarmupSec);
  return { baseline: base!.results[0]!, scenario: measured!.results[0]! };
}
