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
import { processCpuMicros } from './processes.js';

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
  redisCpuUsPerReq: number | null;
  postgresCpuUsPerReq: number | null;
  loadgenCpuUsPerReq: number;
  /** Share of one core the load generator used: near 1 means it, not the server, may be the limit. */
  loadgenCoreShare: number;
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

/** Runs autocannon once for `durationSec`; nothing is measured here but what it returns. */
function drive(spec: LoadSpec, durationSec: number, onResponse?: (status: number, ms: number, ok: boolean) => void) {
  const expected = spec.expectStatus ?? 200;
  let failedChecks = 0;
  const request: AutocannonRequest = {
    setupRequest: (defaults) => {
      const shape = spec.next();
      defaults.method = shape.method;
      defaults.path = shape.path;
      defaults.headers = shape.headers ?? {};
      defaults.body = shape.body ?? '';
      return defaults;
    },
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

/** Several loads at once against one server (the login storm): each measured on its own. */
export async function runConcurrent(specs: LoadSpec[], durationSec: number, warmupSec: number): Promise<{ results: LoadResult[]; serverCpuUsPerReq: number }> {
  if (warmupSec > 0) await Promise.all(specs.map((spec) => drive(spec, warmupSec)));
  const latencies = specs.map(() => new Float64Array(1 << 16));
  const counts = specs.map(() => 0);
  const outcomes = specs.map(() => ({}) as Record<string, number>);
  const serverBefore = processCpuMicros(specs[0]!.serverPid);
  const redisBefore = await redisCpuMicros(specs[0]!.redis);
  const postgresBefore = await cpuByPid(specs[0]!.postgresPids);
  const loadgenBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  const runs = await Promise.all(
    specs.map((spec, index) =>
      drive(spec, durationSec, (status, ms) => {
        let buffer = latencies[index]!;
        if (counts[index]! === buffer.length) {
          const grown = new Float64Array(buffer.length * 2);
          grown.set(buffer);
          latencies[index] = buffer = grown;
        }
        buffer[counts[index]!] = ms;
        counts[index]!++;
        const key = String(status);
        outcomes[index]![key] = (outcomes[index]![key] ?? 0) + 1;
      }),
    ),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const loadgen = process.cpuUsage(loadgenBefore);
  const serverMicros = processCpuMicros(specs[0]!.serverPid) - serverBefore;
  const redisAfter = await redisCpuMicros(specs[0]!.redis);
  const postgresMicros = cpuDelta(postgresBefore, await cpuByPid(specs[0]!.postgresPids));
  const total = counts.reduce((sum, count) => sum + count, 0);
  const results = specs.map((spec, index): LoadResult => {
    const requests = counts[index]!;
    const sorted = latencies[index]!.slice(0, requests).sort();
    const run = runs[index]!;
    const expected = String(spec.expectStatus ?? 200);
    const unexpected = Object.entries(outcomes[index]!).reduce((sum, [status, count]) => (status === expected ? sum : sum + count), 0);
    const outcome = { ...outcomes[index]! };
    if (run.connectionErrors > 0) outcome.connection = run.connectionErrors;
    if (run.timeouts > 0) outcome.timeout = run.timeouts;
    if (run.failedChecks > 0) outcome['failed check'] = run.failedChecks;
    return {
      requests,
      seconds,
      rps: requests / seconds,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      maxMs: percentile(sorted, 100),
      errors: unexpected + run.connectionErrors + run.timeouts + run.failedChecks,
      outcomes: outcome,
      // One server process serves every load here; its CPU is shared out per request of all of them.
      serverCpuUsPerReq: serverMicros / Math.max(1, total),
      redisCpuUsPerReq: redisBefore === null || redisAfter === null ? null : (redisAfter - redisBefore) / Math.max(1, total),
      postgresCpuUsPerReq: postgresMicros === null ? null : postgresMicros / Math.max(1, total),
      loadgenCpuUsPerReq: (loadgen.user + loadgen.system) / Math.max(1, total),
      loadgenCoreShare: (loadgen.user + loadgen.system) / 1e6 / seconds,
    };
  });
  return { results, serverCpuUsPerReq: serverMicros / Math.max(1, total) };
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const { results } = await runConcurrent([spec], spec.durationSec, spec.warmupSec);
  return results[0]!;
}
