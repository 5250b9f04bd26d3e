/** Wires the app-auth repositories and services; shared by the HTTP module and the operator CLI. */
import type { Config } from '../../config.js';
import type { AuditLog } from '../../db/audit-writer.js';
import type { Db } from '../../db/client.js';
import { createAppCredentialCodec } from '../../lib/app-credentials.js';
import type { Clock } from '../../lib/clock.js';
import type { AppTokenStore } from '../../redis/app-token-store.js';
import { createAppAdminService } from './admin-service.js';
import { createAppRepository } from './app-repository.js';
import { createAuditRepository } from './audit-repository.js';
import { createCatalogRepository } from './catalog-repository.js';
import { createAppTokenService } from './token-service.js';

export function createAppAuthServices(deps: { config: Config; clock: Clock; db: Db; store: AppTokenStore; audit: AuditLog }) {
  const { config, clock, db, store, audit } = deps;
  const apps = createAppRepository(db);
  const catalog = createCatalogRepository(db);
  const codec = createAppCredentialCodec(Buffer.from(config.APP_SECRET_PEPPER));
  return {
    apps,
    catalog,
    auditLogs: createAuditRepository(db),
    tokens: createAppTokenService({ config, clock, store, apps, codec, audit }),
    admin: createAppAdminService({ config, clock, apps, catalog, store, codec, audit }),
  };
}

export type AppAuthServices = ReturnType<typeof createAppAuthServices>;
