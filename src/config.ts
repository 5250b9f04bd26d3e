/**
 * The only reader of process.env. ConfigSchema is the single definition of every setting: it
 * validates, documents (README's configuration table is tested against it) and types them.
 * loadConfig throws one ConfigError listing every bad variable, so start-up fails once, clearly.
 */
import { randomBytes } from 'node:crypto';
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { parseDurationSeconds } from './lib/duration.js';

const Duration = (defaultValue: string, description: string) =>
  Type.String({ pattern: '^\\d{1,9}[smhd]?$', default: defaultValue, description });
const Bool = (defaultValue: boolean | undefined, description: string) =>
  defaultValue === undefined ? Type.Optional(Type.Boolean({ description })) : Type.Boolean({ default: defaultValue, description });
const Int = (defaultValue: number, minimum: number, maximum: number, description: string) =>
  Type.Integer({ default: defaultValue, minimum, maximum, description });
const RateLimit = (defaultValue: string, description: string) =>
  Type.String({ pattern: '^\\d{1,9}/\\d{1,9}[smhd]?$', default: defaultValue, description: `${description} Format: requests/window, e.g. 10/1m.` });

export const ConfigSchema = Type.Object({
  NODE_ENV: Type.Enum(['development', 'test', 'production'], {
    default: 'development',
    description:
      'development, test or production. production requires DATABASE_URL, REDIS_URL, APP_SECRET_PEPPER and SIGNING_KEY_ENCRYPTION_KEY (JWT_SECRET instead when JWT_ALGORITHM=HS256).',
  }),
  HOST: Type.String({ default: '127.0.0.1', minLength: 1, description: 'Interface to listen on (0.0.0.0 in containers).' }),
  PORT: Int(3000, 0, 65535, 'TCP port to listen on.'),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info', description: 'pino log level.' }),
  DATABASE_URL: Type.Optional(
    Type.String({ pattern: '^postgres(ql)?://', description: 'Postgres URL. Unset: embedded PGlite under PGLITE_DATA_DIR.' }),
  ),
  PGLITE_DATA_DIR: Type.String({
    default: './data/pglite',
    minLength: 1,
    description: 'Where embedded PGlite keeps its files when DATABASE_URL is unset ("memory://" keeps nothing).',
  }),
  REDIS_URL: Type.Optional(
    Type.String({ pattern: '^rediss?://', description: 'Redis URL. Unset: an in-process store (single instance only, lost on restart).' }),
  ),
  REDIS_KEY_PREFIX: Type.String({
    default: 'pc:',
    pattern: '^[A-Za-z0-9:_.-]{0,48}$',
    description: 'Prefix of every Redis key, so several deployments can share one Redis.',
  }),
  JWT_ALGORITHM: Type.Enum(['RS256', 'ES256', 'EdDSA', 'HS256'], {
    default: 'RS256',
    description:
      'Signature of user access tokens. RS256, ES256 and EdDSA use keys kept in Postgres and published at /.well-known/jwks.json; HS256 uses JWT_SECRET (single-service setups, nothing published). RS256 is the default because it verifies fastest (see README, "Signing algorithm").',
  }),
  JWT_SECRET: Type.Optional(
    Type.String({ minLength: 32, description: 'HS256 key for access tokens when JWT_ALGORITHM=HS256, at least 32 characters. Unset outside production: a random one per start.' }),
  ),
  SIGNING_KEY_ENCRYPTION_KEY: Type.Optional(
    Type.String({
      minLength: 32,
      description: 'Secret that encrypts the private signing keys stored in Postgres (AES-256-GCM); required in production unless JWT_ALGORITHM=HS256. Unset outside production: a fixed, public development key.',
    }),
  ),
  SIGNING_KEY_PUBLISH_DELAY: Duration('10m', 'How long a new signing key is published in the JWKS before it signs; must cover JWKS_MAX_AGE plus the 30 s key reload of other instances.'),
  JWKS_MAX_AGE: Int(300, 0, 86400, 'Cache-Control max-age (seconds) of /.well-known/jwks.json and the OAuth metadata.'),
  JWT_VERIFY_CACHE_SIZE: Int(10000, 0, 1000000, 'Verified access tokens remembered (until each token\'s exp, at most one access-token lifetime) so repeat requests skip the signature check (about 0.7 KB of memory each); 0 turns it off. The session is checked on every request either way.'),
  ISSUER: Type.Optional(
    Type.String({
      pattern: '^https?://[^\\s]+[^/]$',
      description: 'Public base URL of this service: the iss of every token and the OAuth metadata issuer. Set it behind a proxy. Unset: http://HOST:PORT (localhost for a wildcard HOST).',
    }),
  ),
  JWT_AUDIENCE: Type.String({ default: 'portcullis', minLength: 1, description: 'aud of every access token; verified on every request.' }),
  JWT_ACCESS_TTL: Duration('15m', 'Access token lifetime (e.g. 900, 15m).'),
  JWT_REFRESH_TTL: Duration('7d', 'Refresh token lifetime; each rotation starts a new one, capped by SESSION_ABSOLUTE_TTL.'),
  SESSION_ABSOLUTE_TTL: Duration('30d', 'Hard end of a session counted from login; rotation never extends it.'),
  REFRESH_REUSE_GRACE_SECONDS: Int(10, 0, 300, 'How long the previous refresh token still replays its rotation (racing tabs, lost responses).'),
  REFRESH_COOKIE_NAME: Type.String({
    default: 'refresh_token',
    pattern: '^[!#$%&\'*+\\-.^_`|~0-9A-Za-z]{1,64}$',
    description: 'Name of the refresh cookie; use __Secure-refresh_token behind HTTPS.',
  }),
  COOKIE_SECURE: Bool(undefined, 'Mark the refresh cookie Secure. Default: true in production, false otherwise.'),
  ALLOW_BOOTSTRAP: Bool(false, 'Serve POST /api/auth/bootstrap in production (always served outside production).'),
  ADMIN_EMAIL_ALLOWLIST: Type.String({ default: '', description: 'Comma-separated emails that may register with role ADMIN.' }),
  PASSWORD_MIN_LENGTH: Int(8, 8, 256, 'Minimum password length (README recommends 15 for password-only logins).'),
  ARGON2_MEMORY_KIB: Int(19456, 8, 4194304, 'argon2id memory cost in KiB (OWASP: 19456).'),
  ARGON2_TIME_COST: Int(2, 1, 100, 'argon2id iterations (OWASP: 2).'),
  ARGON2_PARALLELISM: Int(1, 1, 16, 'argon2id lanes (OWASP: 1).'),
  ARGON2_THREADS: Int(0, 0, 256, 'Password hashes in progress at once, each on its own worker thread; 0 means one per core.'),
  ARGON2_NICE: Int(19, 0, 19, 'Nice increment of the hashing threads: while the CPU is saturated the event loop (token checks, refreshes) gets it first and logins wait; 0 shares it equally.'),
  BODY_LIMIT_BYTES: Int(16384, 1024, 10485760, 'Largest accepted request body; larger ones get 413.'),
  APP_SECRET_PEPPER: Type.Optional(
    Type.String({
      minLength: 32,
      description: 'Server-side key for HMAC digests of app client secrets and app token MACs; required in production. Changing it invalidates every client secret.',
    }),
  ),
  SEED_REFERENCE_DATA: Bool(undefined, 'Load the starter permission catalog and organizations at start-up (idempotent). Default: true outside production.'),
  APP_TOKEN_TTL: Int(3600, 60, 86400, 'Lifetime of API V3 app access tokens, in seconds (expires_in).'),
  APP_SECRET_GRACE_HOURS: Int(24, 0, 8760, 'Default hours an app\'s previous secret keeps working after a rotation.'),
  AUTH_EVENT_RETENTION_DAYS: Int(90, 1, 3650, 'Auth events older than this many days are deleted by an hourly cleanup.'),
  AUTH_EVENT_FLOOD_THRESHOLD: Int(20, 1, 100000, 'Identical denials (same reason, address, subject and route) written as rows per minute; the rest become one counted row.'),
  AUDIT_FLUSH_INTERVAL_MS: Int(1000, 10, 60000, 'How often buffered audit events are written to Postgres (also when 500 are waiting).'),
  RATE_LIMIT_DEFAULT: RateLimit('600/1m', 'Requests per client IP and window on every route without a stricter limit.'),
  RATE_LIMIT_LOGIN: RateLimit('10/1m', 'Per IP on /api/auth/login, /register and /bootstrap.'),
  RATE_LIMIT_REFRESH: RateLimit('60/1m', 'Per IP on /api/auth/refresh.'),
  RATE_LIMIT_TOKEN: RateLimit('120/1m', 'Per IP on /api/v3/auth/token.'),
  RATE_LIMIT_ALLOWLIST: Type.String({
    default: '',
    description: 'Comma-separated IPs, CIDRs or app client_ids exempt from rate limits (load-testing harnesses).',
  }),
  LOGIN_THROTTLE_AFTER: Int(5, 1, 1000, 'Failed logins for one account from one IP before that pair is slowed down.'),
  LOGIN_THROTTLE_MAX_SECONDS: Int(900, 1, 86400, 'Longest delay imposed on one account and IP; it doubles with each further failure.'),
  LOGIN_LOCK_AFTER: Int(100, 1, 100000, 'Consecutive failed logins for one account (any IP) before it is locked for a while (NIST: at most 100).'),
  LOGIN_LOCK_SECONDS: Int(900, 1, 86400, 'How long an account stays locked after LOGIN_LOCK_AFTER failures.'),
  LOGIN_FAILURE_WINDOW: Duration('1h', 'Failure counters are forgotten after this long without a new failure.'),
  CORS_ORIGINS: Type.String({
    default: '',
    description: 'Comma-separated browser origins allowed to call the API with credentials (e.g. https://app.example.com).',
  }),
  MAX_EVENT_LOOP_DELAY_MS: Int(1000, 0, 60000, 'Shed load (503 with Retry-After) while the event loop lags more than this; 0 turns shedding off.'),
  TRUST_PROXY: Type.String({
    default: '',
    description: 'Peers whose X-Forwarded-For is believed: comma-separated IPs/CIDRs, or "true". Empty: none.',
  }),
  METRICS_TOKEN: Type.Optional(
    Type.String({
      minLength: 16,
      maxLength: 512,
      pattern: '^[A-Za-z0-9\\-._~+/]+=*$',
      description: 'Bearer token GET /metrics requires (e.g. openssl rand -hex 32). Unset: /metrics is open; expose it only on an internal network.',
    }),
  ),
});

