/**
 * The one catalogue of error codes. Services throw `new AppError('CODE')`; the error handler of
 * each wire format renders it. README's error table is tested against this object, so adding a
 * code here without documenting it fails the suite.
 *
 * 401 means "we do not know who you are" (credentials or session); 403 means "we know you, and
 * you may not" (role, permission, account state). Keep that split when adding codes.
 */

interface ErrorSpec {
  status: number;
  /** The human sentence sent to the client. */
  message: string;
}

export const ERRORS = {
  VALIDATION_ERROR: { status: 400, message: 'Request validation failed' },
  INVALID_JSON: { status: 400, message: 'Request body is not valid JSON' },
  PASSWORD_TOO_SHORT: { status: 400, message: 'Password is too short' },
  PASSWORD_TOO_COMMON: { status: 400, message: 'Password is too common; choose one that is harder to guess' },

  INVALID_CREDENTIALS: { status: 401, message: 'Invalid email or password' },
  TOKEN_MISSING: { status: 401, message: 'Access token required' },
  TOKEN_INVALID: { status: 401, message: 'Invalid or expired token' },
  TOKEN_EXPIRED: { status: 401, message: 'Invalid or expired token' },
  TOKEN_STALE: { status: 401, message: 'Access token is out of date; refresh it' },
  SESSION_REVOKED: { status: 401, message: 'Session has been revoked; log in again' },
  SESSION_EXPIRED: { status: 401, message: 'Session has expired; log in again' },
  REFRESH_TOKEN_MISSING: { status: 401, message: 'Refresh token required' },
  REFRESH_TOKEN_INVALID: { status: 401, message: 'Invalid refresh token' },
  REFRESH_TOKEN_EXPIRED: { status: 401, message: 'Refresh token has expired; log in again' },
  REFRESH_TOKEN_REUSED: { status: 401, message: 'Refresh token was already used; the session has been revoked' },

  ROLE_REQUIRED: { status: 403, message: 'Your role does not allow this action' },
  ACCOUNT_DISABLED: { status: 403, message: 'This account is disabled' },
  ADMIN_REGISTRATION_DENIED: { status: 403, message: 'Registering as an admin is not allowed for this email' },
  ORIGIN_DENIED: { status: 403, message: 'Requests from this origin are not allowed' },

  NOT_FOUND: { status: 404, message: 'Route not found' },
  USER_NOT_FOUND: { status: 404, message: 'User not found' },
  SESSION_NOT_FOUND: { status: 404, message: 'Session not found' },

  EMAIL_TAKEN: { status: 409, message: 'An account with this email already exists' },
  ADMIN_EXISTS: { status: 409, message: 'An admin already exists' },
  LAST_ADMIN: { status: 409, message: 'The last active admin cannot be demoted or disabled' },

  PAYLOAD_TOO_LARGE: { status: 413, message: 'Request body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Unsupported content type' },
  RATE_LIMITED: { status: 429, message: 'Too many requests; retry later' },
  LOGIN_THROTTLED: { status: 429, message: 'Too many failed logins; retry later' },

  INTERNAL_ERROR: { status: 500, message: 'Internal server error' },
  SERVICE_UNAVAILABLE: { status: 503, message: 'Service temporarily unavailable; retry later' },

  // API V3 (apps). Rendered in the V3 envelope; see src/modules/app-auth/envelope.ts.
  V3_AUTH_MISSING_CREDENTIAL: { status: 401, message: 'Missing token or client credentials' },
  V3_AUTH_INVALID_CLIENT: { status: 401, message: 'Invalid client_id or client_secret' },
  V3_AUTH_SECRET_EXPIRED: { status: 401, message: 'Client secret has expired or was revoked' },
  V3_AUTH_TOKEN_INVALID: { status: 401, message: 'Token is not valid' },
  V3_AUTH_TOKEN_EXPIRED: { status: 401, message: 'Token has expired' },
  V3_AUTH_TOKEN_REVOKED: { status: 401, message: 'Token has been revoked' },
  V3_AUTH_APP_SUSPENDED: { status: 403, message: 'App is suspended' },
  V3_AUTH_APP_REVOKED: { status: 403, message: 'App has been revoked' },
  V3_AUTH_PERMISSION_DENIED: { status: 403, message: 'Permission denied' },
  V3_AUTH_ORG_DENIED: { status: 403, message: 'App is not allowed for this organization' },
  V3_AUTH_VALIDATION_ERROR: { status: 400, message: 'Request validation failed' },
  V3_AUTH_ORG_REQUIRED: { status: 400, message: 'organization_code or organization_id is required for this app' },
  V3_AUTH_UNSUPPORTED_GRANT_TYPE: { status: 400, message: 'Unsupported grant_type' },
  V3_AUTH_NOT_FOUND: { status: 404, message: 'Not found' },
  V3_AUTH_CONFLICT: { status: 409, message: 'Conflict with the current state' },
  V3_AUTH_PAYLOAD_TOO_LARGE: { status: 413, message: 'Request body is too large' },
  V3_AUTH_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Unsupported content type' },
  V3_AUTH_RATE_LIMITED: { status: 429, message: 'Too many requests; retry later' },
  V3_AUTH_UNAVAILABLE: { status: 503, message: 'Service temporarily unavailable; retry later' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export interface FieldProblem {
  /** JSON pointer-ish path of the bad field, e.g. "/email" or "body". */
  field: string;
  message: string;
}

/** Whom a denial concerned, when the thrower knows more than the request does (for auth events). */
export interface ErrorSubject {
  userId?: string;
  sessionId?: string;
  appId?: string;
  tokenId?: string;
}

export interface AppErrorOptions {
  message?: string;
  subject?: ErrorSubject;
  details?: FieldProblem[];
  headers?: Record<string, string>;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly details: FieldProblem[] | undefined;
  readonly headers: Record<string, string> | undefined;
  readonly subject: ErrorSubject | undefined;

  constructor(code: ErrorCode, options: AppErrorOptions = {}) {
    super(options.message ?? ERRORS[code].message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.statusCode = ERRORS[code].status;
    this.details = options.details;
    this.headers = options.headers;
    this.subject = options.subject;
  }

  /** 5xx messages are ours to log, never the client's to read. */
  get expose(): boolean {
    return this.statusCode < 500;
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
