/**
 * What each scenario sends. Every request draws its token, credentials or cookie at random from
 * a pool (the refresh scenario takes a pool entry and puts the rotated successor back), so no
 * cache sees one hot key. Baselines draw from the same pools and send same-sized headers and
 * bodies, so the load generator does the same work on both sides of a ratio.
 */
import type { Config } from '../src/config.js';
import type { BenchApp, BenchUser } from './data.js';
import { INTROSPECT_PERMISSION, refreshCookieOf } from './data.js';
import type { RequestShape } from './load.js';
import { BENCH_PASSWORD } from './settings.js';

export interface Pools {
  users: BenchUser[];
  apps: BenchApp[];
  appTokens: string[];
  /** Current refresh tokens, one per session not in flight; refresh takes the oldest and returns its successor. */
  refreshTokens: TokenQueue;
  introspector: BenchApp | null;
}

export type Target =
  | { kind: 'min'; min: number }
  | { kind: 'range'; min: number; max: number };

export interface ScenarioDef {
  id: string;
  label: string;
  server: 'service' | 'service-no-allowlist' | 'baseline';
  hashing: boolean;
  next: () => RequestShape;
  expectStatus?: number;
  check?: (body: string, headers: Record<string, string | string[]>) => boolean;
  baseline?: string;
  target?: Target;
  /** The floor scenario of this route: its required work alone (bench/floor-routes.ts), shown beside its target. */
  floor?: string;
  /** Every distinct request of the scenario's pool, sent once before it is measured (bench/load.ts prime). */
  prime?: () => RequestShape[];
  /** Set when the route does not exist on this build (e.g. introspection not merged yet). */
  unavailable?: () => Promise<string | null>;
}

/** FIFO of refresh tokens (a stack would rotate the same few sessions over and over). */
export class TokenQueue {
  private items: (string | undefined)[];
  private head = 0;
  private tail: number;
  constructor(initial: readonly string[], capacity = initial.length * 2 + 1024) {
    this.items = new Array<string | undefined>(capacity);
    initial.forEach((token, i) => (this.items[i] = token));
    this.tail = initial.length;
  }
  get size(): number {
    return this.tail - this.head;
  }
  take(): string | undefined {
    if (this.head === this.tail) return undefined;
    const token = this.items[this.head % this.items.length];
    this.items[this.head++ % this.items.length] = undefined;
    return token;
  }
  put(token: string): void {
    if (this.size >= this.items.length) throw new Error('token queue overflow');
    this.items[this.tail++ % this.items.length] = token;
  }
  /** Any current token, without taking it (the baseline only needs a same-sized cookie). */
  sample(): string {
    return this.items[(this.head + ((Math.random() * this.size) | 0)) % this.items.length] ?? 'pool-empty';
  }
}

const pick = <T>(pool: readonly T[]): T => pool[(Math.random() * pool.length) | 0]!;
const JSON_TYPE = { 'content-type': 'application/json' };
const FORM_TYPE = { 'content-type': 'application/x-www-form-urlencoded' };
const basic = (app: BenchApp) => `Basic ${Buffer.from(`${encodeURIComponent(app.clientId)}:${encodeURIComponent(app.clientSecret)}`).toString('base64')}`;

