/**
 * App administration (API V3 admin endpoints and the operator CLI). Every change to an app runs in
 * one transaction that locks the app's row, rewrites its snapshot in the token store before
 * committing (so a store failure rolls the change back), and is audited after it commits.
 * Changes therefore reach live tokens on their next use.
 */
import { randomUUID } from 'node:crypto';
import type { Config } from '../../config.js';
import type { Db } from '../../db/client.js';
import type { AppRow, AppStatus } from '../../db/schema.js';
import { AppError } from '../../errors.js';
import { type AppCredentialCodec, clientIdFor, newClientSecret } from '../../lib/app-credentials.js';
import type { Clock } from '../../lib/clock.js';
import type { AuditEvent, AuditLog } from '../../plugins/audit.js';
import type { AppTokenStore } from '../../redis/app-token-store.js';
import type { CreateAppBody, PatchAppBody, ReplaceOrganizationsBody, RotateSecretBody } from './admin-schemas.js';
import type { AppRepository } from './app-repository.js';
import type { CatalogRepository } from './catalog-repository.js';

/** Who is acting, for the audit trail. */
export interface Actor {
  actor: string;
  ip?: string | null;
  requestId?: string | null;
}

const invalid = (field: string, message: string) => new AppError('V3_AUTH_VALIDATION_ERROR', { message, details: [{ field, message }] });

