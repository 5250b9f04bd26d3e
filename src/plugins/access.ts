/**
 * Route access, declared once per route and enforced in one place.
 *
 * A route states what it needs in `config.access`:
 *   { principal: 'user', roles?: [...] }       a user access token (of one of these roles)
 *   { principal: 'app' }                       an API V3 app token
 *   { principal: 'admin', permission: '...' }  an ADMIN user token, or an app token holding `permission` (API V3 codes)
 *   { principal: 'staff', permission: '...' }  the same, answered with the JSON API's codes (support routes)
 *   { principal: 'any' }                      any valid user or app token
 * The onRequest hook below runs `decideAccess` for every such route, before the body is parsed.
 * Support's "explain" runs the same `decideAccess` for a token and a method + path (looking the
 * route's declaration up through the router), so what it reports is what the route would do.
 * For app tokens, active route permissions (route_permissions table) are one more step.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import type { UserRole } from '../db/schema.js';
import { AppError, type ErrorSubject } from '../errors.js';
import { isAppTokenShaped } from '../lib/app-credentials.js';
import type { AppAuth } from './app-access.js';
import { type AccessCheck, bearerToken, createTrail, type Evaluation, unauthorized, type UserAuth } from './authenticate.js';

export type AccessRequirement =
  | { principal: 'user'; roles?: readonly UserRole[] }
  | { principal: 'app' }
  | { principal: 'admin'; permission: string }
  | { principal: 'staff'; permission: string }
  /** Any valid user or app token (forward-auth applies its own requirements afterwards). */
  | { principal: 'any' };

const usesV3Codes = (requirement: AccessRequirement) => requirement.principal === 'app' || requirement.principal === 'admin';

/**
 * Whether a user of `role` meets the requirement: the role step of every decision, shared by the
 * route hook and by support's explain-by-user (which has an account, not a token).
 */
export function roleStep(requirement: AccessRequirement, role: UserRole, subject?: ErrorSubject): { check: string; detail?: string; error?: AppError } {
  if (requirement.principal === 'any') return { check: 'any role', detail: role };
  if (requirement.principal === 'app') {
    return { check: 'app token required', error: new AppError('V3_AUTH_PERMISSION_DENIED', { message: 'This route needs an app access token', ...(subject ? { subject } : {}) }) };
  }
  const roles = requirement.principal === 'user' ? requirement.roles : ['ADMIN'];
  if (roles && !roles.includes(role)) {
    const code = requirement.principal === 'admin' ? 'V3_AUTH_PERMISSION_DENIED' : 'ROLE_REQUIRED';
    const message = `Needs role ${roles.join(' or ')}; the account is ${role}`;
    return { check: `role sufficient (needs ${roles.join(' or ')})`, error: new AppError(code, { message, ...(subject ? { subject } : {}) }) };
  }
  return { check: 'role sufficient', detail: roles ? `${role} is allowed` : 'any role' };
}

const asUser = (user: UserAuth): Principal => ({ kind: 'user', user });
const asApp = (app: AppAuth): Principal => ({ kind: 'app', app });

function refuseStep(checks: AccessCheck[], check: string, error: AppError): AccessDecision {
  checks.push({ check, passed: false, code: error.code, detail: error.message });
  return { allowed: false, checks, error };
}

function passStep(checks: AccessCheck[], check: string, detail?: string): void {
  checks.push(detail ? { check, passed: true, detail } : { check, passed: true });
}

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
      /**
       * The decision for an Authorization header on a route with this requirement (never throws).
       * `recordPassed` false: `checks` holds only a refusal's step (the route hook's own walk).
       */
      decide(requirement: AccessRequirement, authorization: string | undefined, route: { method: string; url: string }, recordPassed?: boolean): Promise<AccessDecision>;
      roleStep: typeof roleStep;
      /** The declared requirement and pattern of the route a method and path reach, or null. */
      routeFor(method: string, path: string): { url: string; requirement: AccessRequirement | null } | null;
    };
  }
}

