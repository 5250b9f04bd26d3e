/**
 * npm run bench: the benchmark of issue #7. Starts the service in production mode on a dedicated
 * database and a run-unique Redis prefix, prepares data, drives every scenario and its baseline
 * (bench/baseline-server.ts) with autocannon, and writes bench/results/latest.{md,json} and the
 * README table. Flags and settings: bench/settings.ts. It judges targets and reports misses; it
 * never fails because of them (exit 1 only when the run itself broke).
 */
import { Redis } from 'ioredis';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../src/config.js';
import { createKeys } from '../src/redis/keys.js';
import { createRedisAppTokenStore } from '../src/redis/redis-app-token-store.js';
import { createRedisSessionStore } from '../src/redis/redis-session-store.js';
import {
  type BenchApp,
  createApps,
  dropAbandonedSmokeDatabases,
  hasPermission,
  insertUsers,
  INTROSPECT_PERMISSION,
  issueAppTokens,
  login,
  prepareDatabase,
  startSessions,
} from './data.js';
import { type LoadResult, type LoadSpec, prime, runInterleaved, runLoad, runRotation } from './load.js';
import { createFillerSessions, deleteKeysWithPrefix, measureAppTokenMemory, measureSessionMemory, type MemoryResult, redisFacts } from './memory.js';
import { type PrivateRedis, startPrivateRedis } from './private-redis.js';
import { freePort, ROOT, type ServerProcess, startServer } from './processes.js';
import { type BenchReport, judgeRatio, ratioStandardError, readmeSection, type ScaleResult, type ScenarioRow, type StormResult, targetLines, updateReadme, writeReport } from './report.js';
import { defineScenarios, type Pools, type ScenarioDef, stormLoads, TokenQueue } from './scenarios.js';
import { GET_KEY_INFIX, GET_KEY_TAIL, loadSettings, serviceOverrides } from './settings.js';

const settings = loadSettings(process.argv.slice(2), process.env);
/** Event-loop CPU per request, with how often it slept and woke (voluntary switches) and was preempted. */
const eventLoop = (r: LoadResult) => `${Math.round(r.eventLoopCpuUsPerReq)} µs, ${r.eventLoopSleepsPerReq.toFixed(1)} sleeps, ${r.eventLoopPreemptionsPerReq.toFixed(1)} preemptions`;
const log = (message: string) => process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
const wants = (id: string) => !settings.only || settings.only.test(id);
const prefix = `bench:${settings.runId}:`;
const secret = () => randomBytes(48).toString('base64url');
/** 1-minute load average when the run started: other work on the machine disturbs every number. */
let loadBefore = 0;

