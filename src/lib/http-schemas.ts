/**
 * TypeBox building blocks shared by route schemas. Objects are closed (additionalProperties
 * false) so unknown fields are rejected, never silently dropped: nobody sets their own role.
 */
import { Type, type TProperties, type TSchema } from 'typebox';
import { ERRORS } from '../errors.js';

export const StrictObject = <T extends TProperties>(properties: T, options: Record<string, unknown> = {}) =>
  Type.Object(properties, { additionalProperties: false, ...options });

/** No control characters (Postgres text refuses NUL; logs and headers should not carry the rest). */
const PRINTABLE = '[^\\u0000-\\u001f\\u007f]';

/** A bounded string without control characters. */
export const SafeString = (options: { minLength?: number; maxLength: number; description?: string }) =>
  Type.String({ minLength: 1, ...options, pattern: `^${PRINTABLE}*$` });

/**
 * Surrounding whitespace is tolerated (and trimmed by the service); the address itself must look
 * like one. No control or invisible format characters (zero-width spaces, bidi overrides) and no
 * trailing dot: each would otherwise make a look-alike of an existing address.
 */
const EMAIL_CHAR = '[^\\s@.\\p{Cc}\\p{Cf}]';
export const EmailSchema = Type.String({
  minLength: 3,
  maxLength: 320,
  pattern: `^\\s*(?:${EMAIL_CHAR}|\\.){1,64}@${EMAIL_CHAR}+(?:\\.${EMAIL_CHAR}+)+\\s*$`,
  description: 'Email address; trimmed and lower-cased before use.',
});

/** Any printable characters and spaces (NIST SP 800-63B), but no control characters. */
export const PasswordSchema = Type.String({ minLength: 1, maxLength: 256, pattern: `^${PRINTABLE}*$` });

export const NameSchema = SafeString({ maxLength: 200 });

export const UuidSchema = Type.String({ format: 'uuid' });

export const FieldProblemSchema = StrictObject({ field: Type.String(), message: Type.String() });

export const ErrorResponseSchema = Type.Object(
  {
    error: Type.String({ description: 'Human-readable sentence.' }),
    code: Type.Enum(Object.keys(ERRORS), { description: 'Stable UPPER_SNAKE error code.' }),
    requestId: Type.String(),
    details: Type.Optional(Type.Array(FieldProblemSchema)),
  },
  { $id: undefined, description: 'Every error of the JSON API.' },
);

export const MessageResponseSchema = Type.Object({ message: Type.String() });

/** Response schemas for the given error statuses, so each route documents every status it returns. */
export function errorResponses(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((status) => [status, ErrorResponseSchema]));
}
