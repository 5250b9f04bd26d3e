/**
 * API V3 access tokens: issuance (client credentials) and revocation. Issuance is a hot path: one
 * token-store round trip (the issue script reads the brute-force lock itself), never Postgres,
 * except to rebuild an app's snapshot the store has lost, and a second round trip only to count a
 * failure or to clear earlier ones (cold paths). Validation is src/plugins/app-access.ts.
 *
 * Invariants:
 * - A wrong client_id and a wrong secret fail the same way (V3_AUTH_INVALID_CLIENT).
 * - The secret is checked before the app's status, so only a secret holder learns the status.
 */
import { randomUUID } from 'node:crypto';
import type { Config } from '../../config.js';
import { AppError, type ErrorCode } from '../../errors.js';
import { type AppCredentialCodec, appIdFromClientId } from '../../lib/app-credentials.js';
import type { Clock } from '../../lib/clock.js';
import { type CredentialThrottle, digestForKey } from '../../lib/credential-throttle.js';
import type { AuthEventLog } from '../../db/auth-event-writer.js';
import type { AuthMetrics } from '../../lib/auth-metrics.js';
import type { AuditLog } from '../../plugins/audit.js';
import type { AppAuth } from '../../plugins/app-access.js';
import type { AppSnapshot, AppTokenStore, IssueInput, IssueResult } from '../../redis/app-token-store.js';
import type { ThrottleRule, ThrottleState } from '../../redis/failure-throttle-store.js';


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
  /** OAuth scope: permission codes the token is limited to. */
  scope?: string[] | undefined;
}

const ISSUE_FAILURES: Record<Exclude<IssueResult['kind'], 'issued' | 'locked' | 'no_snapshot'>, ErrorCode> = {
  invalid_client: 'V3_AUTH_INVALID_CLIENT',
  secret_expired: 'V3_AUTH_SECRET_EXPIRED',
  app_suspended: 'V3_AUTH_APP_SUSPENDED',
  app_revoked: 'V3_AUTH_APP_REVOKED',
  org_denied: 'V3_AUTH_ORG_DENIED',
  org_required: 'V3_AUTH_ORG_REQUIRED',
  invalid_scope: 'V3_AUTH_INVALID_SCOPE',
};

/** The secret of `snapshot` whose digest is `digest`, if it is usable at `now`: ACTIVE, or GRACE before its grace_until. */
export function usableSecretOf(codec: AppCredentialCodec, snapshot: AppSnapshot, digest: Buffer, now: number): AppSnapshot['secrets'][number] | undefined {
  const secret = snapshot.secrets.find((candidate) => codec.digestMatches(digest, candidate.digest));
  return secret && (secret.status === 'ACTIVE' || (secret.status === 'GRACE' && secret.graceUntil !== null && now < secret.graceUntil)) ? secret : undefined;
}

/** "YYYY-MM-DD HH:MM:SS" in UTC, the seed's datetime format. */
export const formatV3Datetime = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');


