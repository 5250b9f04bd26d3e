/**
 * The refresh cookie: HttpOnly, SameSite=Strict, scoped to /api/auth so it is sent only to the
 * routes that use it, Secure when COOKIE_SECURE. Clearing uses the same attributes, or browsers
 * keep the old cookie.
 */
import type { CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';

export const REFRESH_COOKIE_PATH = '/api/auth';

export function createRefreshCookie(config: Config) {
  const attributes: CookieSerializeOptions = {
    httpOnly: true,
    sameSite: 'strict',
    secure: config.COOKIE_SECURE,
    path: REFRESH_COOKIE_PATH,
  };
  const name = config.REFRESH_COOKIE_NAME;
  return {
    read: (request: FastifyRequest): string | undefined => request.cookies[name] || undefined,
    set: (reply: FastifyReply, token: string, maxAgeSeconds: number) => reply.setCookie(name, token, { ...attributes, maxAge: maxAgeSeconds }),
    clear: (reply: FastifyReply) => reply.clearCookie(name, attributes),
  };
}

export type RefreshCookie = ReturnType<typeof createRefreshCookie>;
