/**
 * The API V3 envelope. Success: {status: "success", data, meta: {request_id, timestamp}} (lists add
 * page, per_page, total to meta). Error: {status: "error", data: null, error: {code, message},
 * meta}. Errors thrown anywhere (including the shared user guard and Fastify's own validation) are
 * mapped onto V3 codes here, in one place.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type TSchema } from 'typebox';
import { AppError, ERRORS, toV3Error } from '../../errors.js';

export { toV3Error, V3_PREFIX } from '../../errors.js';
import { FieldProblemSchema } from '../../lib/http-schemas.js';
import { prepareErrorReply } from '../../plugins/error-handler.js';

export const MetaSchema = Type.Object({ request_id: Type.String(), timestamp: Type.String({ format: 'date-time' }) });

export const ListMetaSchema = Type.Object({
  request_id: Type.String(),
  timestamp: Type.String({ format: 'date-time' }),
  page: Type.Integer(),
  per_page: Type.Integer(),
  total: Type.Integer(),
});

export const Envelope = <T extends TSchema>(data: T) => Type.Object({ status: Type.Literal('success'), data, meta: MetaSchema });

export const ListEnvelope = <T extends TSchema>(item: T) =>
  Type.Object({ status: Type.Literal('success'), data: Type.Array(item), meta: ListMetaSchema });

export const V3ErrorSchema = Type.Object({
  status: Type.Literal('error'),
  data: Type.Null(),
  error: Type.Object({
    code: Type.Enum(Object.keys(ERRORS)),
    message: Type.String(),
    details: Type.Optional(Type.Array(FieldProblemSchema)),
  }),
  meta: MetaSchema,
});

export function v3Errors(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((status) => [status, V3ErrorSchema]));
}

const meta = (request: FastifyRequest) => ({ request_id: request.id, timestamp: new Date().toISOString() });

export function success<T>(request: FastifyRequest, data: T) {
  return { status: 'success' as const, data, meta: meta(request) };
}

export function successList<T>(request: FastifyRequest, data: T[], page: { page: number; perPage: number; total: number }) {
  return { status: 'success' as const, data, meta: { ...meta(request), page: page.page, per_page: page.perPage, total: page.total } };
}

/** The V3 error body for an AppError (mapped onto its V3 code). */
export function renderV3Error(error: AppError, request: FastifyRequest) {
  const appError = toV3Error(error);
  return {
    status: 'error' as const,
    data: null,
    error: { code: appError.code, message: appError.message, ...(appError.details ? { details: appError.details } : {}) },
    meta: meta(request),
  };
}

/** Installs V3 error and not-found rendering on an encapsulated instance (the /api/v3 scope). */
export function useV3Envelope(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const appError = prepareErrorReply(error, request, reply, toV3Error);
    return reply.send(renderV3Error(appError, request));
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ status: 'error', data: null, error: { code: 'V3_AUTH_NOT_FOUND', message: ERRORS.V3_AUTH_NOT_FOUND.message }, meta: meta(request) });
  });
}
