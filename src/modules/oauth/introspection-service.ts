/**
 * OAuth 2.0 token introspection (RFC 7662) for resource servers: an app holding auth.introspect
 * asks whether a token is live and whose it is.
 *
 * Threat model and invariants:
 * - Only an authenticated ACTIVE app whose current grants include auth.introspect learns anything;
 *   a bad client gets 401 invalid_client, an app without the permission 403 insufficient_scope.
 * - "Active" is decided by the very code that guards our own routes (app.appAccess.evaluate for
 *   app tokens, app.userAccess.evaluate for user tokens), so introspection can never call a token
 *   live that our routes would refuse for token or session reasons, nor the other way round.
 * - Anything not active is exactly {active: false} (RFC 7662 2.2): the reason is not revealed.
 * - Refresh tokens are never introspected (they are the browser's, bound to a cookie path, and no
 *   resource server should hold one): they are inactive, whatever token_type_hint says.
 * - Hot path: no Postgres (except the cold rebuild of a snapshot the store has lost). The
 *   caller's snapshot (GET) and the token's lookup (MGET, or HMGET of the session) are issued in
 *   the same tick, so ioredis writes both before either reply: one round trip.
 */
import type { Config } from '../../config.js';
import { AppError } from '../../errors.js';
import { clientIdFor, isAppTokenShaped } from '../../lib/app-credentials.js';
import type { AppAccessGuard, AppAuth } from '../../plugins/app-access.js';
import type { UserAccessGuard, UserAuth } from '../../plugins/authenticate.js';
import type { AppTokenService } from '../app-auth/token-service.js';
import type { PresentedClient } from './client-auth.js';
import type { IntrospectionResponse } from './schemas.js';

/** The permission (seeded in the starter catalog) an app needs to call POST /oauth2/introspect. */
export const INTROSPECT_PERMISSION = 'auth.introspect';

const seconds = (ms: number) => Math.floor(ms / 1000);

/** RFC 7662's answer for a live app token (also built by the bench's floor route, bench/floor-routes.ts). */
export function describeAppToken(
  token: Pick<AppAuth, 'appId' | 'appCode' | 'organizationId' | 'organizationCode' | 'permissions' | 'issuedAt' | 'expiresAt'>,
  issuer: string,
): IntrospectionResponse {
  const clientId = clientIdFor(token.appId);
  return {
    active: true,
    token_type: 'Bearer',
    sub: clientId,
    client_id: clientId,
    ...(token.permissions.length > 0 ? { scope: token.permissions.join(' ') } : {}),
    exp: seconds(token.expiresAt),
    iat: seconds(token.issuedAt),
    iss: issuer,
    app_id: token.appId,
    app_code: token.appCode,
    organization_id: token.organizationId,
    organization_code: token.organizationCode,
  };
}

export function createIntrospectionService(deps: {
  config: Config;
  tokens: AppTokenService;
  appAccess: AppAccessGuard;
  userAccess: UserAccessGuard;
}) {
  const { config, tokens, appAccess, userAccess } = deps;

  function describeUserToken(auth: UserAuth): IntrospectionResponse {
    const { claims } = auth;
    return {
      active: true,
      token_type: 'Bearer',
      sub: auth.userId,
      exp: claims.exp,
      iat: claims.iat,
      iss: claims.iss,
      aud: claims.aud,
      jti: claims.jti,
      sid: auth.sessionId,
      role: auth.role,
    };
  }

  /** Never throws for a bad token (only for an unreachable store): a refusal is just inactive. */
  async function inspect(token: string): Promise<IntrospectionResponse> {
    if (isAppTokenShaped(token)) {
      const { principal } = await appAccess.evaluate(token, false);
      return principal ? describeAppToken(principal, config.ISSUER) : { active: false };
    }
    const { principal } = await userAccess.evaluateToken(token, false);
    return principal ? describeUserToken(principal) : { active: false };
  }

  return {
    async introspect(client: PresentedClient, token: string): Promise<IntrospectionResponse> {
      // Concurrent on purpose (see the header); the answer is released only to an authorised caller.
      const [caller, answer] = await Promise.all([tokens.authenticateClient(client.clientId, client.clientSecret), inspect(token)]);
      if (!caller.permissions.includes(INTROSPECT_PERMISSION)) {
        throw new AppError('V3_AUTH_PERMISSION_DENIED', {
          message: `The client lacks the ${INTROSPECT_PERMISSION} permission`,
          subject: { appId: caller.id },
        });
      }
      return answer;
    },
  };
}

export type IntrospectionService = ReturnType<typeof createIntrospectionService>;