export function createAppTokenService(deps: {
  config: Config;
  clock: Clock;
  store: AppTokenStore;
  codec: AppCredentialCodec;
  audit: AuditLog;
  throttle: CredentialThrottle;
  events: AuthEventLog;
  /** Rebuilds a snapshot the store has lost (see src/plugins/app-access.ts). */
  restoreSnapshot: (appId: string) => Promise<AppSnapshot | null>;
  metrics: AuthMetrics;
}) {
  const { config, clock, store, codec, audit, throttle, events, restoreSnapshot, metrics } = deps;

  /** Audits a refused issuance and returns its error (a function of the service, not a closure per request). */
  function denied(code: ErrorCode, forApp: string | null, clientId: string, context: RequestContext): AppError {
    audit.record({
      appId: forApp,
      eventType: 'token.denied',
      actor: `client:${clientId.slice(0, 64)}`,
      ip: context.ip,
      requestId: context.requestId,
      details: { reason: code },
    });
    return new AppError(code, forApp ? { subject: { appId: forApp } } : {});
  }

  /** The store's issue, again after rebuilding a lost snapshot (which reads the lock again). */
  async function issueOnce(input: IssueInput & { throttle: ThrottleRule[] }): Promise<IssueResult & { throttle: ThrottleState[] }> {
    let result = await store.issue(input);
    if (result.kind === 'no_snapshot' && (await restoreSnapshot(input.appId))) result = await store.issue(input);
    // Fail closed: a store that ignored the rules would silently switch brute-force protection off.
    const { throttle: states } = result;
    if (!states) throw new Error('the app token store returned no throttle states');
    return result.kind === 'no_snapshot' ? { kind: 'invalid_client', throttle: states } : { ...result, throttle: states };
  }

  return {
    async issue(request: TokenRequest, context: RequestContext) {
      if (request.grant_type !== undefined && request.grant_type !== 'client_credentials') throw new AppError('V3_AUTH_UNSUPPORTED_GRANT_TYPE');
      if (!request.client_id || !request.client_secret) throw new AppError('V3_AUTH_MISSING_CREDENTIAL');
      const appId = appIdFromClientId(request.client_id);
      if (!appId) throw denied('V3_AUTH_INVALID_CLIENT', null, request.client_id, context);

      // Brute force on one client_id: the issue script checks the lock before the secret and counts
      // a wrong or stale secret itself, so concurrent guesses cannot all pass one check.
      const from = digestForKey(context.ip);
      const now = clock.now();
      const minted = codec.issueToken(appId, now + config.APP_TOKEN_TTL * 1000);
      const result = await issueOnce({
        throttle: throttle.rules(appId, from),
        appId,
        secretDigest: codec.secretDigest(request.client_secret),
        organizationCode: request.organization_code,
        organizationId: request.organization_id,
        tokenHash: minted.hash,
        tokenId: randomUUID(),
        scope: request.scope,
        now,
        expiresAt: minted.expiresAt,
      });
      const gate = throttle.decide(result.throttle);
      if (result.kind === 'locked') {
        throw new AppError('V3_AUTH_RATE_LIMITED', {
          message: 'Too many failed client authentications; retry later',
          headers: { 'retry-after': String(gate.retryAfterSeconds) },
        });
      }
      if (result.kind === 'invalid_client' || result.kind === 'secret_expired' || result.kind === 'no_snapshot') {
        // An unknown app has no snapshot for the script to check the secret against: counted here.
        const after = result.kind === 'no_snapshot' ? await throttle.failed(appId, from) : gate;
        if (after.locked) {
          audit.record({ appId, eventType: 'client.locked', actor: 'system', ip: context.ip, requestId: context.requestId, details: { scope: after.scope, retry_after_seconds: after.retryAfterSeconds } });
          events.record({ kind: 'client.locked', reason: 'V3_AUTH_RATE_LIMITED', appId, actor: 'system', ip: context.ip, requestId: context.requestId, details: { scope: after.scope } });
        }
      }
      if (result.kind !== 'issued') throw denied(result.kind === 'no_snapshot' ? 'V3_AUTH_INVALID_CLIENT' : ISSUE_FAILURES[result.kind], appId, request.client_id, context);
      // Earlier failures were cleared by the issue itself.

      const { record } = result;
      metrics.tokenIssued('app_access');
      events.record({ kind: 'app.token_issued', appId, tokenId: record.tokenId, ip: context.ip, requestId: context.requestId, details: { organization_id: record.organizationId } });
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

    /**
     * Client authentication without issuing a token (OAuth revocation): the secret must match a
     * usable secret of an ACTIVE app. Every failure is V3_AUTH_INVALID_CLIENT, as at issuance.
     */
    async authenticateClient(clientId: string | undefined, clientSecret: string | undefined): Promise<AppSnapshot> {
      const appId = clientId ? appIdFromClientId(clientId) : null;
      if (!appId || !clientSecret) throw new AppError('V3_AUTH_INVALID_CLIENT');
      const snapshot = (await store.getSnapshot(appId)) ?? (await restoreSnapshot(appId));
      // Digested whether or not the app exists, so an unknown client_id fails in the same time.
      const digest = codec.secretDigestBytes(clientSecret);
      const usable = snapshot && usableSecretOf(codec, snapshot, digest, clock.now());
      if (!snapshot || !usable || snapshot.status !== 'ACTIVE') throw new AppError('V3_AUTH_INVALID_CLIENT', snapshot ? { subject: { appId } } : {});
      return snapshot;
    },

    /** RFC 7009: revokes `token` if it is one of this app's; anything else is silently ignored. */
    async revokeForClient(client: AppSnapshot, token: string, context: RequestContext): Promise<boolean> {
      const parsed = codec.parseToken(token);
      if (!parsed || parsed.appId !== client.id) return false;
      const revoked = await store.revoke(client.id, parsed.hash);
      if (revoked) {
        audit.record({ appId: client.id, eventType: 'token.revoked', actor: `app:${client.id}`, ip: context.ip, requestId: context.requestId, details: { via: 'oauth2/revoke' } });
      }
      return revoked;
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
