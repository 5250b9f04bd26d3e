/**
 * What the framework-free services report to metrics: tokens issued and refresh outcomes. The
 * HTTP app passes the Prometheus-backed implementation (src/plugins/metrics.ts); the CLI, which
 * nobody scrapes, passes noAuthMetrics. Calls sit on hot paths, so implementations must only
 * bump pre-built counters.
 */
export const TOKEN_KINDS = ['user_access', 'app_access'] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];

/**
 * rotated, replayed (the predecessor within the grace window), reused (theft detected: the
 * session was revoked), the session-side refusals (not_found, revoked, disabled, session_expired,
 * refresh_expired), and refusals before the store is asked (missing, invalid).
 */
export const REFRESH_OUTCOMES = [
  'rotated',
  'replayed',
  'reused',
  'not_found',
  'revoked',
  'disabled',
  'session_expired',
  'refresh_expired',
  'missing',
  'invalid',
] as const;
export type RefreshOutcome = (typeof REFRESH_OUTCOMES)[number];

export interface AuthMetrics {
  tokenIssued(kind: TokenKind): void;
  refreshed(outcome: RefreshOutcome): void;
}

export const noAuthMetrics: AuthMetrics = {
  tokenIssued() {},
  refreshed() {},
};
