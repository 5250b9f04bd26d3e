/** Unique data and common flows for API tests. */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { randomUUID } from 'node:crypto';

export const uniqueEmail = (label = 'user') => `${label}-${randomUUID()}@example.test`;

/** Long, random, and certainly not among the common passwords. */
export const strongPassword = () => `Pw-${randomUUID()}`;

export interface RegisteredUser {
  id: string;
  email: string;
  password: string;
  role: string;
  accessToken: string;
  refreshToken: string;
}

export function refreshCookieOf(response: LightMyRequestResponse, name = 'refresh_token') {
  return response.cookies.find((cookie) => cookie.name === name);
}

export async function registerUser(
  app: FastifyInstance,
  options: { email?: string; password?: string; role?: string; name?: string } = {},
): Promise<RegisteredUser> {
  const email = options.email ?? uniqueEmail();
  const password = options.password ?? strongPassword();
  const response = await app.inject({
    method: 'POST',
    url: '/api/auth/register',
    payload: { email, password, ...(options.role ? { role: options.role } : {}), ...(options.name ? { name: options.name } : {}) },
  });
  if (response.statusCode !== 201) throw new Error(`register failed: ${response.statusCode} ${response.body}`);
  const body = response.json();
  return {
    id: body.user.id,
    email,
    password,
    role: body.user.role,
    accessToken: body.accessToken,
    refreshToken: refreshCookieOf(response, app.config.REFRESH_COOKIE_NAME)!.value,
  };
}

export async function login(app: FastifyInstance, email: string, password: string) {
  return app.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password } });
}

export async function refresh(app: FastifyInstance, refreshToken: string | undefined) {
  return app.inject({
    method: 'POST',
    url: '/api/auth/refresh',
    ...(refreshToken ? { cookies: { [app.config.REFRESH_COOKIE_NAME]: refreshToken } } : {}),
  });
}

export async function me(app: FastifyInstance, accessToken: string) {
  return app.inject({ method: 'GET', url: '/api/auth/me', headers: { authorization: `Bearer ${accessToken}` } });
}

/** Config that lets the given number of fresh addresses register as ADMIN; pass one to registerAdmin. */
export function adminEnv(count = 1): { emails: string[]; env: Record<string, string> } {
  const emails = Array.from({ length: count }, () => uniqueEmail('admin'));
  return { emails, env: { ADMIN_EMAIL_ALLOWLIST: emails.join(',') } };
}

export const registerAdmin = (app: FastifyInstance, email: string) => registerUser(app, { email, role: 'ADMIN' });
