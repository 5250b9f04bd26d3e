/**
 * User authentication: register, login, refresh-token rotation, logout, sessions, bootstrap.
 *
 * Invariants:
 * - Unknown email and wrong password are indistinguishable (same error, same argon2 work).
 * - A disabled account is reported only after the password was right.
 * - Refresh never touches Postgres: the session record carries what a new access token needs.
 * - A request that fails changes nothing: a new account and its first session commit together.
 */
import { randomUUID } from 'node:crypto';
import type { Config } from '../../config.js';
import type { UserRow } from '../../db/schema.js';
import { AppError, type ErrorSubject } from '../../errors.js';
import type { Clock } from '../../lib/clock.js';
import type { PasswordHasher } from '../../lib/password-hasher.js';
import { assertPasswordAcceptable } from '../../lib/password-policy.js';
import type { RefreshTokenCodec } from '../../lib/refresh-token.js';
import type { AccessTokenSigner } from '../../plugins/access-token.js';
import type { UserAuth } from '../../plugins/authenticate.js';
import type { RotateResult, SessionStore } from '../../redis/session-store.js';
import type { AuthEvent, AuthEventLog } from '../../db/auth-event-writer.js';
import type { LoginStamps } from '../../db/login-stamp-writer.js';
import type { AuthMetrics } from '../../lib/auth-metrics.js';
import { type CredentialThrottle, digestForKey } from '../../lib/credential-throttle.js';
import { loginSubject } from './login-throttle.js';
import type { BootstrapBody, LoginBody, PublicUser, RegisterBody, SessionView } from './schemas.js';
import type { UserRepository } from './user-repository.js';

export interface ClientInfo {
  ip: string;
  userAgent: string;
  requestId: string;
}

export interface IssuedTokens {
  sessionId: string;
  accessToken: string;
  refreshToken: string;
  /** Seconds the refresh cookie should live. */
  refreshMaxAge: number;
}

export interface UserAuthServiceDeps {
  config: Config;
  throttle: CredentialThrottle;
  events: AuthEventLog;
  /** users.last_login_at, batched. */
  loginStamps: Pick<LoginStamps, 'record'>;
  clock: Clock;
  users: UserRepository;
  sessions: SessionStore;
  hasher: PasswordHasher;
  accessTokens: AccessTokenSigner;
  refreshTokens: RefreshTokenCodec;
  metrics: AuthMetrics;
}

/** NFKC first, so full-width and other compatibility forms cannot make a look-alike second account. */
export const normalizeEmail = (email: string) => email.normalize('NFKC').trim().toLowerCase();

export const toPublicUser = (user: Pick<UserRow, 'id' | 'email' | 'name' | 'role'>): PublicUser => ({
  id: user.id,
  email: user.email,
  name: user.name,
  role: user.role,
});

const throttled = (retryAfterSeconds: number) => new AppError('LOGIN_THROTTLED', { headers: { 'retry-after': String(retryAfterSeconds) } });

const REFRESH_FAILURES: Record<Exclude<RotateResult['kind'], 'rotated' | 'replayed'>, (subject: ErrorSubject) => AppError> = {
  reused: (subject) => new AppError('REFRESH_TOKEN_REUSED', { subject }),
  not_found: (subject) => new AppError('SESSION_EXPIRED', { subject }),
  revoked: (subject) => new AppError('SESSION_REVOKED', { subject }),
  disabled: (subject) => new AppError('ACCOUNT_DISABLED', { subject }),
  session_expired: (subject) => new AppError('SESSION_EXPIRED', { subject }),
  refresh_expired: (subject) => new AppError('REFRESH_TOKEN_EXPIRED', { subject }),
};

