/**
 * Support diagnostics: "why is this user (or app) blocked?". Explanations come from the very code
 * the routes run (app.access.decide, roleStep, the user and app token evaluations), so what
 * support reads is what the route would do right now.
 */
import type { AuthEventLog } from '../../db/auth-event-writer.js';
import type { AuthEventRow } from '../../db/schema.js';
import { AppError, type ErrorCode, ERRORS, toV3Error, V3_PREFIX } from '../../errors.js';
import type { Clock } from '../../lib/clock.js';
import type { AccessDecision, AccessRequirement } from '../../plugins/access.js';
import type { AccessCheck } from '../../plugins/authenticate.js';
import type { AppTokenStore } from '../../redis/app-token-store.js';
import type { ThrottleState } from '../../redis/failure-throttle-store.js';
import type { SessionStore } from '../../redis/session-store.js';
import type { FastifyInstance } from 'fastify';
import { loadAppSnapshot } from '../../db/app-snapshot.js';
import type { Db } from '../../db/client.js';
import type { ExplainBody } from './schemas.js';
import type { SupportRepository } from './support-repository.js';

const RECENT_EVENTS = 50;

const meaningOf = (code: string | null | undefined) => (code && code in ERRORS ? ((ERRORS[code as ErrorCode] as { meaning?: string }).meaning ?? null) : null);
const iso = (date: Date | number | null) => (date === null ? null : new Date(date).toISOString());

export function presentEvent(row: AuthEventRow) {
  return {
    occurredAt: row.occurredAt.toISOString(),
    kind: row.kind,
    reason: row.reason,
    status: row.status,
    meaning: meaningOf(row.reason),
    method: row.method,
    route: row.route,
    sessionId: row.sessionId,
    ip: row.ip,
    userAgent: row.userAgent,
    requestId: row.requestId,
    actor: row.actor,
    count: row.count,
  };
}

function describe(requirement: AccessRequirement | null): string {
  if (!requirement) return 'public: no token needed';
  switch (requirement.principal) {
    case 'user':
      return requirement.roles ? `a user access token with role ${requirement.roles.join(' or ')}` : 'a user access token (any role)';
    case 'app':
      return 'an API V3 app access token';
    case 'any':
      return 'any valid user or app token';
    case 'admin':
    case 'staff':
      return `an ADMIN user token, or an app token with ${requirement.permission}`;
  }
}

