/**
 * Prometheus metrics (prom-client), kept in a registry of this app's own (tests build many apps
 * in one process, and the global default registry would mix them); served at GET /metrics by
 * src/modules/metrics. Registered early, so its onResponse hook covers every route.
 *
 * Cost on the hot paths, which must keep their benchmark targets: one onResponse hook observing a
 * histogram child cached per route, method and status (src/lib/histogram.ts: prom-client's
 * children hash their labels on every observe); counters that keep plain totals per label value,
 * read by prom-client when scraped; no Redis or Postgres call for metrics. Event-buffer depth and
 * drops are read when scraped, not counted per event.
 *
 * Postgres latency is a probe (SELECT 1 every 10 s), not per-query timing: neither postgres.js
 * nor PGlite reports when a query completes, and wrapping Drizzle's sessions would miss
 * transactions. Redis latency is per command (src/redis/client.ts timeCommands).
 */
import { sql } from 'drizzle-orm';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { performance } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ERRORS, type ErrorCode } from '../errors.js';
import { type AuthMetrics, REFRESH_OUTCOMES, type RefreshOutcome, TOKEN_KINDS, type TokenKind } from '../lib/auth-metrics.js';
import { LabelledHistogram } from '../lib/histogram.js';
import { timeCommands } from '../redis/client.js';

const DB_PROBE_INTERVAL_MS = 10_000;
/** Label of every request no route matched, so random URLs cannot grow the series. */
const UNMATCHED = 'unmatched';
const DENIAL_STATUSES = new Set([401, 403, 429]);

export type PrincipalKind = 'user' | 'app';

export interface Metrics {
  readonly registry: Registry;
  /** GET /metrics: the registry's text plus the per-request histograms (src/lib/histogram.ts). */
  exposition(): Promise<string>;
  /** A 401, 403 or 429 by its code; called by every wire format's error handler. */
  denied(code: ErrorCode): void;
  /** A route's access requirement was met (src/plugins/access.ts). */
  allowed(principal: PrincipalKind): void;
  /** A request refused by @fastify/rate-limit. */
  rateLimited(request: FastifyRequest): void;
  /** Handed to the framework-free services. */
  readonly auth: AuthMetrics;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
}

type Inc = { inc(value?: number): void };
type Observe = { observe(value: number): void };

/** One child per label value, built on first use; lookups allocate nothing. */
function childrenOf<T>(build: (value: string) => T): (value: string) => T {
  const children = new Map<string, T>();
  return (value) => {
    let child = children.get(value);
    if (child === undefined) children.set(value, (child = build(value)));
    return child;
  };
}

/**
 * A one-label counter whose totals are plain numbers, handed to prom-client when scraped: inc()
 * on a prom-client child validates and hashes its labels on every call, and these are bumped on
 * the hot paths (every allowed request, every token).
 */
function scrapedCounter(registers: Registry[], name: string, help: string, labelName: string): (value: string) => Inc {
  const cells = new Map<string, { total: number; inc(by?: number): void }>();
  new Counter({
    name,
    help,
    labelNames: [labelName],
    registers,
    collect() {
      this.reset();
      for (const [value, cell] of cells) this.inc({ [labelName]: value }, cell.total);
    },
  });
  return childrenOf((value) => {
    const cell = {
      total: 0,
      inc(by = 1) {
        cell.total += by;
      },
    };
    cells.set(value, cell);
    return cell;
  });
}

function createInstruments(registry: Registry) {
  const registers = [registry];
  return {
    // The two observed on every request (and every Redis command): the cheap histogram.
    requestDuration: new LabelledHistogram(
      'portcullis_http_request_duration_seconds',
      'Time from request to response, by route pattern (unmatched for any URL no route matched), method and status code.',
      ['method', 'route', 'status_code'],
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ),
    redisDuration: new LabelledHistogram(
      'portcullis_redis_command_duration_seconds',
      'Redis round trip per command, from issue to reply, including the wait for its event-loop turn\'s coalesced write (failures and timeouts included), by command.',
      ['command'],
      [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5],
    ),
    denials: scrapedCounter(registers, 'portcullis_auth_denials_total', 'Requests refused with 401, 403 or 429, by reason code (README, Error codes).', 'code'),
    allowed: scrapedCounter(registers, 'portcullis_auth_allowed_total', "Requests whose route access requirement was met, by principal (user or app token). Forward-auth answers are the /api/auth/check series of portcullis_http_request_duration_seconds.", 'principal'),
    tokensIssued: scrapedCounter(registers, 'portcullis_tokens_issued_total', 'Access tokens issued: user_access (login, registration, refresh), app_access (API V3 and OAuth client credentials).', 'kind'),
    refreshes: scrapedCounter(registers, 'portcullis_refreshes_total', 'Refresh-token requests by outcome: rotated, replayed (within the grace window), reused (theft detected, session revoked), or why it was refused.', 'outcome'),
    rateLimitHits: scrapedCounter(registers, 'portcullis_rate_limit_hits_total', 'Requests refused by a rate limit (429 RATE_LIMITED), by route pattern.', 'route'),
    dbProbeDuration: new Histogram({
      name: 'portcullis_db_probe_duration_seconds',
      help: `Postgres round trip of a SELECT 1 probe every ${DB_PROBE_INTERVAL_MS / 1000} s (a probe, not per-query timing: the drivers report no query completion).`,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5, 5],
      registers,
    }),
    dbProbeFailures: new Counter({
      name: 'portcullis_db_probe_failures_total',
      help: 'Postgres probes that failed.',
      registers,
    }),
  };
}

