/** RFC 6749 5.2 error responses for the OAuth scope, from the same AppErrors as every route. */
import type { FastifyInstance } from 'fastify';
import type { AppError, ErrorCode } from '../../errors.js';
import { prepareErrorReply } from '../../plugins/error-handler.js';

const OAUTH_ERRORS: Partial<Record<ErrorCode, string>> = {
  V3_AUTH_MISSING_CREDENTIAL: 'invalid_client',
  V3_AUTH_INVALID_CLIENT: 'invalid_client',
  V3_AUTH_SECRET_EXPIRED: 'invalid_client',
  V3_AUTH_APP_SUSPENDED: 'unauthorized_client',
  V3_AUTH_APP_REVOKED: 'unauthorized_client',
  V3_AUTH_UNSUPPORTED_GRANT_TYPE: 'unsupported_grant_type',
  V3_AUTH_INVALID_SCOPE: 'invalid_scope',
  // An authenticated client lacking the permission an endpoint needs (introspection): RFC 6750
  // 3.1's name and status, since RFC 6749 5.2 has no code for it.
  V3_AUTH_PERMISSION_DENIED: 'insufficient_scope',
};

const STATUSES: Record<string, number> = { invalid_client: 401, insufficient_scope: 403 };

/** RFC 6749 5.2 statuses: invalid_client is 401, insufficient_scope 403, the rest of the client errors 400. */
function oauthError(error: AppError): { status: number; error: string } {
  const mapped = OAUTH_ERRORS[error.code];
  if (mapped) return { status: STATUSES[mapped] ?? 400, error: mapped };
  if (error.statusCode === 429 || error.statusCode === 503) return { status: error.statusCode, error: 'temporarily_unavailable' };
  if (error.statusCode >= 500) return { status: 500, error: 'server_error' };
  return { status: 400, error: 'invalid_request' };
}

export function useOAuthErrors(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const appError = prepareErrorReply(error, request, reply);
    const { status, error: code } = oauthError(appError);
    reply.code(status);
    if (code === 'invalid_client' && request.headers.authorization?.toLowerCase().startsWith('basic')) {
      reply.header('www-authenticate', 'Basic realm="portcullis"');
    }
    return reply.send({ error: code, error_description: appError.expose ? appError.message : 'Internal server error' });
  });
}
