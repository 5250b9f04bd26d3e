/**
 * Client authentication as the OAuth endpoints read it (RFC 6749 2.3): client_secret_basic or
 * client_secret_post, never both. Only parsing lives here; whether the secret is right is decided
 * by the app token service, the same way for /oauth2/token, /revoke and /introspect.
 */
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';

export interface PresentedClient {
  clientId: string | undefined;
  clientSecret: string | undefined;
}

/** RFC 6749 2.3.1: client_secret_basic, with both parts form-urlencoded before base64. */
/** RFC 6749 2.3.1: Basic's id and secret are form-encoded first. */
const formDecode = (value: string) => decodeURIComponent(value.replaceAll('+', ' '));

function basicCredentials(request: FastifyRequest): { clientId: string; clientSecret: string } | null | 'malformed' {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header);
  if (!match) return 'malformed';
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return 'malformed';
  try {
    return { clientId: formDecode(decoded.slice(0, colon)), clientSecret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    return 'malformed';
  }
}

/** The client's credentials from Basic or from the body (one method only, RFC 6749 2.3). */
export function clientCredentials(request: FastifyRequest, body: { client_id?: string | undefined; client_secret?: string | undefined }): PresentedClient {
  const basic = basicCredentials(request);
  if (basic === 'malformed') throw new AppError('V3_AUTH_INVALID_CLIENT', { message: 'Malformed Basic credentials' });
  if (basic && (body.client_secret !== undefined || (body.client_id !== undefined && body.client_id !== basic.clientId))) {
    throw new AppError('V3_AUTH_VALIDATION_ERROR', { message: 'Use one client authentication method, not two' });
  }
  return { clientId: basic?.clientId ?? body.client_id, clientSecret: basic?.clientSecret ?? body.client_secret };
}