type ConfigInput = Static<typeof ConfigSchema>;

const DEVELOPMENT_PEPPER = 'portcullis-development-pepper-not-for-production';
const DEVELOPMENT_SIGNING_KEY_ENCRYPTION_KEY = 'portcullis-development-signing-key-encryption-not-for-production';
/** Other instances pick up a new signing key within this many seconds (src/plugins/signing-keys.ts). */
export const SIGNING_KEY_RELOAD_SECONDS = 30;

export interface Config
  extends Omit<
    ConfigInput,
    | 'JWT_ACCESS_TTL'
    | 'JWT_REFRESH_TTL'
    | 'SESSION_ABSOLUTE_TTL'
    | 'COOKIE_SECURE'
    | 'ADMIN_EMAIL_ALLOWLIST'
    | 'JWT_SECRET'
    | 'APP_SECRET_PEPPER'
    | 'SEED_REFERENCE_DATA'
    | 'LOGIN_FAILURE_WINDOW'
    | 'RATE_LIMIT_ALLOWLIST'
    | 'CORS_ORIGINS'
    | 'ISSUER'
    | 'SIGNING_KEY_ENCRYPTION_KEY'
    | 'SIGNING_KEY_PUBLISH_DELAY'
  > {
  /** ISSUER, or this service's own base URL when unset. */
  ISSUER: string;
  SIGNING_KEY_ENCRYPTION_KEY: string;
  /** True when SIGNING_KEY_ENCRYPTION_KEY is the public development default. */
  signingKeyEncryptionKeyIsDefault: boolean;
  SIGNING_KEY_PUBLISH_DELAY: number;
  LOGIN_FAILURE_WINDOW: number;
  RATE_LIMIT_ALLOWLIST: string[];
  CORS_ORIGINS: string[];
  /** RATE_LIMIT_* parsed: requests per window (milliseconds). */
  rateLimits: Record<'default' | 'login' | 'refresh' | 'token', RateLimitRule>;
  SEED_REFERENCE_DATA: boolean;
  JWT_SECRET: string;
  APP_SECRET_PEPPER: string;
  JWT_ACCESS_TTL: number;
  JWT_REFRESH_TTL: number;
  SESSION_ABSOLUTE_TTL: number;
  COOKIE_SECURE: boolean;
  ADMIN_EMAIL_ALLOWLIST: ReadonlySet<string>;
  isProduction: boolean;
  /** True when JWT_SECRET was generated at start-up (tokens die with the process). */
  jwtSecretGenerated: boolean;
  /** True when APP_SECRET_PEPPER is the public development default. */
  appSecretPepperIsDefault: boolean;
}