async function main(): Promise<number> {
  mkdirSync(settings.outDir, { recursive: true });
  loadBefore = loadavg()[0]!;
  const abandoned = await dropAbandonedSmokeDatabases(settings.adminUrl);
  if (abandoned.length > 0) log(`dropped databases of killed smoke runs: ${abandoned.join(', ')}`);
  log(`${settings.smoke ? 'smoke' : 'full'} run ${settings.runId}: database ${settings.databaseName}, Redis prefix ${prefix}, results to ${settings.outDir}`);
  const database = await prepareDatabase(settings.adminUrl, settings.databaseName);
  const redis = new Redis(settings.redisUrl, { lazyConnect: true });
  await redis.connect();
  const servers: ServerProcess[] = [];
  const starting: Promise<unknown>[] = [];
  let cleaned: Promise<void> | null = null;
  const cleanup = () =>
    (cleaned ??= (async () => {
      await Promise.all(starting);
      for (const server of servers.reverse()) await server.stop().catch(() => {});
      const deleted = await deleteKeysWithPrefix(redis, prefix).catch(() => -1);
      log(`deleted ${deleted} Redis keys under ${prefix}`);
      await redis.quit().catch(() => redis.disconnect());
      await database.handle.close();
      if (settings.dropDatabaseAfter) await database.drop();
    })());
  // Ctrl-C or a test's SIGTERM: stop the servers and remove the run's keys (and smoke database) first.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: cleaning up`);
      void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
  try {
    // In a smoke run the numbers mean nothing, so this runs alongside set-up instead of after it.
    const jwtTable = settings.smoke && wants('jwt') ? jwtAlgorithmTable() : null;
    jwtTable?.catch(() => {});
    const [servicePort, noAllowlistPort, baselinePort] = [await freePort(), await freePort(), await freePort()];
    const serviceUrl = `http://127.0.0.1:${servicePort}`;
    const serviceEnv: Record<string, string> = {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(servicePort),
      DATABASE_URL: database.url,
      REDIS_URL: settings.redisUrl,
      REDIS_KEY_PREFIX: prefix,
      APP_SECRET_PEPPER: secret(),
      SIGNING_KEY_ENCRYPTION_KEY: secret(),
      JWT_SECRET: secret(),
      // The load generator is a harness on 127.0.0.1: what the allowlist is for (README).
      RATE_LIMIT_ALLOWLIST: '127.0.0.1',
      // Wrong-password logins must measure argon2, not the throttle's 429s.
      LOGIN_THROTTLE_AFTER: '1000',
      LOGIN_LOCK_AFTER: '100000',
      // Tokens fetched at set-up must outlive the whole run (the default is 15 minutes).
      JWT_ACCESS_TTL: '1h',
      // Set, as for any multi-instance deployment: unset, each instance's iss would name its own port.
      ISSUER: serviceUrl,
      ...serviceOverrides(),
    };
    const config = loadConfig(serviceEnv);
    const postgresPids = async () =>
      ((await database.handle.db.execute(sql`select pid from pg_stat_activity where datname = ${settings.databaseName}`)) as unknown as Array<{ pid: number }>).map((row) => Number(row.pid));
    const keys = createKeys(prefix);
    const store = createRedisSessionStore({ client: redis, keys });

    log(`inserting ${settings.users} users (one argon2id hash with the service's parameters)`);
    const people = await insertUsers(database.handle, config, settings.runId, settings.users);
    const introspection = await hasPermission(database.handle, INTROSPECT_PERMISSION);

    const start = (...args: Parameters<typeof startServer>) => {
      const promise = startServer(...args).then((server) => {
        servers.push(server);
        return server;
      });
      starting.push(promise.catch(() => {}));
      return promise;
    };
    const [service, baseline] = await Promise.all([
      start('service', 'src/server.ts', serviceEnv, '/health/ready'),
      start('baseline', 'bench/baseline-server.ts', { ...serviceEnv, PORT: String(baselinePort) }, '/baseline/ready'),
    ]);
    // Started once the service has created the signing key, so every instance loads the same ring;
    // it starts while set-up goes on and is awaited by its scenario.
    const noAllowlistEnv = {
      ...serviceEnv,
      PORT: String(noAllowlistPort),
      RATE_LIMIT_ALLOWLIST: '',
      RATE_LIMIT_DEFAULT: '999999999/1m',
      RATE_LIMIT_LOGIN: '999999999/1m',
      RATE_LIMIT_REFRESH: '999999999/1m',
      RATE_LIMIT_TOKEN: '999999999/1m',
    };
    const noAllowlistStarting = wants('me.rate-limited') ? start('service (no allowlist)', 'src/server.ts', noAllowlistEnv, '/health/ready') : null;
    log(`service on ${service.baseUrl} (pid ${service.pid}), baseline on ${baseline.baseUrl} (pid ${baseline.pid})`);

    const adminToken = await login(service.baseUrl, people.admin.email);
    const apps = await createApps(service.baseUrl, adminToken, settings.runId, settings.apps, ['orders.orders.read']);
    let introspector: BenchApp | null = null;
    if (introspection) [introspector] = await createApps(service.baseUrl, adminToken, settings.runId, 1, ['orders.orders.read', INTROSPECT_PERMISSION], 'introspector');
    log(`${apps.length} apps registered${introspector ? ', plus one introspecting app' : `; no ${INTROSPECT_PERMISSION} permission in the catalog`}`);

    const load = (server: ServerProcess, def: ScenarioDef, overrides: Partial<LoadSpec> = {}): LoadSpec => ({
      baseUrl: server.baseUrl,
      serverPid: server.pid,
      connections: def.hashing ? settings.hashConnections : settings.fastConnections,
      durationSec: def.hashing ? settings.hashDurationSec : settings.durationSec,
      warmupSec: settings.warmupSec,
      next: def.next,
      ...(def.expectStatus ? { expectStatus: def.expectStatus } : {}),
      ...(def.check ? { check: def.check } : {}),
      redis,
      postgresPids,
      ...overrides,
    });

    // 1. Memory per record, and /me against a small and a large session population. Each
    //    population lives on its own private Redis (bench/private-redis.ts says why) behind its own
    //    service instance, and the two are measured in alternating slices, so the comparison does
    //    not span the minutes the filling takes. Not measured without a redis-server binary.
    let scale: ScaleResult | null = null;
    let sessionMemory: MemoryResult | null = null;
    let tokenMemory: MemoryResult | null = null;
    let phaseRedisDescription: string | null = null;
    if (wants('scale') || wants('memory')) {
      const poolSize = Math.min(settings.scaleSmall, people.users.length);
      const fillerSmall = settings.scaleSmall - poolSize;
      const fillerLarge = settings.scaleLarge - poolSize;
      if (settings.memorySessions > fillerLarge - fillerSmall) throw new Error('memorySessions must fit between scaleSmall and scaleLarge');
      // One after the other: each picks a free port.
      const smallRedis = await startPrivateRedis(redis);
      const largeRedis = await startPrivateRedis(redis);
      try {
        if (!smallRedis || !largeRedis) {
          log('memory and scale: not measured, no redis-server binary was found for the private instances');
        } else {
          phaseRedisDescription = largeRedis.description;
          const population = async (isolated: PrivateRedis, sessions: number) => {
            const phaseStore = createRedisSessionStore({ client: isolated.client, keys });
            const phaseService = await start(`service (${sessions} sessions)`, 'src/server.ts', { ...serviceEnv, PORT: String(await freePort()), REDIS_URL: isolated.url }, '/health/ready');
            const phaseUsers = await startSessions(phaseService.baseUrl, phaseStore, config, people.users.slice(0, poolSize), 0);
            const pools: Pools = { users: phaseUsers, apps, appTokens: [], refreshTokens: new TokenQueue([]), introspector: null };
            const me = defineScenarios(pools, config, settings.runId, () => phaseService.baseUrl).find((s) => s.id === 'me')!;
            await createFillerSessions(phaseStore, config, settings.runId, 0, fillerSmall);
            return { redis: isolated.client, store: phaseStore, service: phaseService, me };
          };
          const small = await population(smallRedis, settings.scaleSmall);
          const large = await population(largeRedis, settings.scaleLarge);
          // The apps' snapshots, which admin changes wrote to the shared Redis, so the store can issue there.
          const shared = createRedisAppTokenStore({ client: redis, keys });
          const privateStore = createRedisAppTokenStore({ client: large.redis, keys });
          for (const app of apps) await privateStore.putSnapshot((await shared.getSnapshot(app.appId))!);
          log(`memory: ${settings.memorySessions} sessions through the session store`);
          sessionMemory = await measureSessionMemory(large.redis, large.store, keys, config, settings.runId, fillerSmall, settings.memorySessions);
          log(`memory: ${settings.memoryTokens} app tokens through the app token store`);
          tokenMemory = await measureAppTokenMemory(large.redis, keys, config, apps, settings.memoryTokens);
          log(`filling up to ${settings.scaleLarge} live sessions`);
          await createFillerSessions(large.store, config, settings.runId, fillerSmall + settings.memorySessions, fillerLarge);
          for (const side of [small, large]) await prime(side.service.baseUrl, side.me.prime!(), settings.fastConnections);
          log(`/me with ${settings.scaleSmall} live sessions, interleaved with /me with ${settings.scaleLarge}`);
          const [smallRun, largeRun] = await runRotation(
            [small, large].map((side) => [load(side.service, side.me, { redis: side.redis })]),
            settings.slices,
            settings.laterWarmupSec,
          );
          scale = { smallSessions: settings.scaleSmall, largeSessions: settings.scaleLarge, small: smallRun!.results[0]!, large: largeRun!.results[0]! };
          log(`/me p99 ${scale.large.p99Ms.toFixed(2)} ms with ${settings.scaleLarge} sessions vs ${scale.small.p99Ms.toFixed(2)} ms with ${settings.scaleSmall} (slices ${scale.large.sliceRps.join(' ')} vs ${scale.small.sliceRps.join(' ')} req/s)`);
          await Promise.all([small.service.stop(), large.service.stop()]);
        }
      } finally {
        await Promise.all([smallRedis?.stop(), largeRedis?.stop()]);
      }
    }

    // 2. Sessions and access tokens for every user, the app tokens, and the keys the GET baseline reads.
    log(`sessions and access tokens for ${people.users.length} users`);
    const users = await startSessions(service.baseUrl, store, config, people.users, 0);
    const appTokens = await issueAppTokens(service.baseUrl, apps, settings.tokensPerApp);
    const pipeline = redis.pipeline();
    for (const user of users) {
      const value = JSON.stringify({ id: user.id, email: user.email, name: 'Bench User', role: 'CONSUMER' });
      pipeline.set(`${prefix}${GET_KEY_INFIX}${`Bearer ${user.accessToken}`.slice(-GET_KEY_TAIL)}`, value, 'EX', 7200);
    }
    await pipeline.exec();
    const pools: Pools = { users, apps, appTokens, refreshTokens: new TokenQueue(users.map((user) => user.refreshToken)), introspector };
    const scenarios = defineScenarios(pools, config, settings.runId, () => service.baseUrl);

    // 3. Every scenario, baselines first.
    const rows: ScenarioRow[] = [];
    for (const def of scenarios) {
      if (!wants(def.id)) continue;
      // --against-floor: the route against its own floor, so no target is judged.
      const againstFloor = settings.againstFloor && def.floor !== undefined;
      const comparedWith = againstFloor ? def.floor : def.baseline;
      const row: ScenarioRow = {
        id: def.id,
        label: def.label,
        server: def.server,
        connections: def.hashing ? settings.hashConnections : settings.fastConnections,
        durationSec: def.hashing ? settings.hashDurationSec : settings.durationSec,
        result: null,
        ...(comparedWith ? { baseline: comparedWith } : {}),
        ...(def.target && !againstFloor ? { target: def.target } : {}),
        ...(def.floor ? { floor: def.floor } : {}),
      };
      rows.push(row);
      const unavailable = def.unavailable ? await def.unavailable() : null;
      if (unavailable) {
        row.unavailable = unavailable;
        log(`${def.id}: not available (${unavailable})`);
        continue;
      }
      // The no-allowlist instance: the same service, but the load generator is not allowlisted and the
      // limits are too high to trigger, so the rate-limit counter's cost shows. Stopped after its run.
      const noAllowlist = def.server === 'service-no-allowlist' ? await noAllowlistStarting! : null;
      const server = def.server === 'baseline' ? baseline : (noAllowlist ?? service);
      log(`${def.id}: ${def.label}${comparedWith ? `, interleaved with ${comparedWith}` : ''}`);
      if (def.prime) await prime(server.baseUrl, def.prime(), settings.fastConnections);
      const baselineDef = comparedWith ? scenarios.find((candidate) => candidate.id === comparedWith) : undefined;
      // A floor's caches start as warm as its route's (baselines have none).
      if (againstFloor && baselineDef?.prime) await prime(baseline.baseUrl, baselineDef.prime(), settings.fastConnections);
      if (baselineDef) {
        const slices = def.hashing ? settings.hashSlices : settings.slices;
        const paired = await runInterleaved(load(baseline, baselineDef, { connections: row.connections, durationSec: row.durationSec }), load(server, def), slices, settings.laterWarmupSec);
        row.result = paired.scenario;
        row.pairedBaseline = paired.baseline;
        row.ratio = paired.scenario.rps / paired.baseline.rps;
        row.ratioError = ratioStandardError(paired.scenario, paired.baseline);
        row.pass = judgeRatio(row.ratio, row.target);
      } else {
        row.result = await runLoad(load(server, def));
      }
      if (noAllowlist) await noAllowlist.stop();
      const ratio = row.ratio === undefined || row.ratio === null ? '' : `, ${row.ratio.toFixed(2)}${row.ratioError ? ` ± ${row.ratioError.toFixed(2)}` : ''} of ${comparedWith}'s ${Math.round(row.pairedBaseline!.rps)} req/s (slices ${row.result.sliceRps.join(' ')} vs ${row.pairedBaseline!.sliceRps.join(' ')})`;
      log(`${def.id}: ${Math.round(row.result.rps)} req/s, p50 ${row.result.p50Ms.toFixed(2)} ms, p99 ${row.result.p99Ms.toFixed(2)} ms, errors ${row.result.errors}, server CPU ${Math.round(row.result.serverCpuUsPerReq)} µs/req (event loop ${eventLoop(row.result)})${row.pairedBaseline ? ` vs ${Math.round(row.pairedBaseline.serverCpuUsPerReq)} (${eventLoop(row.pairedBaseline)})` : ''}${ratio}`);
    }

    // 4. /me while logins saturate the service, in slices alternating with each load alone.
    let storm: StormResult | null = null;
    if (wants('storm')) {
      log('storm: /me while logins saturate the service, interleaved with /me alone and logins alone');
      const { me, login: loginDef } = stormLoads(scenarios);
      const [together, meAlone, loginAlone] = await runRotation(
        [[load(service, me, { durationSec: settings.hashDurationSec }), load(service, loginDef)], [load(service, me)], [load(service, loginDef)]],
        settings.hashSlices,
        settings.laterWarmupSec,
      );
      const [meStorm, loginStorm] = together!.results;
      const [meSolo, loginSolo] = [meAlone!.results[0]!, loginAlone!.results[0]!];
      storm = { me: meStorm!, login: loginStorm!, meSolo, loginSolo, shareSum: meStorm!.rps / meSolo.rps + loginStorm!.rps / loginSolo.rps, serverCpuUsPerReq: together!.serverCpuUsPerReq };
      log(`storm: /me ${Math.round(meStorm!.rps)} of ${Math.round(meSolo.rps)} req/s alone, login ${Math.round(loginStorm!.rps)} of ${Math.round(loginSolo.rps)}, share sum ${storm.shareSum.toFixed(2)}, /me p99 ${meStorm!.p99Ms.toFixed(2)} ms`);
    }

    // 5. Sign and verify cost per algorithm, for the record (a smoke run started it early, in the background).
    const jwtAlgorithms = await (jwtTable ?? (wants('jwt') ? jwtAlgorithmTable() : null));

    const serviceErrors = [service, baseline].map((server) => server.output().trim()).filter(Boolean);
    const report = await assemble(rows, storm, sessionMemory && tokenMemory ? { sessions: sessionMemory, appTokens: tokenMemory } : null, scale, jwtAlgorithms, redis, database.handle, serviceErrors, phaseRedisDescription);
    const written = writeReport(settings.outDir, report);
    log(`results: ${written.markdown}, ${written.json}`);
    if (settings.updateReadme) log(updateReadme(join(ROOT, 'README.md'), report) ? 'README Benchmarks table updated' : 'README has no bench-results markers; not updated');
    process.stdout.write(`\n${readmeSection(report)}\n`);
    return 0;
  } finally {
    await cleanup();
  }
}

