/**
 * Browser-facing defences: security headers (helmet's), CORS for the configured origins only
 * (with credentials), and an Origin check for the cookie-authenticated routes.
 *
 * Two header sets. The HTML pages (/console, /docs) get helmet's full set, made for documents.
 * Everything else is a JSON API answer, and gets the set OWASP's REST Security Cheat Sheet lists
 * for APIs: no caching of auth data, a CSP that lets the answer load nothing and be framed
 * nowhere, HSTS, nosniff, DENY framing, same-origin CORP, no referrer. Helmet's other headers
 * (cross-origin-opener-policy, origin-agent-cluster, x-dns-prefetch-control, x-download-options,
 * x-permitted-cross-domain-policies, x-xss-protection) only mean something for a document; on
 * the hot routes they were ~650 bytes a response for both the service and every gateway to
 * write and parse. Routes that may be cached (JWKS, metadata) set their own cache-control.
 *
 * A third set, for the forward-auth check (route config answeredTo: 'gateway'): when it allows,
 * the proxy (nginx auth_request, Traefik, Envoy, Caddy) keeps at most the X-Auth-* headers it was
 * told to copy and sends the client the upstream's answer, so the browser-facing headers would
 * only be ~300 bytes for the proxy to parse on every request it forwards; the allowed answer keeps
 * cache-control: no-store and the request id. A refusal may reach the browser (Traefik, Caddy and
 * Envoy pass a denial on), so 4xx answers of such a route get the full API set again (onError).
 *
 * Why helmet itself and not @fastify/helmet: the plugin calls helmet(options) on every request,
 * rebuilding every middleware and re-parsing the Content-Security-Policy each time (8% of the CPU
 * of GET /api/auth/me in a profile). With our options the headers are the same for every
 * response, so helmet computes them once at start-up and one onRequest hook sets them.
 *
 * Why the Origin check: refresh and logout act on the refresh cookie alone. SameSite=Strict
 * already keeps it off cross-site requests, but browsers send Origin on every POST, so refusing an
 * Origin that is neither ours nor allowlisted closes the gap for older browsers and same-site
 * subdomains, without breaking a plain fetch(url, {method: 'POST', credentials: 'include'}).
 * Requests without Origin (curl, servers) are not browsers acting for a user, and pass.
 */
import cors from '@fastify/cors';
import helmet, { type HelmetOptions } from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest guard for routes authenticated by a cookie: refuses foreign origins (403 ORIGIN_DENIED). */
    requireTrustedOrigin: onRequestAsyncHookHandler;
  }
  interface FastifyContextConfig {
    /** 'gateway': a proxy reads the answer (forward-auth) and passes none of it to a browser when it allows; see the top of src/plugins/security.ts. */
    answeredTo?: 'gateway';
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

/** The headers helmet sets for `options`, recorded from one run of its middleware. */
export function helmetHeaders(options?: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: unknown) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error;
  });
  if (!headers['content-security-policy'] || !headers['strict-transport-security']) throw new Error('helmet set none of its usual headers');
  return headers;
}

/** The headers of every JSON API answer (see the top of this file); HSTS as helmet sets it. */
export function apiHeaders(document: Record<string, string> = helmetHeaders()): Record<string, string> {
  return {
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    'strict-transport-security': document['strict-transport-security']!,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'cross-origin-resource-policy': 'same-origin',
    'referrer-policy': 'no-referrer',
  };
}

/** Paths of the HTML pages, which get helmet's document headers. */
const DOCUMENT_PATHS = /^\/(console|docs)(\/|\?|$)/;
export const isDocumentPath = (url: string): boolean => DOCUMENT_PATHS.test(url);

export default fp(
  async function securityPlugin(app: FastifyInstance, options: { config: Config }) {
    const allowed = new Set(options.config.CORS_ORIGINS);
    const documentHeaders = helmetHeaders();
    const answerHeaders = apiHeaders(documentHeaders);
    const gatewayHeaders = { 'cache-control': answerHeaders['cache-control']! };
    // Every answer's first headers, the request id among them: one hook, callback style (an async
    // hook costs a promise and a microtask on every request).
    app.addHook('onRequest', (request, reply, done) => {
      const headers = isDocumentPath(request.url) ? documentHeaders : request.routeOptions.config.answeredTo === 'gateway' ? gatewayHeaders : answerHeaders;
      reply.headers(headers).header('x-request-id', request.id);
      done();
    });
    app.addHook('onError', (request, reply, _error, done) => {
      if (request.routeOptions.config.answeredTo === 'gateway') reply.headers(answerHeaders);
      done();
    });
    // No origins configured, no CORS at all: a cross-origin browser request is refused just the same
    // (no grant), and every answer is spared the hook and its `Vary: Origin`, which it would not vary by.
    if (allowed.size > 0) {
      await app.register(cors, {
        origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
        credentials: true,
        methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
        maxAge: 600,
      });
    }
    app.decorate('requireTrustedOrigin', async function requireTrustedOrigin(request: FastifyRequest) {
      if (!isTrustedOrigin(request, allowed)) throw new AppError('ORIGIN_DENIED');
    });
  },
  { name: 'security' },
);
