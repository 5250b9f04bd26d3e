/**
 * Settings of one benchmark run: the full run of issue #7 (`npm run bench`) or the smoke run
 * (`npm run bench -- --smoke`, BENCH_SMOKE=1) that the test suite uses so the harness cannot rot.
 *
 * Flags and variables (all optional):
 *   --smoke | BENCH_SMOKE=1         1 s per scenario (2 s with argon2), no warm-up, tiny data,
 *                                   results to a temp dir
 *   --out=DIR | BENCH_OUT_DIR       where latest.md / latest.json go (default bench/results)
 *   --only=REGEX | BENCH_ONLY       run only the scenarios whose id matches (for working on one)
 *   --slices=N | BENCH_SLICES       with --only: N slice pairs of the usual length instead of 5, so
 *                                   the standard error of a ratio shrinks (about 1/sqrt(N)); for
 *                                   pinning down a floor, not for the table
 *   --against-floor | BENCH_AGAINST_FLOOR=1
 *                                   with --only: a route with a floor is interleaved with its floor
 *                                   instead of its baseline (no target judged), so the cost of our
 *                                   plumbing is measured in one ratio instead of two
 *   BENCH_DATABASE_ADMIN_URL        a role that may create databases (else TEST_DATABASE_ADMIN_URL,
 *                                   else postgres://postgres@127.0.0.1:5432/postgres)
 *   BENCH_REDIS_URL                 else TEST_REDIS_URL, else redis://127.0.0.1:6379
 *   BENCH_CPU_PROF=DIR              a V8 CPU profile of every server it starts, a folder each
 *   BENCH_SERVICE_<NAME>=VALUE      sets <NAME> in the service's environment (tuning runs, e.g.
 *                                   BENCH_SERVICE_ARGON2_NICE=19); the report lists them
 *   BENCH_DATABASE                  database to (re)create (default portcullis_bench; smoke runs
 *                                   use a unique name and drop it afterwards)
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './processes.js';

export interface BenchSettings {
  smoke: boolean;
  runId: string;
  outDir: string;
  /** Whether README's Benchmarks table is rewritten (full runs into bench/results only). */
  updateReadme: boolean;
  only: RegExp | null;
  adminUrl: string;
  redisUrl: string;
  databaseName: string;
  dropDatabaseAfter: boolean;
  warmupSec: number;
  durationSec: number;
  /** Scenarios whose requests hash a password (argon2). */
  hashDurationSec: number;
  /** A scenario with a baseline is measured in this many slices alternating with it (bench/load.ts runInterleaved). */
  slices: number;
  hashSlices: number;
  /** A route with a floor is interleaved with its floor instead of its baseline (partial runs only). */
  againstFloor: boolean;
  /** Warm-up before every slice after a side's first (which gets warmupSec). */
  laterWarmupSec: number;
  fastConnections: number;
  hashConnections: number;
  users: number;
  apps: number;
  tokensPerApp: number;
  memorySessions: number;
  memoryTokens: number;
  scaleSmall: number;
  scaleLarge: number;
}

/** The password every bench user has (one argon2id hash, computed once, reused for all rows). */
export const BENCH_PASSWORD = 'correct horse battery staple bench';
/** Where the baseline server's GET keys live: `${prefix}${GET_KEY_INFIX}${last GET_KEY_TAIL chars of the Authorization header}`. */
export const GET_KEY_INFIX = 'bl:get:';
export const GET_KEY_TAIL = 24;

export function loadSettings(argv: string[], env: Record<string, string | undefined>): BenchSettings {
  const flag = (name: string) => argv.find((arg) => arg === `--${name}` || arg.startsWith(`--${name}=`));
  const value = (name: string) => flag(name)?.split('=').slice(1).join('=') || undefined;
  const smoke = flag('smoke') !== undefined || env.BENCH_SMOKE === '1';
  const runId = randomBytes(4).toString('hex');
  const explicitOut = value('out') ?? env.BENCH_OUT_DIR;
  const outDir = explicitOut ?? (smoke ? mkdtempSync(join(tmpdir(), 'portcullis-bench-')) : join(ROOT, 'bench', 'results'));
  const only = value('only') ?? env.BENCH_ONLY;
  const againstFloor = flag('against-floor') !== undefined || env.BENCH_AGAINST_FLOOR === '1';
  if (againstFloor && only === undefined) throw new Error('--against-floor is for partial runs (--only): a full run judges every route against its baseline');
  const common = {
    smoke,
    runId,
    outDir,
    only: only ? new RegExp(only) : null,
    adminUrl: env.BENCH_DATABASE_ADMIN_URL ?? env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: env.BENCH_REDIS_URL ?? env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    fastConnections: 50,
    hashConnections: 16,
  };
  if (smoke) {
    return {
      ...common,
      updateReadme: false,
      databaseName: env.BENCH_DATABASE ?? `portcullis_bench_smoke_${runId}`,
      dropDatabaseAfter: true,
      warmupSec: 0,
      durationSec: 1,
      // Long enough for a few argon2 logins to finish next to /me in the storm.
      hashDurationSec: 2,
      slices: 1,
      hashSlices: 1,
      againstFloor,
      laterWarmupSec: 0,
      users: 50,
      apps: 5,
      tokensPerApp: 2,
      memorySessions: 1000,
      memoryTokens: 1000,
      scaleSmall: 1000,
      scaleLarge: 5000,
    };
  }
  const slices = Number(value('slices') ?? (env.BENCH_SLICES || '5'));
  if (!Number.isInteger(slices) || slices < 1) throw new Error(`--slices must be a positive integer, not ${value('slices') ?? env.BENCH_SLICES}`);
  if (slices !== 5 && only === undefined) throw new Error('--slices is for partial runs (--only): a full run keeps the issue\'s 10 s per scenario');
  return {
    ...common,
    updateReadme: explicitOut === undefined && only === undefined,
    databaseName: env.BENCH_DATABASE ?? 'portcullis_bench',
    dropDatabaseAfter: false,
    warmupSec: 3,
    // 2 s slices (4 s with argon2), five of them unless --slices says otherwise.
    durationSec: 2 * slices,
    hashDurationSec: 4 * slices,
    slices,
    hashSlices: slices,
    againstFloor,
    laterWarmupSec: 1,
    users: 10_000,
    apps: 100,
    tokensPerApp: 10,
    memorySessions: 100_000,
    memoryTokens: 100_000,
    scaleSmall: 1_000,
    scaleLarge: 1_000_000,
  };
}

const SERVICE_OVERRIDE_PREFIX = 'BENCH_SERVICE_';

/** The service's environment overrides from BENCH_SERVICE_<NAME> variables. */
export function serviceOverrides(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env)
      .filter((entry): entry is [string, string] => entry[0].startsWith(SERVICE_OVERRIDE_PREFIX) && entry[1] !== undefined)
      .map(([name, value]) => [name.slice(SERVICE_OVERRIDE_PREFIX.length), value]),
  );
}
