/**
 * Browser-facing defences: security headers (@fastify/helmet), CORS for the configured origins
 * only (with credentials), and an Origin check for the cookie-authenticated routes.
 *
 * Why the Origin check: refresh and logout act on the refresh cookie alone. SameSite=Strict
 * already keeps it off cross-site requests, but browsers send Origin on every POST, so refusing an
 * Origin that is neither ours nor allowlisted closes the gap for older browsers and same-site
 * subdomains, without breaking a plain fetch(url, {method: 'POST', credentials: 'include'}).
 * Requests without Origin (curl, servers) are not browsers acting for a user, and pass.
 */
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest guard for routes authenticated by a cookie: refuses foreign origins (403 ORIGIN_DENIED). */
    requireTrustedOrigin: onRequestAsyncHookHandler;
  }
}

export function isTrustedOrigin(request: FastifyRequest, allowed: ReadonlySet<string>): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (allowed.has(origin)) return true;
  try {
    // Through URL on both sides, so default ports compare equal (http://host:80 is http://host).
    return new URL(origin).origin === new URL(`${request.protocol}://${request.host}`).origin;
  } catch {
    return false; // "null" (sandboxed frames, file://) and garbage
  }
}

export default fp(
  async function securityPlugin(app: FastifyInstance, options: { config: Config }) {
    const allowed = new Set(options.config.CORS_ORIGINS);
    await app.register(helmet, { global: true });
    await app.register(cors, {
      origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
      credentials: true,
      methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
      maxAge: 600,
    });
    app.decorate('requireTrustedOrigin', async function requireTrustedOrigin(request: FastifyRequest) {
      if (!isTrustedOrigin(request, allowed)) throw new AppError('ORIGIN_DENIED');
    });
  },
  { name: 'security' },
);