export interface RateLimitRule {
  max: number;
  timeWindow: number;
}

const list = (value: string) =>
  value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(ConfigSchema.properties)) {
    const value = env[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const converted = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, raw));
  const problems = [
    ...new Set(
      [...Value.Errors(ConfigSchema, converted)].map((error) => {
        const key = error.instancePath.slice(1);
        return `${key}: ${error.message} (got ${JSON.stringify(raw[key] ?? null)})`;
      }),
    ),
  ];
  if (raw.NODE_ENV === 'production') {
    const signingSecret = (raw.JWT_ALGORITHM ?? 'RS256') === 'HS256' ? 'JWT_SECRET' : 'SIGNING_KEY_ENCRYPTION_KEY';
    for (const key of ['DATABASE_URL', 'REDIS_URL', 'APP_SECRET_PEPPER', signingSecret] as const) {
      if (!raw[key]) problems.push(`${key}: required when NODE_ENV=production${key === signingSecret ? ` and JWT_ALGORITHM=${String(raw.JWT_ALGORITHM ?? 'RS256')}` : ''}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const input = converted as ConfigInput;
  const isProduction = input.NODE_ENV === 'production';
  const seconds = (key: 'JWT_ACCESS_TTL' | 'JWT_REFRESH_TTL' | 'SESSION_ABSOLUTE_TTL' | 'LOGIN_FAILURE_WINDOW' | 'SIGNING_KEY_PUBLISH_DELAY', minimum = 1) => {
    const value = parseDurationSeconds(input[key]) ?? 0;
    if (value < minimum) problems.push(`${key}: must be at least ${minimum} second${minimum === 1 ? '' : 's'}`);
    return value;
  };
  const accessTtl = seconds('JWT_ACCESS_TTL');
  const refreshTtl = seconds('JWT_REFRESH_TTL');
  const absoluteTtl = seconds('SESSION_ABSOLUTE_TTL');
  const failureWindow = seconds('LOGIN_FAILURE_WINDOW');
  // A key must be in every instance's memory and every JWKS cache before any token carries its kid.
  const publishDelay = seconds('SIGNING_KEY_PUBLISH_DELAY', input.JWKS_MAX_AGE + SIGNING_KEY_RELOAD_SECONDS);
  const rule = (key: 'RATE_LIMIT_DEFAULT' | 'RATE_LIMIT_LOGIN' | 'RATE_LIMIT_REFRESH' | 'RATE_LIMIT_TOKEN'): RateLimitRule => {
    const [max, window] = input[key].split('/') as [string, string];
    const windowSeconds = parseDurationSeconds(window) ?? 0;
    if (Number(max) < 1 || windowSeconds < 1) problems.push(`${key}: needs at least 1 request per window of at least 1s`);
    return { max: Number(max), timeWindow: windowSeconds * 1000 };
  };
  const rateLimits = {
    default: rule('RATE_LIMIT_DEFAULT'),
    login: rule('RATE_LIMIT_LOGIN'),
    refresh: rule('RATE_LIMIT_REFRESH'),
    token: rule('RATE_LIMIT_TOKEN'),
  };
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    ...input,
    JWT_SECRET: input.JWT_SECRET ?? randomBytes(32).toString('base64url'),
    jwtSecretGenerated: input.JWT_ALGORITHM === 'HS256' && input.JWT_SECRET === undefined,
    SIGNING_KEY_ENCRYPTION_KEY: input.SIGNING_KEY_ENCRYPTION_KEY ?? DEVELOPMENT_SIGNING_KEY_ENCRYPTION_KEY,
    signingKeyEncryptionKeyIsDefault: input.SIGNING_KEY_ENCRYPTION_KEY === undefined,
    SIGNING_KEY_PUBLISH_DELAY: publishDelay,
    ISSUER: input.ISSUER ?? `http://${['0.0.0.0', '::', ''].includes(input.HOST) ? 'localhost' : input.HOST.includes(':') ? `[${input.HOST}]` : input.HOST}:${input.PORT}`,
    // Outside production a fixed, public pepper keeps stored client secrets valid across restarts.
    APP_SECRET_PEPPER: input.APP_SECRET_PEPPER ?? DEVELOPMENT_PEPPER,
    appSecretPepperIsDefault: input.APP_SECRET_PEPPER === undefined,
    JWT_ACCESS_TTL: accessTtl,
    JWT_REFRESH_TTL: refreshTtl,
    SESSION_ABSOLUTE_TTL: absoluteTtl,
    COOKIE_SECURE: input.COOKIE_SECURE ?? isProduction,
    SEED_REFERENCE_DATA: input.SEED_REFERENCE_DATA ?? !isProduction,
    LOGIN_FAILURE_WINDOW: failureWindow,
    RATE_LIMIT_ALLOWLIST: list(input.RATE_LIMIT_ALLOWLIST),
    CORS_ORIGINS: list(input.CORS_ORIGINS),
    rateLimits,
    ADMIN_EMAIL_ALLOWLIST: new Set(list(input.ADMIN_EMAIL_ALLOWLIST).map((email) => email.toLowerCase())),
    isProduction,
  };
}