export function createSupportService(deps: {
  access: FastifyInstance['access'];
  repository: SupportRepository;
  sessions: SessionStore;
  appTokens: AppTokenStore;
  events: AuthEventLog;
  db: Db;
  clock: Clock;
  /** The account-wide login counter of a normalised email (the login throttle's subjectState). */
  loginLockOf: (email: string) => Promise<ThrottleState>;
}) {
  const { access, repository, sessions, appTokens, events, db, clock, loginLockOf } = deps;

  const verdict = (route: string | null, requirement: AccessRequirement | null, checks: AccessCheck[], refusal?: AppError) => {
    // API V3 routes answer with their own codes: explain says what the route would say.
    const error = refusal && route?.startsWith(V3_PREFIX) ? toV3Error(refusal) : refusal;
    const v3Checks = route?.startsWith(V3_PREFIX) ? checks.map((c) => (c.code ? { ...c, code: toV3Error(new AppError(c.code)).code } : c)) : checks;
    return {
      decision: error ? ('DENY' as const) : ('ALLOW' as const),
      status: error ? error.statusCode : 200,
      code: error?.code ?? null,
      meaning: meaningOf(error?.code),
      route,
      requirement: describe(requirement),
      checks: v3Checks,
    };
  };

  async function userReport(by: { id?: string; email?: string }) {
    const user = await repository.findUser(by);
    if (!user) throw new AppError('USER_NOT_FOUND');
    const [active, recent, lock] = await Promise.all([
      sessions.listActiveForUser(user.id, clock.now()),
      repository.recentUserEvents(user, RECENT_EVENTS),
      loginLockOf(user.email),
    ]);
    return {
      account: {
        id: user.id,
        email: user.email,
        name: user.name,
        role: user.role,
        disabled: user.disabled,
        createdAt: user.createdAt.toISOString(),
        lastLoginAt: iso(user.lastLoginAt),
        passwordChangedAt: user.passwordChangedAt.toISOString(),
      },
      sessions: active.map((session) => ({
        id: session.sessionId,
        createdAt: iso(session.createdAt)!,
        lastUsedAt: iso(session.lastUsedAt)!,
        expiresAt: iso(Math.min(session.expiresAt, session.refreshExpiresAt))!,
        ip: session.ip,
        userAgent: session.userAgent,
      })),
      events: recent.map(presentEvent),
      loginLock: { failures: lock.failures, lockedUntil: lock.lockedForMs > 0 ? iso(clock.now() + lock.lockedForMs) : null },
    };
  }

  return {
    userReport,

    async explain(body: ExplainBody) {
      const path = body.path.split('?')[0]!;
      const route = access.routeFor(body.method, path);
      if (!route) {
        const notFound = path.startsWith(V3_PREFIX) ? new AppError('V3_AUTH_NOT_FOUND') : new AppError('NOT_FOUND');
        return { ...verdict(null, null, [{ check: 'route exists', passed: false, code: notFound.code }], notFound), requirement: 'no such route' };
      }
      if (!route.requirement) return verdict(route.url, null, [{ check: 'route is public', passed: true }]);
      const requirement = route.requirement;

      if ('token' in body) {
        const decision: AccessDecision = await access.decide(requirement, `Bearer ${body.token}`, { method: body.method, url: route.url });
        return verdict(route.url, requirement, decision.checks, decision.error);
      }
      // As the account stands now, for its next request with a fresh login.
      const user = await repository.findUser('userId' in body ? { id: body.userId } : { email: body.email.normalize('NFKC').trim().toLowerCase() });
      if (!user) throw new AppError('USER_NOT_FOUND');
      const checks: AccessCheck[] = [{ check: 'account exists', passed: true, detail: user.email }];
      const refuse = (check: string, error: AppError) => {
        checks.push({ check, passed: false, code: error.code, detail: error.message });
        return verdict(route.url, requirement, checks, error);
      };
      if (user.disabled) return refuse('account enabled', new AppError('ACCOUNT_DISABLED'));
      checks.push({ check: 'account enabled', passed: true });
      const live = await sessions.listActiveForUser(user.id, clock.now());
      if (live.length === 0) return refuse('active session', new AppError('SESSION_EXPIRED', { message: 'No active session: the user must log in' }));
      checks.push({ check: 'active session', passed: true, detail: `${live.length} active` });
      const step = access.roleStep(requirement, user.role);
      if (step.error) return refuse(step.check, step.error);
      checks.push({ check: step.check, passed: true, ...(step.detail ? { detail: step.detail } : {}) });
      return verdict(route.url, requirement, checks);
    },

    async appReport(appId: string) {
      const [app, snapshot, secrets, denials, liveTokens] = await Promise.all([
        repository.findApp(appId),
        loadAppSnapshot(db, appId),
        repository.appSecrets(appId),
        repository.recentAppDenials(appId, RECENT_EVENTS),
        appTokens.countLive(appId, clock.now()),
      ]);
      if (!app || !snapshot) throw new AppError('NOT_FOUND', { message: 'App not found' });
      return {
        app: { id: app.id, code: app.appCode, name: app.appName, status: app.status, clientId: app.clientId },
        secrets: secrets.map((secret) => ({
          version: secret.version,
          status: secret.status,
          createdAt: secret.createdAt.toISOString(),
          graceUntil: iso(secret.graceUntil),
          revokedAt: iso(secret.revokedAt),
        })),
        liveTokens,
        organizations: snapshot.organizations,
        permissions: snapshot.permissions,
        recentDenials: denials.map(presentEvent),
      };
    },

    /** "Log out everywhere" on the user's behalf; recorded with the acting admin. */
    async revokeSessions(userId: string, by: { actor: string; ip: string; requestId: string }) {
      const user = await repository.findUser({ id: userId });
      if (!user) throw new AppError('USER_NOT_FOUND');
      const revoked = await sessions.revokeAllForUser(userId, 'admin_revoked');
      events.record({ kind: 'sessions.revoked_by_support', userId, actor: by.actor, ip: by.ip, requestId: by.requestId, details: { revoked } });
      return revoked;
    },
  };
}

export type SupportService = ReturnType<typeof createSupportService>;