export function createAppAdminService(deps: {
  config: Config;
  clock: Clock;
  apps: AppRepository;
  catalog: CatalogRepository;
  store: AppTokenStore;
  codec: AppCredentialCodec;
  audit: AuditLog;
}) {
  const { config, clock, apps, catalog, store, codec, audit } = deps;

  const record = (actor: Actor, appId: string, eventType: string, details: Record<string, unknown> = {}) => {
    const event: AuditEvent = { appId, eventType, actor: actor.actor, ip: actor.ip ?? null, requestId: actor.requestId ?? null, details };
    audit.record(event);
  };

  /**
   * Resolves organization refs (ids or codes, active only) and permission codes; one 400 naming
   * every unknown reference of either kind.
   */
  async function resolveReferences(refs: { organizations?: string[]; permissions?: string[] }, tx: Db) {
    const orgs = await catalog.resolveOrganizations(refs.organizations ?? [], tx);
    const perms = await catalog.findPermissionsByCodes(refs.permissions ?? [], tx);
    const unknownOrgs = [...orgs.missing, ...[...orgs.found].filter(([, org]) => !org.isActive).map(([ref]) => ref)];
    const details = [
      ...(unknownOrgs.length > 0 ? [{ field: 'body/organizations', message: `unknown or inactive organizations: ${unknownOrgs.join(', ')}` }] : []),
      ...(perms.missing.length > 0 ? [{ field: 'body/permissions', message: `unknown permissions: ${perms.missing.join(', ')}` }] : []),
    ];
    if (details.length > 0) throw new AppError('V3_AUTH_VALIDATION_ERROR', { message: details.map((d) => d.message).join('; '), details });
    return {
      organizationIds: new Map([...orgs.found].map(([ref, org]) => [ref, org.id])),
      permissionIds: perms.found.map((permission) => permission.id),
    };
  }

  async function resolveOrganizationIds(refs: string[], tx: Db): Promise<Map<string, string>> {
    return (await resolveReferences({ organizations: refs }, tx)).organizationIds;
  }

  /** The default must be one of the assigned organizations (by id or code). */
  async function defaultOrganizationId(ref: string | null | undefined, assigned: Set<string>, tx: Db): Promise<string | null> {
    if (!ref) return null;
    const resolved = (await resolveOrganizationIds([ref], tx)).get(ref)!;
    if (!assigned.has(resolved)) throw invalid('body/default_organization_id', 'must be one of the app\'s organizations');
    return resolved;
  }

  /** Locks the app, applies `work`, and rewrites the snapshot before the transaction commits. */
  async function changeApp<T>(appId: string, work: (tx: Db, app: AppRow) => Promise<T>): Promise<T> {
    return apps.transaction(async (tx) => {
      const app = await apps.lock(appId, tx);
      if (!app) throw new AppError('V3_AUTH_NOT_FOUND', { message: 'App not found' });
      const result = await work(tx, app);
      const snapshot = await apps.loadSnapshot(appId, tx);
      if (snapshot) await store.putSnapshot(snapshot);
      return result;
    });
  }

  async function setStatus(appId: string, actor: Actor, target: AppStatus, reason: string | undefined, eventType: string) {
    let revokedTokens = 0;
    const now = new Date(clock.now());
    const app = await changeApp(appId, async (tx, current) => {
      if (current.status === 'REVOKED' && target !== 'REVOKED') {
        throw new AppError('V3_AUTH_CONFLICT', { message: 'App is revoked; revocation is permanent' });
      }
      if (target === 'REVOKED') await apps.revokeAllSecrets(appId, now, tx);
      return current.status === target ? current : apps.update(appId, { status: target }, now, tx);
    });
    // After commit: the snapshot already refuses the app's tokens, this frees their memory.
    if (target === 'REVOKED') revokedTokens = await store.revokeAllForApp(appId);
    record(actor, appId, eventType, { ...(reason ? { reason } : {}), ...(target === 'REVOKED' ? { revoked_tokens: revokedTokens } : {}) });
    return app;
  }

  return {
    async create(body: CreateAppBody, actor: Actor) {
      const id = randomUUID();
      const secret = newClientSecret();
      const app = await apps.transaction(async (tx) => {
        const { organizationIds, permissionIds } = await resolveReferences(body, tx);
        const assigned = new Set(organizationIds.values());
        const defaultId = await defaultOrganizationId(body.default_organization_id, assigned, tx);
        const created = await apps.insert(
          { id, appCode: body.app_code, appName: body.app_name, description: body.description ?? null, clientId: clientIdFor(id), defaultOrganizationId: defaultId },
          tx,
        );
        await apps.insertSecret({ appId: id, version: 1, secretHash: codec.secretDigest(secret) }, tx);
        await apps.replaceOrganizations(id, [...assigned], tx);
        await apps.replacePermissions(id, permissionIds, tx);
        await store.putSnapshot((await apps.loadSnapshot(id, tx))!);
        return created;
      });
      record(actor, id, 'app.created', { app_code: app.appCode, organizations: body.organizations, permissions: body.permissions });
      return { app, clientSecret: secret, secretVersion: 1 };
    },

    async get(appId: string) {
      const app = await apps.findById(appId);
      if (!app) throw new AppError('V3_AUTH_NOT_FOUND', { message: 'App not found' });
      const [organizations, permissions, secrets] = await Promise.all([apps.organizationsOf(app), apps.permissionsOf(appId), apps.secretsOf(appId)]);
      return { app, organizations, permissions, secrets };
    },

    async update(appId: string, body: PatchAppBody, actor: Actor) {
      const app = await changeApp(appId, async (tx, current) => {
        const assigned = new Set((await apps.organizationsOf(current, tx)).map((org) => org.id));
        const changes = {
          ...(body.app_name !== undefined ? { appName: body.app_name } : {}),
          ...(body.description !== undefined ? { description: body.description } : {}),
          ...(body.default_organization_id !== undefined
            ? { defaultOrganizationId: await defaultOrganizationId(body.default_organization_id, assigned, tx) }
            : {}),
        };
        return apps.update(appId, changes, new Date(clock.now()), tx);
      });
      record(actor, appId, 'app.updated', { changes: body });
      return app;
    },

    async rotateSecret(appId: string, body: RotateSecretBody, actor: Actor) {
      const secret = newClientSecret();
      const now = clock.now();
      const graceHours = body.grace_hours ?? config.APP_SECRET_GRACE_HOURS;
      const graceUntil = graceHours > 0 ? new Date(now + graceHours * 3_600_000) : null;
      // Tokens are revoked before the rotation commits: if the store fails, the rotation rolls
      // back rather than answering an error after the new (shown-once) secret was stored.
      const { version, revokedTokens } = await changeApp(appId, async (tx, current) => {
        if (current.status === 'REVOKED') throw new AppError('V3_AUTH_CONFLICT', { message: 'App is revoked; its secret cannot be rotated' });
        const next = ((await apps.secretsOf(appId, tx))[0]?.version ?? 0) + 1;
        await apps.retireActiveSecrets(appId, graceUntil, new Date(now), tx);
        await apps.insertSecret({ appId, version: next, secretHash: codec.secretDigest(secret) }, tx);
        return { version: next, revokedTokens: body.revoke_existing_tokens ? await store.revokeAllForApp(appId) : 0 };
      });
      record(actor, appId, 'app.secret_rotated', {
        secret_version: version,
        grace_hours: graceHours,
        revoke_existing_tokens: body.revoke_existing_tokens ?? false,
        revoked_tokens: revokedTokens,
        ...(body.reason ? { reason: body.reason } : {}),
      });
      return { clientSecret: secret, secretVersion: version, graceUntil };
    },

    suspend: (appId: string, actor: Actor, reason?: string) => setStatus(appId, actor, 'SUSPENDED', reason, 'app.suspended'),
    reactivate: (appId: string, actor: Actor, reason?: string) => setStatus(appId, actor, 'ACTIVE', reason, 'app.reactivated'),
    revoke: (appId: string, actor: Actor, reason?: string) => setStatus(appId, actor, 'REVOKED', reason, 'app.revoked'),

    async replacePermissions(appId: string, codes: string[], actor: Actor) {
      await changeApp(appId, async (tx) => apps.replacePermissions(appId, (await resolveReferences({ permissions: codes }, tx)).permissionIds, tx));
      record(actor, appId, 'app.permissions_replaced', { permissions: codes });
      return apps.permissionsOf(appId);
    },

    async replaceOrganizations(appId: string, body: ReplaceOrganizationsBody, actor: Actor) {
      const app = await changeApp(appId, async (tx, current) => {
        const assigned = new Set((await resolveOrganizationIds(body.organizations, tx)).values());
        // Keep the current default when it stays assigned and no new one is given.
        const keep = body.default_organization_id === undefined && current.defaultOrganizationId && assigned.has(current.defaultOrganizationId);
        const defaultId = keep ? current.defaultOrganizationId : await defaultOrganizationId(body.default_organization_id, assigned, tx);
        await apps.replaceOrganizations(appId, [...assigned], tx);
        return apps.update(appId, { defaultOrganizationId: defaultId }, new Date(clock.now()), tx);
      });
      record(actor, appId, 'app.organizations_replaced', { organizations: body.organizations, default_organization_id: app.defaultOrganizationId });
      return { app, organizations: await apps.organizationsOf(app) };
    },

    async liveTokenCount(appId: string) {
      return store.countLive(appId, clock.now());
    },
  };
}

export type AppAdminService = ReturnType<typeof createAppAdminService>;