export function createUserAuthService(deps: UserAuthServiceDeps) {
  const { config, clock, users, sessions, hasher, accessTokens, refreshTokens, throttle, events, loginStamps, metrics } = deps;
  const event = (kind: string, client: ClientInfo, facts: Partial<AuthEvent> = {}) =>
    events.record({ kind, ip: client.ip, userAgent: client.userAgent.slice(0, 256), requestId: client.requestId, ...facts });
  const ms = (seconds: number) => seconds * 1000;

  /** The account (undefined: unknown email) and its password check; an unknown email is verified against a dummy hash, as slowly. */
  async function verifyAccount(email: string, password: string) {
    const user = await users.findByEmail(email);
    return { user, result: user ? await hasher.verify(user.passwordHash, password) : await hasher.verifyAgainstDummy(password) };
  }

  /** Creates the session in the store and mints its first pair of tokens. */
  async function startSession(user: Pick<UserRow, 'id' | 'email' | 'name' | 'role'>, client: ClientInfo): Promise<IssuedTokens> {
    const now = clock.now();
    const sessionId = randomUUID();
    const refresh = refreshTokens.issue(user.id, sessionId);
    const expiresAt = now + ms(config.SESSION_ABSOLUTE_TTL);
    const refreshExpiresAt = Math.min(now + ms(config.JWT_REFRESH_TTL), expiresAt);
    await sessions.create({
      sessionId,
      userId: user.id,
      role: user.role,
      email: user.email,
      name: user.name,
      ip: client.ip,
      userAgent: client.userAgent,
      refreshTokenHash: refresh.hash,
      createdAt: now,
      expiresAt,
      refreshExpiresAt,
      retainUntil: refreshExpiresAt + ms(config.JWT_ACCESS_TTL),
    });
    return {
      sessionId,
      accessToken: accessTokens.sign({ userId: user.id, sessionId, role: user.role }, now, expiresAt),
      refreshToken: refresh.token,
      refreshMaxAge: Math.floor((refreshExpiresAt - now) / 1000),
    };
  }

  /** Policy first, then the (slow) hash, both before any transaction opens. */
  async function hashNewPassword(password: string): Promise<string> {
    assertPasswordAcceptable(password, config.PASSWORD_MIN_LENGTH);
    return hasher.hash(password);
  }

  return {
    async register(input: RegisterBody, client: ClientInfo): Promise<IssuedTokens & { user: PublicUser }> {
      const email = normalizeEmail(input.email);
      const role = input.role ?? 'CONSUMER';
      if (role === 'ADMIN' && !config.ADMIN_EMAIL_ALLOWLIST.has(email)) throw new AppError('ADMIN_REGISTRATION_DENIED');
      const passwordHash = await hashNewPassword(input.password);
      // The session is created inside the transaction, so a store failure rolls the account back.
      const result = await users.transaction(async (tx) => {
        const user = await users.insert({ id: randomUUID(), email, name: input.name ?? null, role, passwordHash }, tx);
        const tokens = await startSession(user, client);
        return { ...tokens, user: toPublicUser(user) };
      });
      // Counted once committed: a rolled-back registration hands out no token.
      metrics.tokenIssued('user_access');
      event('user.registered', client, { userId: result.user.id, sessionId: result.sessionId, details: { role } });
      return result;
    },

    async login(input: LoginBody, client: ClientInfo): Promise<IssuedTokens & { user: PublicUser }> {
      const email = normalizeEmail(input.email);
      // Unknown emails are throttled exactly like real ones: the lock reveals nothing either.
      const subject = loginSubject(email);
      const from = digestForKey(client.ip);
      // Checked and counted in one step, before anything else: a locked attempt costs no SELECT.
      const gate = await throttle.attempt(subject, from);
      if (!gate.admitted) throw throttled(gate.decision.retryAfterSeconds);

      const { user, result } = await verifyAccount(email, input.password).catch(async (error: unknown) => {
        // No password was checked, so the attempt is taken back; if the store cannot, it lapses with its window.
        await throttle.released(subject, from).catch(() => undefined);
        throw error;
      });
      if (!user || !result.ok) {
        const after = gate.decision;
        if (after.locked) {
          event('login.locked', client, {
            reason: 'LOGIN_THROTTLED',
            userId: user?.id ?? null,
            email: user ? null : email,
            actor: 'system',
            details: { scope: after.scope, retry_after_seconds: after.retryAfterSeconds },
          });
        }
        throw new AppError('INVALID_CREDENTIALS', user ? { subject: { userId: user.id } } : {});
      }
      // The attempt was counted as a failure up front; the right password clears the count. Sent
      // now, so it leaves in the session's socket write when nothing is awaited in between. Best
      // effort: a login is not refused (nor its session left without tokens) because a counter
      // could not be cleared; the count lapses with its window.
      const cleared = throttle.succeeded(subject, from).catch(() => undefined);
      if (user.disabled) {
        await cleared;
        throw new AppError('ACCOUNT_DISABLED', { subject: { userId: user.id } });
      }
      let signedIn: IssuedTokens & { user: PublicUser };
      if (result.needsRehash) {
        await cleared;
        // Rare (the hash parameters changed): as in register, the new hash commits only if the session was created.
        const upgradedHash = await hasher.hash(input.password);
        signedIn = await users.transaction(async (tx) => {
          await users.recordRehashedLogin(user.id, new Date(clock.now()), upgradedHash, tx);
          return { ...(await startSession(user, client)), user: toPublicUser(user) };
        });
      } else {
        // The usual login writes nothing to Postgres itself: its stamp is batched (src/db/login-stamp-writer.ts).
        const [tokens] = await Promise.all([startSession(user, client), cleared]);
        signedIn = { ...tokens, user: toPublicUser(user) };
        loginStamps.record(user.id, new Date(clock.now()));
      }
      metrics.tokenIssued('user_access');
      event('login.succeeded', client, { userId: user.id, sessionId: signedIn.sessionId });
      return signedIn;
    },

    /** Rotates the refresh token; replays the rotation for the predecessor within the grace window. */
    async refresh(presented: string | undefined, client: ClientInfo): Promise<IssuedTokens> {
      if (!presented) {
        metrics.refreshed('missing');
        throw new AppError('REFRESH_TOKEN_MISSING');
      }
      const parsed = refreshTokens.parse(presented);
      if (!parsed) {
        metrics.refreshed('invalid');
        throw new AppError('REFRESH_TOKEN_INVALID');
      }
      const now = clock.now();
      const next = refreshTokens.issue(parsed.userId, parsed.sessionId);
      const result = await sessions.rotate({
        userId: parsed.userId,
        sessionId: parsed.sessionId,
        presentedHash: parsed.hash,
        nextHash: next.hash,
        sealedSuccessor: refreshTokens.seal(next.token, presented),
        now,
        graceMs: ms(config.REFRESH_REUSE_GRACE_SECONDS),
        refreshTtlMs: ms(config.JWT_REFRESH_TTL),
        retainMs: ms(config.JWT_ACCESS_TTL),
      });
      const subject = { userId: parsed.userId, sessionId: parsed.sessionId };
      if (result.kind !== 'rotated' && result.kind !== 'replayed') {
        metrics.refreshed(result.kind);
        throw REFRESH_FAILURES[result.kind](subject);
      }
      const refreshToken = result.kind === 'rotated' ? next.token : refreshTokens.unseal(result.sealedSuccessor, presented);
      if (!refreshToken) {
        metrics.refreshed('invalid');
        throw new AppError('REFRESH_TOKEN_INVALID', { subject });
      }
      event(result.kind === 'rotated' ? 'session.refreshed' : 'session.refresh_replayed', client, subject);
      const accessToken = accessTokens.sign({ userId: parsed.userId, sessionId: parsed.sessionId, role: result.role }, now, result.expiresAt);
      metrics.refreshed(result.kind);
      metrics.tokenIssued('user_access');
      return {
        sessionId: parsed.sessionId,
        accessToken,
        refreshToken,
        refreshMaxAge: Math.max(0, Math.floor((result.refreshExpiresAt - now) / 1000)),
      };
    },

    /** Ends the session of the refresh cookie, else of the bearer token; silently does nothing when neither names one. */
    async logout(presentedRefresh: string | undefined, bearer: { userId: string; sessionId: string } | undefined, client: ClientInfo): Promise<void> {
      const parsed = presentedRefresh ? refreshTokens.parse(presentedRefresh) : null;
      const target = parsed ?? bearer;
      if (target && (await sessions.revoke(target.userId, target.sessionId, 'logout'))) {
        event('session.logged_out', client, { userId: target.userId, sessionId: target.sessionId });
      }
    },

    async logoutAll(auth: UserAuth, client: ClientInfo): Promise<number> {
      const revoked = await sessions.revokeAllForUser(auth.userId, 'logout_all');
      event('sessions.revoked_all', client, { userId: auth.userId, sessionId: auth.sessionId, actor: `user:${auth.userId}`, details: { revoked } });
      return revoked;
    },

    async listSessions(auth: UserAuth): Promise<SessionView[]> {
      const active = await sessions.listActiveForUser(auth.userId, clock.now());
      return active.map((session) => ({
        id: session.sessionId,
        createdAt: new Date(session.createdAt).toISOString(),
        lastUsedAt: new Date(session.lastUsedAt).toISOString(),
        expiresAt: new Date(Math.min(session.expiresAt, session.refreshExpiresAt)).toISOString(),
        ip: session.ip,
        userAgent: session.userAgent,
        current: session.sessionId === auth.sessionId,
      }));
    },

    async revokeSession(auth: UserAuth, sessionId: string, client: ClientInfo): Promise<void> {
      const session = await sessions.get(auth.userId, sessionId);
      if (!session || session.status !== 'active') throw new AppError('SESSION_NOT_FOUND');
      await sessions.revoke(auth.userId, sessionId, 'user_revoked');
      event('session.revoked', client, { userId: auth.userId, sessionId, actor: `user:${auth.userId}` });
    },

    /** Creates the first admin. The advisory lock makes two concurrent calls create exactly one. */
    async bootstrap(input: BootstrapBody): Promise<void> {
      const email = normalizeEmail(input.email);
      const passwordHash = await hashNewPassword(input.password);
      await users.transaction(async (tx) => {
        await users.lockAdminSet(tx);
        if (await users.adminExists(tx)) throw new AppError('ADMIN_EXISTS');
        await users.insert({ id: randomUUID(), email, name: input.name, role: 'ADMIN', passwordHash }, tx);
      });
    },
  };
}

export type UserAuthService = ReturnType<typeof createUserAuthService>;