export default fp(
  async function accessPlugin(app: FastifyInstance) {
    // A second router (Fastify's own, find-my-way) that maps a method and path to a route's
    // declaration, for explain. It holds only patterns and requirements, no handlers to run.
    type Declared = { url: string; requirement: AccessRequirement | null };
    const declarations = FindMyWay();
    const noop = () => {};
    /**
     * A route-level onRequest hook, appended when the route is added: route hooks run after
     * app-level ones, and @fastify/rate-limit adds its own per route first (it registers
     * earlier), so a flood of refused requests is still counted against the rate limit.
     * One per route, holding the route's requirement and pattern: request.routeOptions builds a
     * new object on every read. Callback style rather than async: Fastify would chain one more
     * promise reaction on an async hook's promise, on every request of every protected route.
     */
    const checkAccessOf = (requirement: AccessRequirement, url: string) => (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
      decide(requirement, request.headers.authorization, { method: request.method, url }, false).then((decision) => {
        if (!decision.allowed) return done(decision.error);
        const principal = decision.principal!;
        request.principal = principal;
        if (principal.kind === 'user') request.auth = principal.user;
        app.metrics.allowed(principal.kind);
        done();
      }, done);
    };
    app.addHook('onRoute', (route) => {
      const declared: Declared = { url: route.url, requirement: (route.config as { access?: AccessRequirement } | undefined)?.access ?? null };
      for (const method of [route.method].flat()) {
        if (!declarations.hasRoute(method as HTTPMethod, route.url)) declarations.on(method as HTTPMethod, route.url, noop, declared);
      }
      if (declared.requirement) route.onRequest = [...[route.onRequest ?? []].flat(), checkAccessOf(declared.requirement, route.url)] as typeof route.onRequest;
    });

    const lift = <T>(evaluation: Evaluation<T>, wrap: (principal: T) => Principal): AccessDecision =>
      evaluation.error || !evaluation.principal
        ? { allowed: false, checks: evaluation.checks, ...(evaluation.error ? { error: evaluation.error } : {}) }
        : { allowed: true, checks: evaluation.checks, principal: wrap(evaluation.principal) };

    /** Without a usable bearer token, say so in the vocabulary of the kind of route. */
    function noToken(authorization: string | undefined, wantsApp: boolean): AccessDecision {
      const code = wantsApp ? (authorization ? 'V3_AUTH_TOKEN_INVALID' : 'V3_AUTH_MISSING_CREDENTIAL') : authorization ? 'TOKEN_INVALID' : 'TOKEN_MISSING';
      return lift(createTrail<never>().refuse('token present', unauthorized(code)), () => null as never);
    }

    async function decide(requirement: AccessRequirement, authorization: string | undefined, route: { method: string; url: string }, recordPassed = true): Promise<AccessDecision> {
      // Who the token is for, inline rather than one more async function: this runs on every request.
      const token = bearerToken(authorization);
      const decision = !authorization || !token
        ? noToken(authorization, usesV3Codes(requirement))
        : isAppTokenShaped(token)
          ? lift(await app.appAccess.evaluate(token, recordPassed), asApp)
          : lift(await app.userAccess.evaluateToken(token, recordPassed), asUser);
      if (!decision.allowed) return decision;
      const principal = decision.principal!;
      const { checks } = decision;

      if (principal.kind === 'user') {
        // The hot path of every user route: no closures built for it.
        const step = roleStep(requirement, principal.user.role, { userId: principal.user.userId, sessionId: principal.user.sessionId });
        if (step.error) return refuseStep(checks, step.check, step.error);
        if (recordPassed) passStep(checks, step.check, step.detail);
        return { allowed: true, checks, principal };
      }

      const subject = { appId: principal.app.appId, tokenId: principal.app.tokenId };
      if (requirement.principal === 'any') return { allowed: true, checks, principal };
      if (requirement.principal === 'user') return refuseStep(checks, 'user token required', new AppError('TOKEN_INVALID', { message: 'This route needs a user access token', subject }));
      if (requirement.principal === 'admin' || requirement.principal === 'staff') {
        if (!principal.app.permissions.includes(requirement.permission)) {
          const code = requirement.principal === 'admin' ? 'V3_AUTH_PERMISSION_DENIED' : 'PERMISSION_REQUIRED';
          return refuseStep(checks, `permission granted (${requirement.permission})`, new AppError(code, { message: `Permission ${requirement.permission} required`, subject }));
        }
        if (recordPassed) passStep(checks, `permission granted (${requirement.permission})`);
      }
      // HEAD is Fastify's automatic twin of GET: same records.
      const method = route.method === 'HEAD' ? 'GET' : route.method;
      const required = app.routePermissions.requiredFor(method, route.url);
      const missing = required.filter((code) => !principal.app.permissions.includes(code));
      if (missing.length > 0) return refuseStep(checks, 'route permissions granted', new AppError('V3_AUTH_PERMISSION_DENIED', { message: `Permission ${missing.join(', ')} required`, subject }));
      if (recordPassed) passStep(checks, 'route permissions granted', required.length > 0 ? required.join(', ') : 'none required');
      return { allowed: true, checks, principal };
    }

    app.decorateRequest('principal', null);
    app.decorate('access', {
      decide,
      roleStep,
      routeFor(method: string, path: string) {
        const found = declarations.find(method.toUpperCase() as HTTPMethod, path);
        return found ? (found.store as Declared) : null;
      },
    });

  },
  { name: 'access', dependencies: ['authenticate', 'app-access', 'route-permissions', 'metrics'] },
);