/** bench/jwt-algorithms.ts's markdown table (sign and verify cost per algorithm). */
function jwtAlgorithmTable(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', 'bench/jwt-algorithms.ts'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, BENCH_JWT_MS: settings.smoke ? '50' : '500' } }, (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    );
  });
}

async function assemble(
  rows: ScenarioRow[],
  storm: StormResult | null,
  memory: BenchReport['memory'],
  scale: ScaleResult | null,
  jwtAlgorithms: string | null,
  redis: Redis,
  handle: Awaited<ReturnType<typeof prepareDatabase>>['handle'],
  serverOutput: string[],
  phaseRedis: string | null,
): Promise<BenchReport> {
  const facts = await redisFacts(redis);
  const pgVersion = String(((await handle.db.execute(sql`show server_version`)) as unknown as Array<{ server_version: string }>)[0]?.server_version ?? '?');
  const commit = (() => {
    try {
      const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
      const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'package.json'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
      return dirty ? `${head} + uncommitted changes under src/` : head;
    } catch {
      return 'unknown';
    }
  })();
  const autocannonVersion = (JSON.parse(readFileSync(join(ROOT, 'node_modules/autocannon/package.json'), 'utf8')) as { version: string }).version;
  const cpu = cpus();
  const date = new Date().toISOString();
  const s = settings;
  const header =
    `Run ${date.slice(0, 16).replace('T', ' ')} UTC on ${cpu.length} cores (${cpu[0]?.model.trim() ?? '?'}), Node ${process.version}, ` +
    `Redis ${facts.version} (hash-max-listpack-value ${facts.hashMaxListpackValue}), PostgreSQL ${pgVersion}, commit ${commit}. ` +
    `Service in production mode (LOG_LEVEL=warn); load from autocannon ${autocannonVersion} on the same machine, HTTP/1.1 keep-alive, no pipelining, ` +
    `${s.fastConnections} connections (${s.hashConnections} on hashing routes), ${s.warmupSec} s warm-up, ${s.durationSec} s per scenario (${s.hashDurationSec} s with argon2) in ${s.slices} slice${s.slices === 1 ? '' : 's'} alternating with its baseline. ` +
    `Data: ${s.users.toLocaleString('en-US')} users with live sessions, ${s.apps} apps with ${s.tokensPerApp} live tokens each, tokens drawn at random per request. ` +
    `Load generator, service, Redis and Postgres share the ${cpu.length} cores, for baselines and scenarios alike ` +
    `(1-minute load average ${loadBefore.toFixed(2)} when the run started, ${loadavg()[0]!.toFixed(2)} when it ended).` +
    Object.entries(serviceOverrides()).map(([name, value]) => ` Service setting ${name}=${value}.`).join('') +
    (s.againstFloor ? ' Routes with a floor measured against their floor, not their baseline (--against-floor): no target judged.' : '');
  const body = { rows, storm, memory, scale, jwtAlgorithms };
  const notes: string[] = [];
  if (loadBefore > 1) notes.push(`The machine was already busy when the run started (load average ${loadBefore.toFixed(2)} on ${cpu.length} cores): every number here is disturbed by that work.`);
  for (const row of rows) {
    if (row.result && row.result.loadgenCoreShare > 0.9) notes.push(`${row.id}: the load generator used ${(row.result.loadgenCoreShare * 100).toFixed(0)}% of a core, so it may have limited this rate.`);
  }
  if (scale && scale.small.loadgenCoreShare > 0.9) notes.push(`scale: the load generator used ${(scale.small.loadgenCoreShare * 100).toFixed(0)}% of a core.`);
  if (phaseRedis) notes.push(`Memory per record and /me with ${s.scaleSmall.toLocaleString('en-US')} vs ${s.scaleLarge.toLocaleString('en-US')} live sessions: each population on ${phaseRedis}, behind its own service instance, the two measured in alternating slices.`);
  for (const output of serverOutput) notes.push(`server output (warnings and errors): ${output.slice(0, 2000).replaceAll('\n', ' ')}`);
  return {
    meta: {
      date,
      smoke: s.smoke,
      header,
      commit,
      node: process.version,
      cores: cpu.length,
      cpuModel: cpu[0]?.model.trim() ?? null,
      redis: facts,
      postgres: pgVersion,
      autocannon: autocannonVersion,
      loadAverage: { before: loadBefore, after: loadavg()[0]! },
      phaseRedis,
      settings: { ...s, only: s.only?.source ?? null },
    },
    ...body,
    targets: targetLines(body),
    notes,
  };
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
