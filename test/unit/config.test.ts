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
  t.ok(config.jwtSecretGenerated);
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
  t.strictSame(error.problems.map((problem) => problem.split(':')[0]).sort(), ['APP_SECRET_PEPPER', 'DATABASE_URL', 'JWT_SECRET', 'REDIS_URL']);
  const config = loadConfig({
    NODE_ENV: 'production',
    DATABASE_URL: 'postgres://db/app',
    REDIS_URL: 'redis://cache:6379',
    JWT_SECRET: 'x'.repeat(32),
    APP_SECRET_PEPPER: 'p'.repeat(32),
  });
  t.equal(config.COOKIE_SECURE, true, 'secure cookies by default in production');
  t.equal(config.isProduction, true);
});
