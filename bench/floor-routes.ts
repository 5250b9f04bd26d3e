/**
 * The floor routes of the bench-only instance (bench/baseline-server.ts): each does what one of
 * the service's routes cannot do without, with the service's own libraries, Redis keys, codecs,
 * scripts and response schemas, and nothing else: no hooks, rate limit, metrics, decision trail,
 * events or audit rows. A floor's ratio to its baseline is the most its route could reach on that
 * machine with these libraries; the distance from it to the route's ratio is our plumbing.
 *
 *   GET  /floor/me           a hit of the service's verified-token cache, the expiry check, the
 *                            session's one HMGET (the service's key and fields), its status,
 *                            expiry and role checks, the API security headers and request id, and
 *                            the user as JSON through /me's own response schema. A token is trusted
 *                            on first sight (its payload decoded, not verified): the bench primes
 *                            every token before measuring, so only hits are timed, as on the service.
 *   GET  /floor/check        GET /api/auth/check with an app token: the token's shape and SHA-256
 *                            (the service's codec), one MGET of its record and its app's snapshot,
 *                            the record decoded, the snapshot parsed once per version (the store's
 *                            decoder), the expiry, status and organization checks, the gateway
 *                            header and the four X-Auth-* headers, the check's response schema.
 *   POST /floor/introspect   POST /oauth2/introspect of an app token: the form body
 *                            (@fastify/formbody, the route's body schema), the caller's Basic
 *                            credentials (the service's parser), ONE MGET of the caller's
 *                            snapshot, the token's record and its app's snapshot (the service
 *                            sends a GET and an MGET in one write), the caller's secret HMAC and
 *                            status and permission checks, the token's checks as /floor/check,
 *                            and the RFC 7662 answer (the service's describeAppToken) through
 *                            the route's response schema.
 *   POST /floor/token        POST /api/v3/auth/token: the JSON body and its schema, the client_id
 *                            decoded, a token minted and the secret's HMAC (the service's codec),
 *                            the store's issue script (lock read, snapshot and secret check,
 *                            record, index) with the brute-force rules, and the V3 envelope
 *                            through the route's response schema. Without the audit row and the
 *                            auth event the route must also write (Postgres, in batches): an
 *                            upper bound on what issuance could reach.
 *   POST /floor/login        POST /api/auth/login with the right password: the JSON body, one
 *                            argon2id verify on the service's hashing pool (as /baseline/argon2)
 *                            and one access-token sign (as /baseline/sign). Without the throttle
 *                            read, the user's SELECT, the session's script and the refresh
 *                            cookie: an upper bound on what a login could reach.
 *   POST /floor/login-stores POST /api/auth/login with the right password and the stores it cannot
 *                            do without: the JSON body and the login's body schema, the email
 *                            normalised, the brute-force throttle's attempt (the service's throttle,
 *                            keys and script), the user's SELECT (the service's repository and
 *                            prepared query, on the bench's users), the argon2id verify of the
 *                            row's hash, the counters' reset and the session's create script (the
 *                            service's store) in one write, a refresh token (the service's codec)
 *                            in the service's refresh cookie (@fastify/cookie), one access-token sign, and the answer through
 *                            the login's response schema. Without the batched last-login stamp
 *                            and auth event, hooks, rate limit and metrics: still an upper bound.
 *                            A wrong password or an unknown email (verified against another hash
 *                            of the same parameters, as the service does) ends in its 401 after
 *                            the verify: the floor of those two scenarios.
 */
