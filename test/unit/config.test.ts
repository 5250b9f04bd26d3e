import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config.js';

t.test('defaults follow the seeds', async (t) => {
  const config = loadConfig({});
  t.equal(config.JWT_ACCESS_TTL, 15 * 60);
  t.equal(config.JWT_REFRESH_TTL, 7 * 86400);
  t.equal(config.SESSION_ABSOLUTE_TTL, 30 * 86400);
  t.equal(config.REFRESH_REUSE_GRACE_SECONDS, 10);
  t.equal(config.PASSWORD_MIN_LENGTH, 8);
  t.equal(config.COOKIE_SECURE, false, 'not secure outside production by default');
  t.equal(config.REFRESH_COOKIE_NAME, 'refresh_token');
  t.equal(config.JWT_ALGORITHM, 'RS256', 'asymmetric keys by default (README: "Signing algorithm")');
  t.notOk(config.jwtSecretGenerated, 'no JWT_SECRET needed unless HS256');
  t.ok(loadConfig({ JWT_ALGORITHM: 'HS256' }).jwtSecretGenerated, 'HS256 without JWT_SECRET generates one per start');
  t.equal(config.ISSUER, 'http://127.0.0.1:3000', 'ISSUER defaults to the service\'s own base URL');
  t.equal(loadConfig({ HOST: '0.0.0.0', PORT: '8080' }).ISSUER, 'http://localhost:8080', 'a wildcard HOST is named localhost');
  t.equal(config.SIGNING_KEY_PUBLISH_DELAY, 600);
  t.ok(config.signingKeyEncryptionKeyIsDefault);
  t.equal(config.DATABASE_URL, undefined);
});

t.test('values are coerced and derived once', async (t) => {
  const config = loadConfig({ PORT: '8080', COOKIE_SECURE: 'true', JWT_ACCESS_TTL: '90', ADMIN_EMAIL_ALLOWLIST: ' Root@Example.com ,b@c.d' });
  t.equal(config.PORT, 8080);
  t.equal(config.COOKIE_SECURE, true);
  t.equal(config.JWT_ACCESS_TTL, 90);
  t.strictSame([...config.ADMIN_EMAIL_ALLOWLIST], ['root@example.com', 'b@c.d']);
});

t.test('every bad variable is named in one error', async (t) => {
  const error = t.throws(() => loadConfig({ PORT: 'eighty', JWT_REFRESH_TTL: '7 days', LOG_LEVEL: 'loud', JWT_SECRET: 'short' })) as ConfigError;
  t.type(error, ConfigError);
  for (const key of ['PORT', 'JWT_REFRESH_TTL', 'LOG_LEVEL', 'JWT_SECRET']) {
    t.ok(error.problems.some((problem) => problem.startsWith(`${key}:`)), key);
  }
});

t.test('production refuses to start without servers and a secret', async (t) => {
  const error = t.throws(() => loadConfig({ NODE_ENV: 'production' })) as ConfigError;
  t.strictSame(error.problems.map((problem) => problem.split(':')[0]).sort(), ['APP_SECRET_PEPPER', 'DATABASE_URL', 'REDIS_URL', 'SIGNING_KEY_ENCRYPTION_KEY']);
  const hs256 = t.throws(() => loadConfig({ NODE_ENV: 'production', JWT_ALGORITHM: 'HS256' })) as ConfigError;
  t.ok(hs256.problems.includes('JWT_SECRET: required when NODE_ENV=production and JWT_ALGORITHM=HS256'), 'HS256 needs JWT_SECRET instead');
  const config = loadConfig({
    NODE_ENV: 'production',
    DATABASE_URL: 'postgres://db/app',
    REDIS_URL: 'redis://cache:6379',
    SIGNING_KEY_ENCRYPTION_KEY: 'k'.repeat(32),
    APP_SECRET_PEPPER: 'p'.repeat(32),
  });
  t.notOk(config.signingKeyEncryptionKeyIsDefault);
  t.equal(config.COOKIE_SECURE, true, 'secure cookies by default in production');
  t.equal(config.isProduction, true);
});

t.test('a publish delay shorter than JWKS caching plus the key reload is refused', async (t) => {
  const error = t.throws(() => loadConfig({ SIGNING_KEY_PUBLISH_DELAY: '5m', JWKS_MAX_AGE: '300' })) as ConfigError;
  t.match(error.problems, [/SIGNING_KEY_PUBLISH_DELAY: must be at least 330 seconds/]);
  t.equal(loadConfig({ SIGNING_KEY_PUBLISH_DELAY: '30', JWKS_MAX_AGE: '0' }).SIGNING_KEY_PUBLISH_DELAY, 30, 'the reload interval is the floor');
  t.throws(() => loadConfig({ JWT_ALGORITHM: 'none' }), ConfigError);
  t.throws(() => loadConfig({ ISSUER: 'https://auth.example.com/' }), ConfigError, 'no trailing slash: iss must match exactly');
});
