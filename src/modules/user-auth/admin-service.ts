/**
 * Admin management of user accounts. A change to role, name or disabled is written to Postgres
 * and pushed into the user's live sessions inside the same transaction, so it takes effect on
 * the user's next request; if the store cannot be updated, the database change rolls back.
 */
import type { AuthEventLog } from '../../db/auth-event-writer.js';
import type { UserRow } from '../../db/schema.js';
import { AppError } from '../../errors.js';
import type { Clock } from '../../lib/clock.js';
import type { SessionStore } from '../../redis/session-store.js';
import type { AdminUser, AdminUserListQuery, AdminUserPatch } from './admin-schemas.js';
import type { UserRepository } from './user-repository.js';

export function toAdminUser(user: UserRow): AdminUser {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    role: user.role,
    disabled: user.disabled,
    lastLoginAt: user.lastLoginAt?.toISOString() ?? null,
    createdAt: user.createdAt.toISOString(),
    updatedAt: user.updatedAt.toISOString(),
  };
}

/** The admin making a change, for the auth events. */
export interface AdminActor {
  actorId: string;
  ip: string;
  requestId: string;
}

export function createAdminUserService(deps: { users: UserRepository; sessions: SessionStore; clock: Clock; events: AuthEventLog }) {
  const { users, sessions, clock, events } = deps;

  return {
    async list(query: AdminUserListQuery) {
      const { rows, total } = await users.list({
        offset: (query.page - 1) * query.perPage,
        limit: query.perPage,
        emailContains: query.email,
      });
      return { users: rows.map(toAdminUser), page: query.page, perPage: query.perPage, total };
    },

    async update(id: string, patch: AdminUserPatch, by: AdminActor): Promise<AdminUser> {
      const { user, previous } = await users.transaction(async (tx) => {
        await users.lockAdminSet(tx);
        const current = await users.findById(id, tx);
        if (!current) throw new AppError('USER_NOT_FOUND');
        const losesAdmin = current.role === 'ADMIN' && !current.disabled && ((patch.role && patch.role !== 'ADMIN') || patch.disabled === true);
        if (losesAdmin && (await users.countActiveAdmins(tx, id)) === 0) throw new AppError('LAST_ADMIN');

        const updated = (await users.update(id, patch, new Date(clock.now()), tx))!;
        if (patch.disabled === true && !current.disabled) await sessions.disableAllForUser(id);
        if (patch.disabled === false && current.disabled) await sessions.endDisabledForUser(id);
        const profile = {
          ...(patch.role !== undefined && patch.role !== current.role ? { role: patch.role } : {}),
          ...(patch.name !== undefined && patch.name !== current.name ? { name: patch.name } : {}),
        };
        if (Object.keys(profile).length > 0) await sessions.updateProfileForUser(id, profile);
        return { user: toAdminUser(updated), previous: current };
      });
      // After commit: what support sees when asked why this user's requests changed.
      const facts = { userId: id, actor: `user:${by.actorId}`, ip: by.ip, requestId: by.requestId };
      if (patch.role !== undefined && patch.role !== previous.role) events.record({ kind: 'user.role_changed', ...facts, details: { from: previous.role, to: patch.role } });
      if (patch.disabled === true && !previous.disabled) events.record({ kind: 'user.disabled', ...facts });
      if (patch.disabled === false && previous.disabled) events.record({ kind: 'user.enabled', ...facts });
      return user;
    },
  };
}

export type AdminUserService = ReturnType<typeof createAdminUserService>;
