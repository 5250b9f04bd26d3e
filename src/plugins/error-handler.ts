/**
 * Turns anything thrown into an AppError and renders it as our JSON error:
 * {error, code, requestId, details?}. Modules with another wire format (API V3, OAuth) set their
 * own handler with the same toAppError, so every format agrees on which code a failure is.
 * 5xx details are logged, never sent: driver errors can carry SQL and connection strings.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError, type ErrorCode, type FieldProblem, isAppError } from '../errors.js';
import { DEPENDENCY_RETRY_AFTER_SECONDS, isDependencyUnavailable } from '../lib/dependency-errors.js';
import { denialEvent } from './auth-events.js';

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_ERROR',
  FST_ERR_BAD_URL: 'VALIDATION_ERROR',
  FST_ERR_RATE_LIMIT: 'RATE_LIMITED',
};

function validationDetails(error: FastifyError): FieldProblem[] {
  const context = error.validationContext ?? 'body';
  return (error.validation ?? []).map((issue) => {
    const params = issue.params as Record<string, unknown> | undefined;
    const extra = params?.additionalProperty ?? params?.missingProperty;
    const path = `${issue.instancePath}${extra ? `/${String(extra)}` : ''}`;
    return { field: `${context}${path}`, message: issue.message ?? 'is invalid' };
  });
}

export function toAppError(error: unknown): AppError {
  if (isAppError(error)) return error;
  const fastifyError = error as FastifyError;
  if (fastifyError?.validation) {
    return new AppError('VALIDATION_ERROR', { details: validationDetails(fastifyError), cause: error });
  }
  if (error instanceof SyntaxError && (error as FastifyError).statusCode === 400) {
    return new AppError('INVALID_JSON', { cause: error });
  }
  const mapped = fastifyError?.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (mapped) return new AppError(mapped, { cause: error });
  if (isDependencyUnavailable(error)) {
    return new AppError('SERVICE_UNAVAILABLE', { headers: { 'retry-after': String(DEPENDENCY_RETRY_AFTER_SECONDS) }, cause: error });
  }
  const status = fastifyError?.statusCode;
  if (status === 429) return new AppError('RATE_LIMITED', { cause: error });
  if (status && status >= 400 && status < 500) return new AppError('VALIDATION_ERROR', { message: fastifyError.message, cause: error });
  return new AppError('INTERNAL_ERROR', { cause: error });
}

/** Logs a failure at the level it deserves and applies its headers; returns the AppError to render. */
export function prepareErrorReply(
  error: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
  /** A wire format's own codes (the V3 envelope's), applied before headers and the auth event. */
  translate: (error: AppError) => AppError = (same) => same,
): AppError {
  const appError = translate(toAppError(error));
  if (appError.code === 'SERVICE_UNAVAILABLE') request.log.warn({ err: appError.cause ?? error }, 'dependency unavailable');
  else if (appError.statusCode >= 500) request.log.error({ err: appError.cause ?? error }, 'request failed');
  else request.log.info({ code: appError.code, statusCode: appError.statusCode }, 'request rejected');
  if (appError.headers) reply.headers(appError.headers);
  reply.code(appError.statusCode);
  // Every 401 and 403 is an auth event support can look up later (the writer folds floods).
  if (appError.statusCode === 401 || appError.statusCode === 403) request.server.authEvents?.record(denialEvent(appError, request));
  if (appError.statusCode === 401 || appError.statusCode === 403 || appError.statusCode === 429) request.server.metrics?.denied(appError.code);
  return appError;
}

export interface ErrorBody {
  error: string;
  code: ErrorCode;
  requestId: string;
  details?: FieldProblem[];
}

export function renderErrorBody(appError: AppError, requestId: string): ErrorBody {
  return {
    error: appError.message,
    code: appError.code,
    requestId,
    ...(appError.details ? { details: appError.details } : {}),
  };
}

export default fp(
  async function errorHandlerPlugin(app: FastifyInstance) {
    app.setErrorHandler((error, request, reply) => {
      const appError = prepareErrorReply(error, request, reply);
      return reply.send(renderErrorBody(appError, request.id));
    });
    app.setNotFoundHandler((request, reply) => {
      reply.code(404).send(renderErrorBody(new AppError('NOT_FOUND'), request.id));
    });
  },
  { name: 'error-handler' },
);
