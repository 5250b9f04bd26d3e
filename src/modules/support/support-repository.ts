/** The reads support needs from Postgres: accounts, apps without their secrets, recent auth events. */
import { and, desc, eq, or } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { apps, appSecrets, type AuthEventRow, authEvents, type UserRow, users } from '../../db/schema.js';

export function createSupportRepository(db: Db) {
  return {
    async findUser(by: { id?: string | undefined; email?: string | undefined }): Promise<UserRow | undefined> {
      const condition = by.id ? eq(users.id, by.id) : eq(users.email, by.email ?? '');
      const [row] = await db.select().from(users).where(condition).limit(1);
      return row;
    },

    /** Newest first: events about the account, including failed logins that named its email. */
    recentUserEvents(user: Pick<UserRow, 'id' | 'email'>, limit: number): Promise<AuthEventRow[]> {
      return db
        .select()
        .from(authEvents)
        .where(or(eq(authEvents.userId, user.id), eq(authEvents.email, user.email)))
        .orderBy(desc(authEvents.occurredAt))
        .limit(limit);
    },

    recentAppDenials(appId: string, limit: number): Promise<AuthEventRow[]> {
      return db
        .select()
        .from(authEvents)
        .where(and(eq(authEvents.appId, appId), eq(authEvents.kind, 'denied')))
        .orderBy(desc(authEvents.occurredAt))
        .limit(limit);
    },

    async findApp(id: string) {
      const [app] = await db.select().from(apps).where(eq(apps.id, id));
      return app;
    },

    /** Secret metadata only: never the hash. */
    appSecrets(appId: string) {
      return db
        .select({
          version: appSecrets.version,
          status: appSecrets.status,
          createdAt: appSecrets.createdAt,
          graceUntil: appSecrets.graceUntil,
          revokedAt: appSecrets.revokedAt,
        })
        .from(appSecrets)
        .where(eq(appSecrets.appId, appId))
        .orderBy(desc(appSecrets.version));
    },
  };
}

export type SupportRepository = ReturnType<typeof createSupportRepository>;
