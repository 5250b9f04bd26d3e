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
  /** For support: what the code usually means (every 401, 403 and 429 has one; README's table shows them). */
  meaning?: string;
  /** For support: what to check first. */
  check?: string;
}

export const ERRORS = {
  VALIDATION_ERROR: { status: 400, message: 'Request validation failed' },
  INVALID_JSON: { status: 400, message: 'Request body is not valid JSON' },
  PASSWORD_TOO_SHORT: { status: 400, message: 'Password is too short' },
  PASSWORD_TOO_COMMON: { status: 400, message: 'Password is too common; choose one that is harder to guess' },

  INVALID_CREDENTIALS: {
    status: 401,
    message: 'Invalid email or password',
    meaning: 'Wrong email or password; the service never says which.',
    check: 'Failed login events for the account; the email as registered; LOGIN_THROTTLED after repeated failures.',
  },
  TOKEN_MISSING: {
    status: 401,
    message: 'Access token required',
    meaning: 'The frontend sent no access token: not logged in, or it lost the token (new tab, cleared storage).',
    check: 'Is the user logged in? Does the frontend send Authorization: Bearer on this call?',
  },
  TOKEN_INVALID: {
    status: 401,
    message: 'Invalid or expired token',
    meaning: 'The token is malformed, forged, from another environment, or the wrong kind for this route.',
    check: 'Which client sent it; a proxy rewriting headers; staging tokens used against production.',
  },
  TOKEN_EXPIRED: {
    status: 401,
    message: 'Invalid or expired token',
    meaning: 'Normal after JWT_ACCESS_TTL (15 minutes); the frontend should refresh and retry.',
    check: 'Does the frontend call POST /api/auth/refresh when it gets this?',
  },
  TOKEN_STALE: {
    status: 401,
    message: 'Access token is out of date; refresh it',
    meaning: 'The account\'s role changed after the token was issued; one refresh fixes it.',
    check: 'A recent user.role_changed event for the account.',
  },
  SESSION_REVOKED: {
    status: 401,
    message: 'Session has been revoked; log in again',
    meaning: 'This session was ended: logout, log out everywhere, an admin or support action, or refresh-token reuse.',
    check: 'The account\'s events: session.logged_out, sessions.revoked_all, sessions.revoked_by_support, REFRESH_TOKEN_REUSED.',
  },
  SESSION_EXPIRED: {
    status: 401,
    message: 'Session has expired; log in again',
    meaning: 'The session reached its absolute lifetime (SESSION_ABSOLUTE_TTL) or no longer exists; log in again.',
    check: 'When the session was created; whether the token store was flushed.',
  },
  REFRESH_TOKEN_MISSING: {
    status: 401,
    message: 'Refresh token required',
    meaning: 'No refresh cookie reached the service.',
    check: 'Cookies blocked by the browser, a wrong cookie path or domain, Secure cookies over plain HTTP, fetch without credentials: \'include\'.',
  },
  REFRESH_TOKEN_INVALID: {
    status: 401,
    message: 'Invalid refresh token',
    meaning: 'The refresh cookie is not one the service issued (tampered, truncated or from another environment).',
    check: 'Proxies or browser extensions that alter cookies.',
  },
  REFRESH_TOKEN_EXPIRED: {
    status: 401,
    message: 'Refresh token has expired; log in again',
    meaning: 'The session was unused for longer than JWT_REFRESH_TTL; log in again.',
    check: 'The session\'s last use.',
  },
  REFRESH_TOKEN_REUSED: {
    status: 401,
    message: 'Refresh token was already used; the session has been revoked',
    meaning: 'An already-used refresh token was replayed, so the session was ended to protect the user.',
    check: 'Repeated cases for one user point to a stolen cookie: compare the events\' addresses and user agents.',
  },

  ROLE_REQUIRED: {
    status: 403,
    message: 'Your role does not allow this action',
    meaning: 'The account\'s role does not allow this action, even if the UI shows the button.',
    check: 'The account\'s role against the route\'s requirement (explain); a recent role change.',
  },
  ACCOUNT_DISABLED: {
    status: 403,
    message: 'This account is disabled',
    meaning: 'An admin disabled the account; logging in again will not help.',
    check: 'The user.disabled event: who and when.',
  },
  ADMIN_REGISTRATION_DENIED: {
    status: 403,
    message: 'Registering as an admin is not allowed for this email',
    meaning: 'Registering as ADMIN needs the email on ADMIN_EMAIL_ALLOWLIST.',
    check: 'ADMIN_EMAIL_ALLOWLIST, or have an admin change the role.',
  },
  ORIGIN_DENIED: {
    status: 403,
    message: 'Requests from this origin are not allowed',
    meaning: 'A browser request came from a site not allowed to use the session cookie.',
    check: 'CORS_ORIGINS against the frontend\'s origin.',
  },
  PERMISSION_REQUIRED: {
    status: 403,
    message: 'Your token lacks the permission this action needs',
    meaning: 'The app token lacks the permission this route needs.',
    check: 'The app\'s permissions.',
  },

  NOT_FOUND: { status: 404, message: 'Route not found' },
  USER_NOT_FOUND: { status: 404, message: 'User not found' },
  SESSION_NOT_FOUND: { status: 404, message: 'Session not found' },

  EMAIL_TAKEN: { status: 409, message: 'An account with this email already exists' },
  ADMIN_EXISTS: { status: 409, message: 'An admin already exists' },
  LAST_ADMIN: { status: 409, message: 'The last active admin cannot be demoted or disabled' },
  SIGNING_KEYS_SYMMETRIC: { status: 409, message: 'JWT_ALGORITHM is HS256: there is no signing key to rotate; change JWT_SECRET instead' },

  PAYLOAD_TOO_LARGE: { status: 413, message: 'Request body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Unsupported content type' },
  RATE_LIMITED: {
    status: 429,
    message: 'Too many requests; retry later',
    meaning: 'Too many requests from one address in a short time.',
    check: 'A load test or a client stuck in a retry loop; RATE_LIMIT_ALLOWLIST for harnesses.',
  },
  LOGIN_THROTTLED: {
    status: 429,
    message: 'Too many failed logins; retry later',
    meaning: 'Too many failed logins for this account from this address (or, past the ceiling, from anywhere).',
    check: "The user report's login lock (the account-wide one, and until when); login.locked events; wait for Retry-After; an attack if the addresses are unknown to the user.",
  },

  INTERNAL_ERROR: { status: 500, message: 'Internal server error' },
  SERVICE_UNAVAILABLE: { status: 503, message: 'Service temporarily unavailable; retry later' },

  // API V3 (apps). Rendered in the V3 envelope; see src/modules/app-auth/envelope.ts.
  V3_AUTH_MISSING_CREDENTIAL: {
    status: 401,
    message: 'Missing token or client credentials',
    meaning: 'The app sent no bearer token, or no client_id/client_secret.',
    check: 'The integration\'s HTTP client configuration.',
  },
  V3_AUTH_INVALID_CLIENT: {
    status: 401,
    message: 'Invalid client_id or client_secret',
    meaning: 'Unknown client_id or wrong client_secret.',
    check: 'token.denied events in the app\'s audit log; a secret rotated without updating the integration.',
  },
  V3_AUTH_SECRET_EXPIRED: {
    status: 401,
    message: 'Client secret has expired or was revoked',
    meaning: 'The secret was rotated and its grace period is over, or it was revoked.',
    check: 'The app\'s secrets (version, status, grace_until).',
  },
  V3_AUTH_TOKEN_INVALID: {
    status: 401,
    message: 'Token is not valid',
    meaning: 'The bearer token is not one the service minted.',
    check: 'Tokens copied from another environment; truncated headers.',
  },
  V3_AUTH_TOKEN_EXPIRED: {
    status: 401,
    message: 'Token has expired',
    meaning: 'The app token outlived expires_in; get a new one.',
    check: 'Does the integration renew tokens before expires_at?',
  },
  V3_AUTH_TOKEN_REVOKED: {
    status: 401,
    message: 'Token has been revoked',
    meaning: 'The token was revoked (by the app, a secret rotation with revoke_existing_tokens, or the app\'s revocation).',
    check: 'token.revoked and app.secret_rotated events in the app\'s audit log.',
  },
  V3_AUTH_APP_SUSPENDED: {
    status: 403,
    message: 'App is suspended',
    meaning: 'An admin suspended the app.',
    check: 'The app.suspended event and its reason.',
  },
  V3_AUTH_APP_REVOKED: {
    status: 403,
    message: 'App has been revoked',
    meaning: 'The app was revoked for good.',
    check: 'The app.revoked event; a new app must be registered.',
  },
  V3_AUTH_PERMISSION_DENIED: {
    status: 403,
    message: 'Permission denied',
    meaning: 'The caller lacks the permission (or admin role) this route needs.',
    check: 'The app\'s permissions, route permissions for this route, or the user\'s role.',
  },
  V3_AUTH_ORG_DENIED: {
    status: 403,
    message: 'App is not allowed for this organization',
    meaning: 'The app is not assigned to the requested organization (or it was removed).',
    check: 'The app\'s organizations; an app.organizations_replaced event.',
  },
  V3_AUTH_VALIDATION_ERROR: { status: 400, message: 'Request validation failed' },
  V3_AUTH_ORG_REQUIRED: { status: 400, message: 'organization_code or organization_id is required for this app' },
  V3_AUTH_INVALID_SCOPE: { status: 400, message: 'The requested scope exceeds the permissions granted to the app' },
  V3_AUTH_UNSUPPORTED_GRANT_TYPE: { status: 400, message: 'Unsupported grant_type' },
  V3_AUTH_NOT_FOUND: { status: 404, message: 'Not found' },
  V3_AUTH_CONFLICT: { status: 409, message: 'Conflict with the current state' },
  V3_AUTH_PAYLOAD_TOO_LARGE: { status: 413, message: 'Request body is too large' },
  V3_AUTH_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Unsupported content type' },
  V3_AUTH_RATE_LIMITED: {
    status: 429,
    message: 'Too many requests; retry later',
    meaning: 'Too many requests, or too many failed client authentications from one address.',
    check: 'client.locked events; RATE_LIMIT_ALLOWLIST for harnesses.',
  },
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
    // A 4xx is an answer, not a fault: nothing reads its stack, and capturing one is the costliest
    // part of refusing a request (every wrong password, every refused gateway check). 5xx keep theirs.
    const answer = ERRORS[code].status < 500;
    const stackTraceLimit = Error.stackTraceLimit;
    if (answer) Error.stackTraceLimit = 0;
    super(options.message ?? ERRORS[code].message, { cause: options.cause });
    if (answer) Error.stackTraceLimit = stackTraceLimit;
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

/** Where the API V3 envelope and its codes apply (also for router-level errors, which reach no scope). */
export const V3_PREFIX = '/api/v3/';

/** Shared codes (user guard, Fastify) and the V3 code that says the same thing. */
const V3_EQUIVALENT: Partial<Record<ErrorCode, ErrorCode>> = {
  VALIDATION_ERROR: 'V3_AUTH_VALIDATION_ERROR',
  INVALID_JSON: 'V3_AUTH_VALIDATION_ERROR',
  PAYLOAD_TOO_LARGE: 'V3_AUTH_PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'V3_AUTH_UNSUPPORTED_MEDIA_TYPE',
  NOT_FOUND: 'V3_AUTH_NOT_FOUND',
  RATE_LIMITED: 'V3_AUTH_RATE_LIMITED',
  SERVICE_UNAVAILABLE: 'V3_AUTH_UNAVAILABLE',
  TOKEN_MISSING: 'V3_AUTH_MISSING_CREDENTIAL',
  TOKEN_INVALID: 'V3_AUTH_TOKEN_INVALID',
  TOKEN_EXPIRED: 'V3_AUTH_TOKEN_EXPIRED',
  SESSION_EXPIRED: 'V3_AUTH_TOKEN_EXPIRED',
  SESSION_REVOKED: 'V3_AUTH_TOKEN_REVOKED',
  TOKEN_STALE: 'V3_AUTH_TOKEN_REVOKED',
  ROLE_REQUIRED: 'V3_AUTH_PERMISSION_DENIED',
  ACCOUNT_DISABLED: 'V3_AUTH_PERMISSION_DENIED',
};

export function toV3Error(error: AppError): AppError {
  const code = V3_EQUIVALENT[error.code];
  if (!code) return error;
  // The challenge names the same code as the body.
  const headers = error.headers
    ? Object.fromEntries(Object.entries(error.headers).map(([name, value]) => [name, name === 'www-authenticate' ? value.replace(`error_description="${error.code}"`, `error_description="${code}"`) : value]))
    : undefined;
  return new AppError(code, {
    ...(error.details ? { details: error.details } : {}),
    ...(headers ? { headers } : {}),
    ...(error.subject ? { subject: error.subject } : {}),
    cause: error,
  });
}