import fastifyCookie from '@fastify/cookie';
import formBody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import type { Config } from '../src/config.js';
import { appIdFromClientId, createAppCredentialCodec } from '../src/lib/app-credentials.js';
import { systemClock } from '../src/lib/clock.js';
import { createCredentialThrottle, digestForKey, throttleSettings } from '../src/lib/credential-throttle.js';
import { Envelope, success } from '../src/modules/app-auth/envelope.js';
import { TokenBodySchema, TokenDataSchema, type TokenBody } from '../src/modules/app-auth/schemas.js';
import { formatV3Datetime, usableSecretOf } from '../src/modules/app-auth/token-service.js';
import { CheckResponseSchema } from '../src/modules/gateway/routes.js';
import { clientCredentials } from '../src/modules/oauth/client-auth.js';
import { describeAppToken, INTROSPECT_PERMISSION } from '../src/modules/oauth/introspection-service.js';
import { IntrospectBodySchema, IntrospectionResponseSchema, type IntrospectBody } from '../src/modules/oauth/schemas.js';
import { createRefreshTokenCodec } from '../src/lib/refresh-token.js';
import { createLoginThrottle, loginSubject } from '../src/modules/user-auth/login-throttle.js';
import { createRefreshCookie } from '../src/modules/user-auth/refresh-cookie.js';
import { AuthResponseSchema, LoginBodySchema, PublicUserSchema, type LoginBody } from '../src/modules/user-auth/schemas.js';
import { normalizeEmail, toPublicUser } from '../src/modules/user-auth/service.js';
import type { UserRepository } from '../src/modules/user-auth/user-repository.js';
import { createVerifiedTokenCache } from '../src/plugins/access-token.js';
import { apiHeaders } from '../src/plugins/security.js';
import type { AppSnapshot } from '../src/redis/app-token-store.js';
import { decodeTokenRecord } from '../src/redis/app-token-scripts.js';
import { createRedisAppTokenStore, createSnapshotDecoder } from '../src/redis/redis-app-token-store.js';
import { createRedisFailureThrottleStore } from '../src/redis/redis-failure-throttle-store.js';
import { createKeys } from '../src/redis/keys.js';
import { createRedisSessionStore } from '../src/redis/redis-session-store.js';
import { ACCESS_FIELDS } from '../src/redis/session-scripts.js';

const refuse = (reply: FastifyReply, why: string) => reply.code(401).send({ code: why });

export interface FloorDeps {
  config: Config;
  redis: Redis;
  /** The baseline's own: the argon2 verify of /baseline/argon2 and the sign of /baseline/sign. */
  verifyPassword: (password: string) => Promise<boolean>;
  /** The same pool's verify against a stored hash (the user row's). */
  verifyHash: (hash: string, password: string) => Promise<boolean>;
  signAccessToken: () => string;
  /** The service's user repository on the bench database. */
  users: UserRepository;
}

