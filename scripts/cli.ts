/**
 * npm run cli -- <command>: operator commands for API V3 apps, without going through HTTP. Uses
 * the same services as the admin endpoints (so snapshots, audit events and rules are identical),
 * on the configured DATABASE_URL and REDIS_URL. With embedded PGlite, run it while the server is
 * stopped (PGlite is single-process).
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { loadAppSnapshot } from '../src/db/app-snapshot.js';
import { createAuditWriter } from '../src/db/audit-writer.js';
import { createAuthEventWriter } from '../src/db/auth-event-writer.js';
import { createSigningKeyRepository } from '../src/db/signing-key-repository.js';
import { openDatabase } from '../src/db/client.js';
import { migrateDatabase } from '../src/db/migrate.js';
import type { AppStatus } from '../src/db/schema.js';
import { AppError } from '../src/errors.js';
import { systemClock } from '../src/lib/clock.js';
import { ASYMMETRIC_ALGORITHMS, type AsymmetricAlgorithm } from '../src/lib/signing-key-crypto.js';
import { scheduleAt } from '../src/lib/signing-key-schedule.js';
import { createAppAuthServices } from '../src/modules/app-auth/services.js';
import { presentSigningKey } from '../src/modules/signing-keys/presenter.js';
import { closeKeyValueBackend, openKeyValueBackend } from '../src/redis/client.js';
import { createKeys } from '../src/redis/keys.js';
import { createMemoryAppTokenStore } from '../src/redis/memory-app-token-store.js';
import { createRedisAppTokenStore } from '../src/redis/redis-app-token-store.js';
import { createMemoryFailureThrottleStore } from '../src/redis/memory-failure-throttle-store.js';
import { createRedisFailureThrottleStore } from '../src/redis/redis-failure-throttle-store.js';

const USAGE = `Usage: npm run cli -- <command> [options]

  apps:create --code <app_code> --name <app_name> [--org <id|code>]... [--perm <code>]...
              [--default-org <id|code>] [--description <text>]
  apps:list [--status ACTIVE|SUSPENDED|REVOKED] [--q <text>]
  apps:rotate-secret <app_id|app_code> [--grace-hours <n>] [--revoke-tokens] [--reason <text>]
  apps:suspend <app_id|app_code> [--reason <text>]
  apps:reactivate <app_id|app_code> [--reason <text>]
  apps:revoke <app_id|app_code> [--reason <text>]
  keys:list
  keys:rotate [--algorithm RS256|ES256|EdDSA]
              adds a signing key that signs after SIGNING_KEY_PUBLISH_DELAY
`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      code: { type: 'string' },
      name: { type: 'string' },
      description: { type: 'string' },
      org: { type: 'string', multiple: true },
      perm: { type: 'string', multiple: true },
      'default-org': { type: 'string' },
      status: { type: 'string' },
      q: { type: 'string' },
      'grace-hours': { type: 'string' },
      'revoke-tokens': { type: 'boolean' },
      reason: { type: 'string' },
      algorithm: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, target] = positionals;
  if (!command || values.help) {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }

  const config = loadConfig();
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, pgliteDataDir: config.PGLITE_DATA_DIR, maxConnections: 2 });
  const kv = await openKeyValueBackend({ redisUrl: config.REDIS_URL });
  const audit = createAuditWriter({ db: database.db, clock: systemClock, intervalMs: 60_000 });
  const keys = createKeys(config.REDIS_KEY_PREFIX);
  const { failureThrottle, store } = (() => {
    if (kv.kind === 'redis') return { failureThrottle: createRedisFailureThrottleStore({ client: kv.client }), store: createRedisAppTokenStore({ client: kv.client, keys }) };
    const throttle = createMemoryFailureThrottleStore();
    return { failureThrottle: throttle, store: createMemoryAppTokenStore({ clock: systemClock, throttle }) };
  })();
  // The CLI issues no tokens, so a lost snapshot is simply rebuilt on the next admin change.
  const restoreSnapshot = async (appId: string) => {
    const snapshot = await loadAppSnapshot(database.db, appId);
    if (snapshot) await store.putSnapshot(snapshot);
    return snapshot;
  };
  const events = createAuthEventWriter({ db: database.db, clock: systemClock, intervalMs: 60_000, floodThreshold: config.AUTH_EVENT_FLOOD_THRESHOLD });
  const services = createAppAuthServices({ config, clock: systemClock, db: database.db, store, audit, failureThrottle, keys, restoreSnapshot, events });
  const actor = { actor: 'cli' };
  const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

  const resolveApp = async (ref: string | undefined): Promise<string> => {
    if (!ref) throw new AppError('V3_AUTH_VALIDATION_ERROR', { message: 'an app id or app_code is required' });
    if (UUID.test(ref)) return ref;
    const { rows } = await services.apps.list({ q: ref, offset: 0, limit: 100 });
    const app = rows.find((row) => row.appCode === ref);
    if (!app) throw new AppError('V3_AUTH_NOT_FOUND', { message: `no app with app_code ${ref}` });
    return app.id;
  };

  try {
    await migrateDatabase(config.DATABASE_URL, database);
    switch (command) {
      case 'apps:create': {
        if (!values.code || !values.name) throw new AppError('V3_AUTH_VALIDATION_ERROR', { message: '--code and --name are required' });
        const created = await services.admin.create(
          {
            app_code: values.code,
            app_name: values.name,
            description: values.description ?? null,
            default_organization_id: values['default-org'] ?? null,
            organizations: values.org ?? [],
            permissions: values.perm ?? [],
          },
          actor,
        );
        print({ app_id: created.app.id, client_id: created.app.clientId, client_secret: created.clientSecret, secret_version: created.secretVersion });
        break;
      }
      case 'apps:list': {
        const { rows } = await services.apps.list({ status: values.status as AppStatus | undefined, q: values.q, offset: 0, limit: 1000 });
        print(rows.map((row) => ({ app_id: row.id, app_code: row.appCode, app_name: row.appName, status: row.status, client_id: row.clientId })));
        break;
      }
      case 'apps:rotate-secret': {
        const graceHours = values['grace-hours'] === undefined ? undefined : Number(values['grace-hours']);
        if (graceHours !== undefined && !(Number.isInteger(graceHours) && graceHours >= 0)) {
          throw new AppError('V3_AUTH_VALIDATION_ERROR', { message: '--grace-hours must be a whole number >= 0' });
        }
        const rotated = await services.admin.rotateSecret(
          await resolveApp(target),
          { ...(graceHours !== undefined ? { grace_hours: graceHours } : {}), revoke_existing_tokens: values['revoke-tokens'] ?? false, ...(values.reason ? { reason: values.reason } : {}) },
          actor,
        );
        print({ client_secret: rotated.clientSecret, secret_version: rotated.secretVersion, grace_until: rotated.graceUntil?.toISOString() ?? null });
        break;
      }
      case 'apps:suspend':
      case 'apps:reactivate':
      case 'apps:revoke': {
        const change = { 'apps:suspend': services.admin.suspend, 'apps:reactivate': services.admin.reactivate, 'apps:revoke': services.admin.revoke }[command];
        const app = await change(await resolveApp(target), actor, values.reason);
        print({ app_id: app.id, app_code: app.appCode, status: app.status });
        break;
      }
      case 'keys:list':
      case 'keys:rotate': {
        if (config.JWT_ALGORITHM === 'HS256') throw new AppError('SIGNING_KEYS_SYMMETRIC');
        const repository = createSigningKeyRepository(database.db, config.SIGNING_KEY_ENCRYPTION_KEY);
        if (command === 'keys:rotate') {
          const algorithm = (values.algorithm ?? config.JWT_ALGORITHM) as AsymmetricAlgorithm;
          if (!ASYMMETRIC_ALGORITHMS.includes(algorithm)) throw new AppError('VALIDATION_ERROR', { message: `--algorithm must be one of ${ASYMMETRIC_ALGORITHMS.join(', ')}` });
          const row = await repository.add({ algorithm, activatesAt: new Date(systemClock.now() + config.SIGNING_KEY_PUBLISH_DELAY * 1000), createdBy: 'cli' });
          audit.record({ appId: null, eventType: 'signing_key.created', actor: 'cli', details: { kid: row.kid, algorithm, activates_at: row.activatesAt.toISOString() } });
        }
        const rows = await repository.list();
        const described = rows.map((row) => ({ ...row, activatesAt: row.activatesAt.getTime(), createdAt: row.createdAt.getTime() }));
        print(scheduleAt(described, systemClock.now(), config.JWT_ACCESS_TTL * 1000).map(presentSigningKey));
        break;
      }
      default:
        process.stderr.write(`unknown command: ${command}\n${USAGE}`);
        return 2;
    }
    return 0;
  } catch (error) {
    if (error instanceof AppError) {
      process.stderr.write(`${error.code}: ${error.message}${error.details ? ` (${error.details.map((d) => d.message).join('; ')})` : ''}\n`);
      return 1;
    }
    throw error;
  } finally {
    await audit.close();
    await events.close();
    await closeKeyValueBackend(kv);
    await database.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
