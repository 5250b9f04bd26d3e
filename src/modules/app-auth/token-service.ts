/**
 * API V3 access tokens: issuance (client credentials), validation and revocation. These are the
 * hot paths: each is one token-store round trip and never queries Postgres, except to rebuild an
 * app's snapshot the store has lost (a cold path, then cached again).
 *
 * Invariants:
 * - A wrong client_id and a wrong secret fail the same way (V3_AUTH_INVALID_CLIENT).
 * - The secret is checked before the app's status, so only a secret holder learns the status.
 * - A token whose record is gone is reported as expired when its embedded expiry has passed, else
 *   as revoked; anything we did not mint is V3_AUTH_TOKEN_INVALID. Never a 500 or a 403.
 */
import { randomUUID } from 'node:crypto';
import type { Config } from '../../config.js';
import { AppError, type ErrorCode } from '../../errors.js';
import { type AppCredentialCodec, appIdFromClientId, type ParsedAppToken } from '../../lib/app-credentials.js';
import type { Clock } from '../../lib/clock.js';
import { type CredentialThrottle, digestForKey } from '../../lib/credential-throttle.js';
import type { AuditLog } from '../../plugins/audit.js';
import type { AppSnapshot, AppTokenRecord, AppTokenStore, IssueInput, IssueResult } from '../../redis/app-token-store.js';
import type { AppRepository } from './app-repository.js';

export interface AppAuth {
  appId: string;
  appCode: string;
  appName: string;
  status: AppSnapshot['status'];
  tokenId: string;
  tokenHash: string;
  organizationId: string;
  organizationCode: string;
  permissions: string[];
  organizations: AppSnapshot['organizations'];
  expiresAt: number;
}

export interface RequestContext {
  ip: string;
  requestId: string;
}

export interface TokenRequest {
  grant_type?: string | undefined;
  client_id?: string | undefined;
  client_secret?: string | undefined;
  organization_code?: string | undefined;
  organization_id?: string | undefined;
}

const ISSUE_FAILURES: Record<Exclude<IssueResult['kind'], 'issued' | 'no_snapshot'>, ErrorCode> = {
  invalid_client: 'V3_AUTH_INVALID_CLIENT',
  secret_expired: 'V3_AUTH_SECRET_EXPIRED',
  app_suspended: 'V3_AUTH_APP_SUSPENDED',
  app_revoked: 'V3_AUTH_APP_REVOKED',
  org_denied: 'V3_AUTH_ORG_DENIED',
  org_required: 'V3_AUTH_ORG_REQUIRED',
};

const UNKNOWN_APP_CACHE_MS = 60_000;
const UNKNOWN_APP_CACHE_SIZE = 10_000;

/** "YYYY-MM-DD HH:MM:SS" in UTC, the seed's datetime format. */
export const formatV3Datetime = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

/** The access decision for a presented token; throws the AppError that names the reason. */
export function evaluateAppToken(parsed: ParsedAppToken | null, token: AppTokenRecord | null, app: AppSnapshot | null, now: number): AppAuth {
  if (!parsed) throw new AppError('V3_AUTH_TOKEN_INVALID');
  if (!token) throw new AppError(now >= parsed.expiresAt ? 'V3_AUTH_TOKEN_EXPIRED' : 'V3_AUTH_TOKEN_REVOKED');
  if (now >= token.expiresAt) throw new AppError('V3_AUTH_TOKEN_EXPIRED');
  if (!app || app.status === 'REVOKED') throw new AppError('V3_AUTH_APP_REVOKED');
  if (app.status === 'SUSPENDED') throw new AppError('V3_AUTH_APP_SUSPENDED');
  if (!app.organizations.some((org) => org.id === token.organizationId)) throw new AppError('V3_AUTH_ORG_DENIED');
  return {
    appId: app.id,
    appCode: app.code,
    appName: app.name,
    status: app.status,
    tokenId: token.tokenId,
    tokenHash: parsed.hash,
    organizationId: token.organizationId,
    organizationCode: token.organizationCode,
    permissions: app.permissions,
    organizations: app.organizations,
    expiresAt: token.expiresAt,
  };
}

