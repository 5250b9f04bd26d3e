/**
 * The app access token decision (API V3 bearer tokens): `app.appAccess.evaluate` walks every step
 * (token well-formed, live, app active, organization still assigned) with one token-store round
 * trip and no Postgres, recording each step for support's "explain"; `check` throws the refusal.
 *
 * A token whose record is gone is reported as expired when its embedded expiry has passed, else as
 * revoked; anything we did not mint is V3_AUTH_TOKEN_INVALID. Never a 500 or a 403 for a token.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { loadAppSnapshot } from '../db/app-snapshot.js';
import { AppError } from '../errors.js';
import { type AppCredentialCodec, createAppCredentialCodec } from '../lib/app-credentials.js';
import type { Clock } from '../lib/clock.js';
import type { AppSnapshot } from '../redis/app-token-store.js';
import { createTrail, type Evaluation, unauthorized } from './authenticate.js';

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
  /** Epoch ms. */
  issuedAt: number;
  expiresAt: number;
}

export interface AppAccessGuard {
  /** Every step; `recordPassed` false keeps only a refusal's (see Trail in ./authenticate.ts). */
  evaluate(token: string, recordPassed?: boolean): Promise<Evaluation<AppAuth>>;
  check(token: string): Promise<AppAuth>;
  /** Rebuilds a snapshot the store has lost from Postgres (cached negatively for unknown ids). */
  restoreSnapshot(appId: string): Promise<AppSnapshot | null>;
  codec: AppCredentialCodec;
}

declare module 'fastify' {
  interface FastifyInstance {
    appAccess: AppAccessGuard;
  }
}

const UNKNOWN_APP_CACHE_MS = 60_000;
const UNKNOWN_APP_CACHE_SIZE = 10_000;

export default fp(
  async function appAccessPlugin(app: FastifyInstance, options: { config: Config; clock: Clock }) {
    const { clock } = options;
    const codec = createAppCredentialCodec(Buffer.from(options.config.APP_SECRET_PEPPER));
    // App ids known not to exist, so random client_ids cannot make every request query Postgres.
    // Ids are random UUIDs chosen at creation, so a real app is never in here.
    const unknownApps = new Map<string, number>();

    async function restoreSnapshot(appId: string): Promise<AppSnapshot | null> {
      const now = clock.now();
      if ((unknownApps.get(appId) ?? 0) > now) return null;
      const snapshot = await loadAppSnapshot(app.db, appId);
      if (snapshot) await app.appTokens.putSnapshot(snapshot);
      else {
        if (unknownApps.size >= UNKNOWN_APP_CACHE_SIZE) unknownApps.clear();
        unknownApps.set(appId, now + UNKNOWN_APP_CACHE_MS);
      }
      return snapshot;
    }

    async function evaluate(token: string, recordPassed = true): Promise<Evaluation<AppAuth>> {
      const trail = createTrail<AppAuth>(recordPassed);
      const parsed = codec.parseTokenShape(token);
      if (!parsed) return trail.refuse('token valid', unauthorized('V3_AUTH_TOKEN_INVALID'));
      const found = await app.appTokens.lookup(parsed.appId, parsed.hash);
      // A record under the token's digest proves we minted it; without one, the MAC decides.
      if (!found.token && !codec.isMinted(token)) return trail.refuse('token valid', unauthorized('V3_AUTH_TOKEN_INVALID'));
      trail.pass('token valid', `app ${parsed.appId}`);
      const now = clock.now();
      const subject = { appId: parsed.appId, ...(found.token ? { tokenId: found.token.tokenId } : {}) };
      if (!found.token) {
        return trail.refuse('token live', unauthorized(now >= parsed.expiresAt ? 'V3_AUTH_TOKEN_EXPIRED' : 'V3_AUTH_TOKEN_REVOKED', undefined, subject));
      }
      if (now >= found.token.expiresAt) return trail.refuse('token live', unauthorized('V3_AUTH_TOKEN_EXPIRED', undefined, subject));
      trail.pass('token live');
      const snapshot = found.app ?? (await restoreSnapshot(parsed.appId));
      if (!snapshot || snapshot.status === 'REVOKED') return trail.refuse('app active', new AppError('V3_AUTH_APP_REVOKED', { subject }));
      if (snapshot.status === 'SUSPENDED') return trail.refuse('app active', new AppError('V3_AUTH_APP_SUSPENDED', { subject }));
      trail.pass('app active', snapshot.code);
      const record = found.token;
      if (!snapshot.organizations.some((org) => org.id === record.organizationId)) {
        return trail.refuse('organization still assigned', new AppError('V3_AUTH_ORG_DENIED', { subject }));
      }
      trail.pass('organization still assigned', record.organizationCode);
      return trail.allow({
        appId: snapshot.id,
        appCode: snapshot.code,
        appName: snapshot.name,
        status: snapshot.status,
        tokenId: record.tokenId,
        tokenHash: parsed.hash,
        organizationId: record.organizationId,
        organizationCode: record.organizationCode,
        // A scoped token (OAuth) keeps only the scope's codes that are still granted.
        permissions: record.scope ? snapshot.permissions.filter((code) => record.scope!.includes(code)) : snapshot.permissions,
        organizations: snapshot.organizations,
        issuedAt: record.issuedAt,
        expiresAt: record.expiresAt,
      });
    }

    app.decorate<AppAccessGuard>('appAccess', {
      evaluate,
      async check(token) {
        const result = await evaluate(token);
        if (result.error) throw result.error;
        return result.principal!;
      },
      restoreSnapshot,
      codec,
    });
  },
  { name: 'app-access', dependencies: ['db', 'app-tokens'] },
);
