/**
 * Route access, declared once per route and enforced in one place.
 *
 * A route states what it needs in `config.access`:
 *   { principal: 'user', roles?: [...] }       a user access token (of one of these roles)
 *   { principal: 'app' }                       an API V3 app token
 *   { principal: 'admin', permission: '...' }  an ADMIN user token, or an app token holding `permission`
 * The onRequest hook below runs `decideAccess` for every such route, before the body is parsed.
 * Support's "explain" runs the same `decideAccess` for a token and a method + path (looking the
 * route's declaration up through the router), so what it reports is what the route would do.
 * For app tokens, active route permissions (route_permissions table) are one more step.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { UserRole } from '../db/schema.js';
import { AppError } from '../errors.js';
import { isAppTokenShaped } from '../lib/app-credentials.js';
import type { AppAuth } from './app-access.js';
import { type AccessCheck, bearerToken, createTrail, type Evaluation, unauthorized, type UserAuth } from './authenticate.js';

export type AccessRequirement = { principal: 'user'; roles?: readonly UserRole[] } | { principal: 'app' } | { principal: 'admin'; permission: string };

export type Principal = { kind: 'user'; user: UserAuth } | { kind: 'app'; app: AppAuth };

export interface AccessDecision {
  allowed: boolean;
  checks: AccessCheck[];
  principal?: Principal;
  error?: AppError;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: AccessRequirement;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyInstance {
    access: {
      /** The decision for an Authorization header on a route with this requirement (never throws). */
      decide(requirement: AccessRequirement, authorization: string | undefined, route: { method: string; url: string }): Promise<AccessDecision>;
      /** The declared requirement and pattern of the route a method and path reach, or null. */
      routeFor(method: string, path: string): { url: string; requirement: AccessRequirement | null } | null;
    };
  }
}

export default fp(
  async function accessPlugin(app: FastifyInstance) {
    // Route handlers are unique per route, so the router's answer (a handler) identifies the route.
    const routes = new Map<unknown, { url: string; requirement: AccessRequirement | null }>();
    app.addHook('onRoute', (route) => {
      routes.set(route.handler, { url: route.url, requirement: (route.config as { access?: AccessRequirement } | undefined)?.access ?? null });
    });

    const lift = <T>(evaluation: Evaluation<T>, wrap: (principal: T) => Principal): AccessDecision =>
      evaluation.error || !evaluation.principal
        ? { allowed: false, checks: evaluation.checks, ...(evaluation.error ? { error: evaluation.error } : {}) }
        : { allowed: true, checks: evaluation.checks, principal: wrap(evaluation.principal) };

    async function identify(authorization: string | undefined, wantsApp: boolean): Promise<AccessDecision> {
      const token = bearerToken(authorization);
      // Without a usable bearer token, say so in the vocabulary of the kind of route.
      if (!authorization || !token) {
        const trail = createTrail<never>();
        const code = wantsApp ? (authorization ? 'V3_AUTH_TOKEN_INVALID' : 'V3_AUTH_MISSING_CREDENTIAL') : authorization ? 'TOKEN_INVALID' : 'TOKEN_MISSING';
        return lift(trail.refuse('token present', unauthorized(code)), () => null as never);
      }
      if (isAppTokenShaped(token)) return lift(await app.appAccess.evaluate(token), (principal) => ({ kind: 'app', app: principal }));
      return lift(await app.userAccess.evaluate(authorization), (principal) => ({ kind: 'user', user: principal }));
    }

    async function decide(requirement: AccessRequirement, authorization: string | undefined, route: { method: string; url: string }): Promise<AccessDecision> {
      const decision = await identify(authorization, requirement.principal !== 'user');
      if (!decision.allowed) return decision;
      const principal = decision.principal!;
      const { checks } = decision;
      const refuse = (check: string, error: AppError): AccessDecision => {
        checks.push({ check, passed: false, code: error.code, detail: error.message });
        return { allowed: false, checks, error };
      };
      const pass = (check: string, detail?: string) => checks.push({ check, passed: true, ...(detail ? { detail } : {}) });

      if (principal.kind === 'user') {
        const role = principal.user.role;
        const subject = { userId: principal.user.userId, sessionId: principal.user.sessionId };
        if (requirement.principal === 'app') return refuse('app token required', new AppError('V3_AUTH_PERMISSION_DENIED', { message: 'This route needs an app access token', subject }));
        const roles = requirement.principal === 'admin' ? ['ADMIN'] : requirement.roles;
        if (roles && !roles.includes(role)) {
          const code = requirement.principal === 'admin' ? 'V3_AUTH_PERMISSION_DENIED' : 'ROLE_REQUIRED';
          return refuse(`role sufficient (needs ${roles.join(' or ')})`, new AppError(code, { message: `Needs role ${roles.join(' or ')}; the account is ${role}`, subject }));
        }
        pass('role sufficient', roles ? `${role} is allowed` : 'any role');
        return { allowed: true, checks, principal };
      }

      const subject = { appId: principal.app.appId, tokenId: principal.app.tokenId };
      if (requirement.principal === 'user') return refuse('user token required', new AppError('TOKEN_INVALID', { message: 'This route needs a user access token', subject }));
      if (requirement.principal === 'admin') {
        if (!principal.app.permissions.includes(requirement.permission)) {
          return refuse(`permission granted (${requirement.permission})`, new AppError('V3_AUTH_PERMISSION_DENIED', { message: `Permission ${requirement.permission} required`, subject }));
        }
        pass(`permission granted (${requirement.permission})`);
      }
      // HEAD is Fastify's automatic twin of GET: same records.
      const method = route.method === 'HEAD' ? 'GET' : route.method;
      const required = app.routePermissions.requiredFor(method, route.url);
      const missing = required.filter((code) => !principal.app.permissions.includes(code));
      if (missing.length > 0) return refuse('route permissions granted', new AppError('V3_AUTH_PERMISSION_DENIED', { message: `Permission ${missing.join(', ')} required`, subject }));
      pass('route permissions granted', required.length > 0 ? required.join(', ') : 'none required');
      return { allowed: true, checks, principal };
    }

    app.decorateRequest('principal', null);
    app.decorate('access', {
      decide,
      routeFor(method: string, path: string) {
        const found = app.findRoute({ method: method.toUpperCase() as 'GET', url: path });
        return found ? (routes.get(found.handler) ?? null) : null;
      },
    });

    app.addHook('onRequest', async (request: FastifyRequest) => {
      const requirement = request.routeOptions.config.access;
      if (!requirement) return;
      const decision = await decide(requirement, request.headers.authorization, { method: request.method, url: request.routeOptions.url ?? '' });
      if (!decision.allowed) throw decision.error;
      request.principal = decision.principal!;
      if (decision.principal!.kind === 'user') request.auth = decision.principal!.user;
    });
  },
  { name: 'access', dependencies: ['authenticate', 'app-access', 'route-permissions'] },
);