export function createAppTokenService(deps: {
  config: Config;
  clock: Clock;
  store: AppTokenStore;
  apps: AppRepository;
  codec: AppCredentialCodec;
  audit: AuditLog;
  throttle: CredentialThrottle;
}) {
  const { config, clock, store, apps, codec, audit, throttle } = deps;

  // App ids known not to exist, so random client_ids cannot make every request query Postgres.
  // Ids are random UUIDs chosen at creation, so a real app is never in here.
  const unknownApps = new Map<string, number>();

  /** Rebuilds a snapshot the store has lost from Postgres; null when the app does not exist. */
  async function restoreSnapshot(appId: string): Promise<AppSnapshot | null> {
    const now = clock.now();
    if ((unknownApps.get(appId) ?? 0) > now) return null;
    const snapshot = await apps.loadSnapshot(appId);
    if (snapshot) await store.putSnapshot(snapshot);
    else {
      if (unknownApps.size >= UNKNOWN_APP_CACHE_SIZE) unknownApps.clear();
      unknownApps.set(appId, now + UNKNOWN_APP_CACHE_MS);
    }
    return snapshot;
  }

  async function issueOnce(input: IssueInput): Promise<IssueResult> {
    const result = await store.issue(input);
    if (result.kind !== 'no_snapshot') return result;
    return (await restoreSnapshot(input.appId)) ? store.issue(input) : { kind: 'invalid_client' };
  }

  return {
    async issue(request: TokenRequest, context: RequestContext) {
      if (request.grant_type !== undefined && request.grant_type !== 'client_credentials') throw new AppError('V3_AUTH_UNSUPPORTED_GRANT_TYPE');
      if (!request.client_id || !request.client_secret) throw new AppError('V3_AUTH_MISSING_CREDENTIAL');
      const appId = appIdFromClientId(request.client_id);
      const denied = (code: ErrorCode, forApp: string | null) => {
        audit.record({
          appId: forApp,
          eventType: 'token.denied',
          actor: `client:${request.client_id!.slice(0, 64)}`,
          ip: context.ip,
          requestId: context.requestId,
          details: { reason: code },
        });
        return new AppError(code);
      };
      if (!appId) throw denied('V3_AUTH_INVALID_CLIENT', null);

      // Brute force on one client_id: checked before the secret, counted on a wrong or stale one.
      const from = digestForKey(context.ip);
      const gate = await throttle.check(appId, from);
      if (gate.locked) {
        throw new AppError('V3_AUTH_RATE_LIMITED', {
          message: 'Too many failed client authentications; retry later',
          headers: { 'retry-after': String(gate.retryAfterSeconds) },
        });
      }

      const now = clock.now();
      const minted = codec.issueToken(appId, now + config.APP_TOKEN_TTL * 1000);
      const result = await issueOnce({
        appId,
        secretDigest: codec.secretDigest(request.client_secret),
        organizationCode: request.organization_code,
        organizationId: request.organization_id,
        tokenHash: minted.hash,
        tokenId: randomUUID(),
        now,
        expiresAt: minted.expiresAt,
      });
      if (result.kind === 'invalid_client' || result.kind === 'secret_expired' || result.kind === 'no_snapshot') {
        const after = await throttle.failed(appId, from);
        if (after.locked) {
          audit.record({ appId, eventType: 'client.locked', actor: 'system', ip: context.ip, requestId: context.requestId, details: { scope: after.scope, retry_after_seconds: after.retryAfterSeconds } });
        }
      }
      if (result.kind !== 'issued') throw denied(result.kind === 'no_snapshot' ? 'V3_AUTH_INVALID_CLIENT' : ISSUE_FAILURES[result.kind], appId);
      // Only after earlier failures, so the usual issuance stays at two store round trips.
      if (gate.failures > 0) await throttle.succeeded(appId, from);

      const { record } = result;
      audit.record({
        appId,
        eventType: 'token.issued',
        actor: `app:${appId}`,
        ip: context.ip,
        requestId: context.requestId,
        details: { token_id: record.tokenId, organization_id: record.organizationId, secret_version: record.secretVersion },
      });
      return {
        token: minted.token,
        record,
        appCode: result.appCode,
        expiresIn: config.APP_TOKEN_TTL,
      };
    },

    /** Resolves a bearer app token to its app, or throws the reason it does not work. One store round trip. */
    async authenticate(token: string): Promise<AppAuth> {
      const parsed = codec.parseToken(token);
      if (!parsed) throw new AppError('V3_AUTH_TOKEN_INVALID');
      const found = await store.lookup(parsed.appId, parsed.hash);
      const app = found.app ?? (found.token ? await restoreSnapshot(parsed.appId) : null);
      return evaluateAppToken(parsed, found.token, app, clock.now());
    },

    async revoke(auth: AppAuth, reason: string | undefined, context: RequestContext): Promise<{ revoked: boolean; at: number }> {
      const revoked = await store.revoke(auth.appId, auth.tokenHash);
      audit.record({
        appId: auth.appId,
        eventType: 'token.revoked',
        actor: `app:${auth.appId}`,
        ip: context.ip,
        requestId: context.requestId,
        details: { token_id: auth.tokenId, ...(reason ? { reason } : {}) },
      });
      return { revoked, at: clock.now() };
    },
  };
}

export type AppTokenService = ReturnType<typeof createAppTokenService>;
