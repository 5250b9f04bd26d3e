/**
 * Route permissions (route_permissions table): for requests authenticated by an app token, an
 * active record for (method, route pattern) requires the app to hold its permission. The table is
 * small and rarely changes, so it is held in memory and reloaded in the background; the request
 * path never queries Postgres for it. Routes without a record are not restricted by it.
 */
import { eq } from 'drizzle-orm';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import { type RoutePermissionRow, routePermissions } from '../db/schema.js';

declare module 'fastify' {
  interface FastifyInstance {
    routePermissions: RoutePermissionCache;
  }
}

const REFRESH_MS = 30_000;

export interface RoutePermissionCache {
  /** Permission codes required for this method and route pattern (empty when unrestricted). */
  requiredFor(method: string, routePattern: string): readonly string[];
  /** The same for a concrete path (forward-auth: X-Forwarded-Uri), matched against the patterns. */
  requiredForPath(method: string, path: string): readonly string[];
  reload(): Promise<void>;
  close(): void;
}

const NONE: readonly string[] = Object.freeze([]);

export async function createRoutePermissionCache(options: {
  load: () => Promise<RoutePermissionRow[]>;
  refreshMs: number;
  log: FastifyBaseLogger;
}): Promise<RoutePermissionCache> {
  let table = new Map<string, string[]>();
  let router = FindMyWay({ ignoreTrailingSlash: true });
  const keyOf = (method: string, pattern: string) => `${method.toUpperCase()} ${pattern}`;

  async function reload(): Promise<void> {
    const next = new Map<string, string[]>();
    for (const row of await options.load()) {
      const key = keyOf(row.method, row.routePattern);
      next.set(key, [...(next.get(key) ?? []), row.permissionCode]);
    }
    const nextRouter = FindMyWay({ ignoreTrailingSlash: true });
    for (const [key, codes] of next) {
      const [method, pattern] = key.split(' ', 2) as [string, string];
      try {
        nextRouter.on(method as HTTPMethod, pattern, () => {}, codes);
      } catch (error) {
        options.log.warn({ err: error, method, pattern }, 'route permission pattern ignored');
      }
    }
    table = next;
    router = nextRouter;
  }

  await reload();
  const timer = setInterval(() => {
    reload().catch((error: unknown) => options.log.warn({ err: error }, 'route permissions reload failed; keeping the previous table'));
  }, options.refreshMs);
  timer.unref();

  return {
    requiredFor: (method, pattern) => table.get(keyOf(method, pattern)) ?? NONE,
    requiredForPath: (method, path) => (router.find(method.toUpperCase() as HTTPMethod, path)?.store as string[] | undefined) ?? NONE,
    reload,
    close: () => clearInterval(timer),
  };
}

export default fp(
  async function routePermissionsPlugin(app: FastifyInstance) {
    const cache = await createRoutePermissionCache({
      load: () => app.db.select().from(routePermissions).where(eq(routePermissions.isActive, true)),
      refreshMs: REFRESH_MS,
      log: app.log,
    });
    app.addHook('onClose', async () => cache.close());
    app.decorate('routePermissions', cache);
  },
  { name: 'route-permissions', dependencies: ['db'] },
);