export async function registerFloorRoutes(app: FastifyInstance, deps: FloorDeps) {
  const { config, redis, verifyPassword, verifyHash, signAccessToken, users } = deps;
  const keys = createKeys(config.REDIS_KEY_PREFIX);
  const headers = apiHeaders();
  const codec = createAppCredentialCodec(Buffer.from(config.APP_SECRET_PEPPER));
  const snapshotOf = createSnapshotDecoder();

  // The service's own verified-token cache, in front of a decode that trusts the payload (see the top).
  const decodePayload = (token: string) => JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  const verified = createVerifiedTokenCache(decodePayload, config.JWT_VERIFY_CACHE_SIZE, config.JWT_ACCESS_TTL * 1000, Date.now);
  app.get('/floor/me', { schema: { response: { 200: PublicUserSchema } } }, async (request, reply) => {
    const authorization = request.headers.authorization;
    if (!authorization?.startsWith('Bearer ')) return refuse(reply, 'TOKEN_MISSING');
    const claims = verified(authorization.slice(7)) as { sub: string; sid: string; role: string; exp: number };
    const now = Date.now();
    if (claims.exp * 1000 <= now) return refuse(reply, 'TOKEN_EXPIRED');
    const [st, role, ea, , em, nm] = await redis.hmget(keys.session(claims.sub, claims.sid), ...ACCESS_FIELDS);
    if (st !== 'active' || Number(ea) <= now) return refuse(reply, 'SESSION_EXPIRED');
    if (role !== claims.role) return refuse(reply, 'TOKEN_STALE');
    reply.headers(headers).header('x-request-id', request.id);
    return { id: claims.sub, email: em ?? '', name: nm, role: role as 'CONSUMER' };
  });

  /** The app token's checks of the service's app access decision, on a record and snapshot already read. */
  const liveAppToken = (appId: string, rawRecord: string | null, json: string | null) => {
    if (rawRecord === null || json === null) return null;
    const record = decodeTokenRecord(appId, rawRecord);
    const snapshot = snapshotOf(appId, json);
    if (Date.now() >= record.expiresAt || snapshot.status !== 'ACTIVE') return null;
    if (!snapshot.organizations.some((org) => org.id === record.organizationId)) return null;
    return { record, snapshot };
  };

  app.get('/floor/check', { schema: { response: { 200: CheckResponseSchema } } }, async (request, reply) => {
    const authorization = request.headers.authorization;
    if (!authorization?.startsWith('Bearer ')) return refuse(reply, 'V3_AUTH_MISSING_CREDENTIAL');
    const parsed = codec.parseTokenShape(authorization.slice(7));
    if (!parsed) return refuse(reply, 'V3_AUTH_TOKEN_INVALID');
    const [rawRecord, json] = await redis.mget(keys.appToken(parsed.appId, parsed.hash), keys.appSnapshot(parsed.appId));
    const live = liveAppToken(parsed.appId, rawRecord, json);
    if (!live) return refuse(reply, 'V3_AUTH_TOKEN_REVOKED');
    const { record, snapshot } = live;
    reply
      .header('cache-control', headers['cache-control']!)
      .header('x-request-id', request.id)
      .header('x-auth-subject', snapshot.id)
      .header('x-auth-app', snapshot.code)
      .header('x-auth-org', record.organizationCode)
      .header('x-auth-permissions', snapshot.permissions.join(','));
    return { allowed: true as const, subject: snapshot.id };
  });

  /** The service's client authentication on a snapshot already read: a usable secret of an ACTIVE app. */
  const authenticated = (snapshot: AppSnapshot, secret: string) =>
    snapshot.status === 'ACTIVE' && usableSecretOf(codec, snapshot, codec.secretDigestBytes(secret), Date.now()) !== undefined;

  await app.register(async (forms) => {
    await forms.register(formBody, { bodyLimit: config.BODY_LIMIT_BYTES });
    forms.post<{ Body: IntrospectBody }>('/floor/introspect', { schema: { body: IntrospectBodySchema, response: { 200: IntrospectionResponseSchema } } }, async (request, reply) => {
      const client = clientCredentials(request, request.body);
      const callerId = client.clientId ? appIdFromClientId(client.clientId) : null;
      if (!callerId || !client.clientSecret) return refuse(reply, 'invalid_client');
      const parsed = codec.parseTokenShape(request.body.token);
      if (!parsed) return refuse(reply, 'not an app token');
      const [callerJson, rawRecord, json] = await redis.mget(keys.appSnapshot(callerId), keys.appToken(parsed.appId, parsed.hash), keys.appSnapshot(parsed.appId));
      const caller = callerJson === null ? null : snapshotOf(callerId, callerJson);
      if (!caller || !authenticated(caller, client.clientSecret)) return refuse(reply, 'invalid_client');
      if (!caller.permissions.includes(INTROSPECT_PERMISSION)) return reply.code(403).send({ code: 'insufficient_scope' });
      reply.headers(headers).header('x-request-id', request.id);
      const live = liveAppToken(parsed.appId, rawRecord, json);
      if (!live) return { active: false };
      const { record, snapshot } = live;
      const permissions = record.scope ? snapshot.permissions.filter((code) => record.scope!.includes(code)) : snapshot.permissions;
      return describeAppToken(
        {
          appId: snapshot.id,
          appCode: snapshot.code,
          organizationId: record.organizationId,
          organizationCode: record.organizationCode,
          permissions,
          issuedAt: record.issuedAt,
          expiresAt: record.expiresAt,
        },
        config.ISSUER,
      );
    });
  });

  const store = createRedisAppTokenStore({ client: redis, keys });
  const throttle = createCredentialThrottle({
    store: createRedisFailureThrottleStore({ client: redis }),
    clock: systemClock,
    settings: throttleSettings(config),
    keys: (appId, ip) => ({ pair: keys.clientFailuresFrom(appId, ip), subject: keys.clientFailures(appId) }),
  });
  app.post<{ Body: TokenBody }>('/floor/token', { schema: { body: TokenBodySchema, response: { 200: Envelope(TokenDataSchema) } } }, async (request, reply) => {
    const body = request.body;
    const appId = body.client_id ? appIdFromClientId(body.client_id) : null;
    if (!appId || !body.client_secret) return refuse(reply, 'V3_AUTH_INVALID_CLIENT');
    const now = Date.now();
    const minted = codec.issueToken(appId, now + config.APP_TOKEN_TTL * 1000);
    const result = await store.issue({
      throttle: throttle.rules(appId, digestForKey(request.ip)),
      appId,
      secretDigest: codec.secretDigest(body.client_secret),
      organizationCode: body.organization_code,
      organizationId: body.organization_id,
      tokenHash: minted.hash,
      tokenId: randomUUID(),
      scope: undefined,
      now,
      expiresAt: minted.expiresAt,
    });
    if (result.kind !== 'issued' || throttle.decide(result.throttle!).locked) return refuse(reply, result.kind);
    reply.headers(headers).header('x-request-id', request.id);
    return success(request, {
      access_token: minted.token,
      token_type: 'Bearer' as const,
      expires_in: config.APP_TOKEN_TTL,
      expires_at: formatV3Datetime(result.record.expiresAt),
      app_code: result.appCode,
      organization_id: result.record.organizationId,
      organization_code: result.record.organizationCode,
    });
  });

  app.post<{ Body: { password?: unknown } }>('/floor/login', async (request, reply) => {
    const password = request.body?.password;
    if (typeof password !== 'string' || !(await verifyPassword(password))) return refuse(reply, 'INVALID_CREDENTIALS');
    reply.headers(headers).header('x-request-id', request.id);
    return { accessToken: signAccessToken() };
  });

  const loginThrottle = createLoginThrottle({ failureThrottle: createRedisFailureThrottleStore({ client: redis }), keys }, config, systemClock);
  const sessions = createRedisSessionStore({ client: redis, keys });
  const refreshTokens = createRefreshTokenCodec(Buffer.from(config.JWT_SECRET));
  const refreshCookie = createRefreshCookie(config);
  const ms = (seconds: number) => seconds * 1000;
  // In a scope with @fastify/cookie, as the service's cookie routes are.
  await app.register(async (cookies) => {
    await cookies.register(fastifyCookie);
    cookies.post<{ Body: LoginBody }>('/floor/login-stores', { schema: { body: LoginBodySchema, response: { 200: AuthResponseSchema } } }, async (request, reply) => {
      const email = normalizeEmail(request.body.email);
      const subject = loginSubject(email);
      const from = digestForKey(request.ip);
      const gate = await loginThrottle.attempt(subject, from);
      if (!gate.admitted) return reply.code(429).send({ code: 'LOGIN_THROTTLED' });
      const user = await users.findByEmail(email);
      // An unknown email is verified against another hash with the same parameters, as the service does.
      const right = user ? await verifyHash(user.passwordHash, request.body.password) : await verifyPassword(request.body.password);
      if (!user || !right) return refuse(reply, 'INVALID_CREDENTIALS');
      const cleared = loginThrottle.succeeded(subject, from);
      const now = Date.now();
      const sessionId = randomUUID();
      const refresh = refreshTokens.issue(user.id, sessionId);
      const expiresAt = now + ms(config.SESSION_ABSOLUTE_TTL);
      const refreshExpiresAt = Math.min(now + ms(config.JWT_REFRESH_TTL), expiresAt);
      const created = sessions.create({
        sessionId,
        userId: user.id,
        role: user.role,
        email: user.email,
        name: user.name,
        ip: request.ip,
        userAgent: request.headers['user-agent'] ?? '',
        refreshTokenHash: refresh.hash,
        createdAt: now,
        expiresAt,
        refreshExpiresAt,
        retainUntil: refreshExpiresAt + ms(config.JWT_ACCESS_TTL),
      });
      await Promise.all([created, cleared]);
      reply.headers(headers).header('x-request-id', request.id);
      refreshCookie.set(reply, refresh.token, Math.floor((refreshExpiresAt - now) / 1000));
      return { accessToken: signAccessToken(), user: toPublicUser(user) };
    });
  });
}
