/** Wires the app-auth repositories and services; shared by the HTTP module and the operator CLI. */
import type { Config } from '../../config.js';
import type { AuditLog } from '../../db/audit-writer.js';
import type { AuthEventLog } from '../../db/auth-event-writer.js';
import type { Db } from '../../db/client.js';
import { createAppCredentialCodec } from '../../lib/app-credentials.js';
import { type AuthMetrics, noAuthMetrics } from '../../lib/auth-metrics.js';
import type { Clock } from '../../lib/clock.js';
import type { AppSnapshot, AppTokenStore } from '../../redis/app-token-store.js';
import type { FailureThrottleStore } from '../../redis/failure-throttle-store.js';
import type { Keys } from '../../redis/keys.js';
import { createCredentialThrottle, throttleSettings } from '../../lib/credential-throttle.js';
import { createAppAdminService } from './admin-service.js';
import { createAppRepository } from './app-repository.js';
import { createAuditRepository } from './audit-repository.js';
import { createCatalogRepository } from './catalog-repository.js';
import { createAppTokenService } from './token-service.js';

export function createAppAuthServices(deps: {
  config: Config;
  clock: Clock;
  db: Db;
  store: AppTokenStore;
  audit: AuditLog;
  failureThrottle: FailureThrottleStore;
  keys: Keys;
  restoreSnapshot: (appId: string) => Promise<AppSnapshot | null>;
  events: AuthEventLog;
  /** The HTTP app's metrics; the CLI has none to report to. */
  metrics?: AuthMetrics;
}) {
  const { config, clock, db, store, audit, failureThrottle, keys, restoreSnapshot, events, metrics = noAuthMetrics } = deps;
  // Client credentials share the login brute-force settings, counted per client_id.
  const throttle = createCredentialThrottle({
    store: failureThrottle,
    clock,
    settings: throttleSettings(config),
    keys: (appId, ip) => ({ pair: keys.clientFailuresFrom(appId, ip), subject: keys.clientFailures(appId) }),
  });
  const apps = createAppRepository(db);
  const catalog = createCatalogRepository(db);
  const codec = createAppCredentialCodec(Buffer.from(config.APP_SECRET_PEPPER));
  return {
    apps,
    catalog,
    auditLogs: createAuditRepository(db),
    tokens: createAppTokenService({ config, clock, store, codec, audit, throttle, events, restoreSnapshot, metrics }),
    admin: createAppAdminService({ config, clock, apps, catalog, store, codec, audit }),
  };
}

export type AppAuthServices = ReturnType<typeof createAppAuthServices>;