export default fp(
  async function metricsPlugin(app: FastifyInstance) {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const instruments = createInstruments(registry);

    // Event buffers (audit log, auth events) are read at scrape time; the writers keep the counts.
    const buffers = () => [
      ['audit', app.hasDecorator('audit') ? app.audit.buffer : undefined],
      ['auth_events', app.hasDecorator('authEvents') ? app.authEvents : undefined],
      ['login_stamps', app.hasDecorator('loginStamps') ? app.loginStamps.buffer : undefined],
    ] as const;
    new Gauge({
      name: 'portcullis_event_buffer_depth',
      help: 'Events waiting in memory to be written to Postgres, by buffer.',
      labelNames: ['buffer'] as const,
      registers: [registry],
      collect() {
        for (const [name, buffer] of buffers()) if (buffer) this.set({ buffer: name }, buffer.pending);
      },
    });
    new Counter({
      name: 'portcullis_event_buffer_dropped_total',
      help: 'Events dropped because their buffer was full (Postgres unreachable for long) or Postgres refused the row, by buffer.',
      labelNames: ['buffer'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [name, buffer] of buffers()) if (buffer) this.inc({ buffer: name }, buffer.dropped);
      },
    });

    const denial = instruments.denials;
    for (const [code, spec] of Object.entries(ERRORS)) if (DENIAL_STATUSES.has(spec.status)) denial(code).inc(0);
    const allowed = instruments.allowed;
    const issued = instruments.tokensIssued;
    const refreshed = instruments.refreshes;
    const rateLimitHit = instruments.rateLimitHits;
    const redisCommand = childrenOf<Observe>((command) => instruments.redisDuration.child(command));
    // Zero series from the start, so rate() and alerts work before the first event.
    for (const principal of ['user', 'app']) allowed(principal).inc(0);
    for (const kind of TOKEN_KINDS) issued(kind).inc(0);
    for (const outcome of REFRESH_OUTCOMES) refreshed(outcome).inc(0);

    // Request durations: route config object (one per route context, the 404 one included) ->
    // method -> status -> histogram child.
    const byRoute = new WeakMap<object, Map<string, Map<number, Observe>>>();
    const NO_CONFIG = {};
    function requestChild(config: object, route: string, method: string, status: number): Observe {
      let byMethod = byRoute.get(config);
      if (!byMethod) byRoute.set(config, (byMethod = new Map()));
      let byStatus = byMethod.get(method);
      if (!byStatus) byMethod.set(method, (byStatus = new Map()));
      let child = byStatus.get(status);
      if (!child) byStatus.set(status, (child = instruments.requestDuration.child(method, route, String(status))));
      return child;
    }
    app.addHook('onResponse', function recordRequest(request: FastifyRequest, reply: FastifyReply, done: () => void) {
      const route = request.routeOptions;
      const child = requestChild(route.config ?? NO_CONFIG, route.url ?? UNMATCHED, request.method, reply.statusCode);
      child.observe(reply.elapsedTime / 1000);
      done();
    });

    let probing = false;
    async function probeDatabase(): Promise<void> {
      if (probing) return;
      probing = true;
      const start = performance.now();
      try {
        await app.db.execute(sql`select 1`);
        instruments.dbProbeDuration.observe((performance.now() - start) / 1000);
      } catch {
        instruments.dbProbeFailures.inc();
      } finally {
        probing = false;
      }
    }
    let probeTimer: NodeJS.Timeout | undefined;
    // The backends are opened by plugins registered after this one; instrument them once all are up.
    app.addHook('onReady', async () => {
      if (app.hasDecorator('kv') && app.kv.kind === 'redis') {
        timeCommands(app.kv.client, (command, seconds) => redisCommand(command).observe(seconds));
      }
      if (app.hasDecorator('db')) {
        await probeDatabase();
        probeTimer = setInterval(() => void probeDatabase(), DB_PROBE_INTERVAL_MS);
        probeTimer.unref();
      }
    });
    app.addHook('preClose', async () => clearInterval(probeTimer));

    app.decorate<Metrics>('metrics', {
      registry,
      async exposition() {
        return (await registry.metrics()) + instruments.requestDuration.render() + instruments.redisDuration.render();
      },
      denied: (code) => denial(code).inc(),
      allowed: (principal) => allowed(principal).inc(),
      rateLimited: (request) => rateLimitHit(request.routeOptions.url ?? UNMATCHED).inc(),
      auth: {
        tokenIssued: (kind: TokenKind) => issued(kind).inc(),
        refreshed: (outcome: RefreshOutcome) => refreshed(outcome).inc(),
      },
    });
  },
  { name: 'metrics' },
);