export function defineScenarios(pools: Pools, config: Config, runId: string, serviceUrl: () => string): ScenarioDef[] {
  const bearers = pools.users.map((user) => `Bearer ${user.accessToken}`);
  const appBearers = pools.appTokens.map((token) => `Bearer ${token}`);
  const tokenBodies = pools.apps.map((app) => JSON.stringify({ client_id: app.clientId, client_secret: app.clientSecret }));
  const basics = pools.apps.map(basic);
  const loginBodies = pools.users.map((user) => JSON.stringify({ email: user.email, password: BENCH_PASSWORD }));
  const wrongBodies = pools.users.map((user) => JSON.stringify({ email: user.email, password: `${BENCH_PASSWORD} but wrong` }));
  const cookie = (token: string) => `${config.REFRESH_COOKIE_NAME}=${token}`;
  const introspectAuth = pools.introspector ? basic(pools.introspector) : '';
  let unknown = 0;
  const unknownBody = () => JSON.stringify({ email: `nobody${unknown++}-${runId}@bench.example`, password: BENCH_PASSWORD });

  /** A GET of `path` with each of `pool`'s Authorization values: one drawn at random per request, and all of them to prime. */
  const bearerGets = (path: string, pool: readonly string[]) => {
    const of = (authorization: string): RequestShape => ({ method: 'GET', path, headers: { authorization } });
    return { next: () => of(pick(pool)), prime: () => pool.map(of) };
  };
  const me = bearerGets('/api/auth/me', bearers);
  const introspectOf = (token: string, path = '/oauth2/introspect'): RequestShape => ({ method: 'POST', path, headers: { authorization: introspectAuth, ...FORM_TYPE }, body: `token=${encodeURIComponent(token)}` });
  return [
    { id: 'base.json', label: 'baseline: bare JSON', server: 'baseline', hashing: false, next: () => ({ method: 'GET', path: '/baseline/json' }) },
    { id: 'base.get', label: 'baseline: 1 Redis GET', server: 'baseline', hashing: false, next: () => ({ method: 'GET', path: '/baseline/get', headers: { authorization: pick(bearers) } }) },
    { id: 'base.set', label: 'baseline: 1 Redis SET', server: 'baseline', hashing: false, next: () => ({ method: 'POST', path: '/baseline/set', headers: JSON_TYPE, body: pick(tokenBodies) }) },
    {
      id: 'base.refresh',
      label: 'baseline: 1 Redis round trip + 1 sign',
      server: 'baseline',
      hashing: false,
      next: () => ({ method: 'POST', path: '/baseline/refresh', headers: { cookie: cookie(pools.refreshTokens.sample()) } }),
    },
    { id: 'base.argon2', label: 'baseline: 1 argon2id verify', server: 'baseline', hashing: true, next: () => ({ method: 'POST', path: '/baseline/argon2', headers: JSON_TYPE, body: pick(loginBodies) }) },
    { id: 'base.sign', label: `baseline: 1 access-token sign (${config.JWT_ALGORITHM})`, server: 'baseline', hashing: false, next: () => ({ method: 'GET', path: '/baseline/sign' }) },

    { id: 'me', label: 'GET /api/auth/me (JWT + session check)', server: 'service', hashing: false, ...me, baseline: 'base.get', target: { kind: 'min', min: 0.75 }, floor: 'floor.me' },
    { id: 'floor.me', label: "floor: /me's required work alone (bench-only route)", server: 'baseline', hashing: false, ...bearerGets('/floor/me', bearers), baseline: 'base.get' },
    { id: 'me.rate-limited', label: 'GET /api/auth/me, not allowlisted (rate-limit counter on)', server: 'service-no-allowlist', hashing: false, ...me, baseline: 'base.get' },
    { id: 'check.app', label: 'GET /api/auth/check, app token', server: 'service', hashing: false, ...bearerGets('/api/auth/check', appBearers), baseline: 'base.get', target: { kind: 'min', min: 0.85 }, floor: 'floor.check' },
    { id: 'floor.check', label: "floor: /check's required work alone, app token (bench-only route)", server: 'baseline', hashing: false, ...bearerGets('/floor/check', appBearers), baseline: 'base.get' },
    {
      id: 'introspect',
      label: 'POST /oauth2/introspect, opaque token',
      server: 'service',
      hashing: false,
      next: () => introspectOf(pick(pools.appTokens)),
      prime: () => pools.appTokens.map((token) => introspectOf(token)),
      check: (body) => body.includes('"active":true'),
      baseline: 'base.get',
      target: { kind: 'min', min: 0.75 },
      floor: 'floor.introspect',
      unavailable: async () => {
        if (!pools.introspector) return `permission ${INTROSPECT_PERMISSION} is not in the seeded catalog`;
        const response = await fetch(`${serviceUrl()}/oauth2/introspect`, {
          method: 'POST',
          headers: { authorization: introspectAuth, ...FORM_TYPE },
          body: `token=${encodeURIComponent(pools.appTokens[0]!)}`,
        });
        const text = await response.text();
        if (response.status === 404) return 'POST /oauth2/introspect is not served by this build';
        if (response.status !== 200 || !text.includes('"active":true')) return `POST /oauth2/introspect answered ${response.status} ${text.slice(0, 200)}`;
        return null;
      },
    },
    {
      id: 'floor.introspect',
      label: "floor: introspection's required work alone, app token (bench-only route)",
      server: 'baseline',
      hashing: false,
      next: () => introspectOf(pick(pools.appTokens), '/floor/introspect'),
      prime: () => pools.appTokens.map((token) => introspectOf(token, '/floor/introspect')),
      check: (body) => body.includes('"active":true'),
      baseline: 'base.get',
      unavailable: async () => (pools.introspector ? null : `permission ${INTROSPECT_PERMISSION} is not in the seeded catalog`),
    },
    {
      id: 'token.v3',
      label: 'POST /api/v3/auth/token',
      server: 'service',
      hashing: false,
      next: () => ({ method: 'POST', path: '/api/v3/auth/token', headers: JSON_TYPE, body: pick(tokenBodies) }),
      baseline: 'base.set',
      target: { kind: 'min', min: 0.75 },
      floor: 'floor.token',
    },
    {
      id: 'floor.token',
      label: "floor: token issuance's required work alone, less its two Postgres rows (bench-only route)",
      server: 'baseline',
      hashing: false,
      next: () => ({ method: 'POST', path: '/floor/token', headers: JSON_TYPE, body: pick(tokenBodies) }),
      baseline: 'base.set',
    },
    {
      id: 'token.oauth2',
      label: 'POST /oauth2/token (client_secret_basic)',
      server: 'service',
      hashing: false,
      next: () => ({ method: 'POST', path: '/oauth2/token', headers: { authorization: pick(basics), ...FORM_TYPE }, body: 'grant_type=client_credentials' }),
      baseline: 'base.set',
      target: { kind: 'min', min: 0.75 },
      floor: 'floor.token',
    },
    {
      id: 'refresh',
      label: 'POST /api/auth/refresh (rotation)',
      server: 'service',
      hashing: false,
      // A token from the pool per request; its successor goes back in on success. A failed refresh loses
      // its session from the pool and counts as an error.
      next: () => ({ method: 'POST', path: '/api/auth/refresh', headers: { cookie: cookie(pools.refreshTokens.take() ?? 'pool-empty') } }),
      check: (_body, headers) => {
        const next = refreshCookieOf(config, headers);
        if (next) pools.refreshTokens.put(next);
        return next !== null;
      },
      baseline: 'base.refresh',
      target: { kind: 'min', min: 0.75 },
    },
    { id: 'login.ok', label: 'POST /api/auth/login, right password', server: 'service', hashing: true, next: () => ({ method: 'POST', path: '/api/auth/login', headers: JSON_TYPE, body: pick(loginBodies) }), baseline: 'base.argon2', target: { kind: 'min', min: 0.9 }, floor: 'floor.login.stores' },
    {
      id: 'floor.login',
      label: "floor: a login's argon2 verify and access-token sign alone (bench-only route)",
      server: 'baseline',
      hashing: true,
      next: () => ({ method: 'POST', path: '/floor/login', headers: JSON_TYPE, body: pick(loginBodies) }),
      baseline: 'base.argon2',
    },
    {
      id: 'floor.login.stores',
      label: "floor: a login's required work with its stores (throttle, user SELECT, session), less its batched stamp and event (bench-only route)",
      server: 'baseline',
      hashing: true,
      next: () => ({ method: 'POST', path: '/floor/login-stores', headers: JSON_TYPE, body: pick(loginBodies) }),
      check: (_body, headers) => refreshCookieOf(config, headers) !== null,
      baseline: 'base.argon2',
    },
    {
      id: 'floor.login.wrong',
      label: "floor: a wrong password's required work with its stores (throttle, user SELECT), less its batched event (bench-only route)",
      server: 'baseline',
      hashing: true,
      next: () => ({ method: 'POST', path: '/floor/login-stores', headers: JSON_TYPE, body: pick(wrongBodies) }),
      expectStatus: 401,
      baseline: 'base.argon2',
    },
    {
      id: 'floor.login.unknown',
      label: "floor: an unknown email's required work with its stores (throttle, user SELECT), less its batched event (bench-only route)",
      server: 'baseline',
      hashing: true,
      next: () => ({ method: 'POST', path: '/floor/login-stores', headers: JSON_TYPE, body: unknownBody() }),
      expectStatus: 401,
      baseline: 'base.argon2',
    },
    {
      id: 'login.wrong',
      label: 'POST /api/auth/login, wrong password',
      server: 'service',
      hashing: true,
      next: () => ({ method: 'POST', path: '/api/auth/login', headers: JSON_TYPE, body: pick(wrongBodies) }),
      expectStatus: 401,
      baseline: 'base.argon2',
      target: { kind: 'range', min: 0.9, max: 1.1 },
      floor: 'floor.login.wrong',
    },
    {
      id: 'login.unknown',
      label: 'POST /api/auth/login, unknown email',
      server: 'service',
      hashing: true,
      next: () => ({ method: 'POST', path: '/api/auth/login', headers: JSON_TYPE, body: unknownBody() }),
      expectStatus: 401,
      baseline: 'base.argon2',
      target: { kind: 'range', min: 0.9, max: 1.1 },
      floor: 'floor.login.unknown',
    },
  ];
}

/** Login saturating alongside /me: the storm's two loads (same requests as scenarios login.ok and me). */
export function stormLoads(scenarios: ScenarioDef[]): { me: ScenarioDef; login: ScenarioDef } {
  return { me: scenarios.find((s) => s.id === 'me')!, login: scenarios.find((s) => s.id === 'login.ok')! };
}
