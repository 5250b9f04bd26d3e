/**
 * Schema validators for Fastify. Bodies and headers are validated exactly as sent: no type
 * coercion and no silent removal of unknown fields (Fastify's defaults would let
 * {"password": 12345678, "isAdmin": true} through). Query strings and path params arrive as text,
 * so only they are coerced.
 */
import { Ajv, type Options } from 'ajv';
import addFormatsImport from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';


const addFormats = addFormatsImport as unknown as (ajv: Ajv) => Ajv;

function createAjv(options: Options): Ajv {
  const ajv = new Ajv({ allErrors: true, removeAdditional: false, useDefaults: true, strict: false, ...options });
  addFormats(ajv);
  return ajv;
}

export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const exact = createAjv({ coerceTypes: false });
  const coercing = createAjv({ coerceTypes: 'array' });
  return ({ schema, httpPart }) => {
    if (httpPart === 'querystring' || httpPart === 'params') return coercing.compile(schema as object);
    const validate = exact.compile(schema as object);
    if (httpPart !== 'body') return validate;
    // A POST without a body (Fastify passes null) is validated as an empty object, so routes whose
    // fields are all optional accept it and routes with required fields name the missing ones.
    const validateBody = (data: unknown) => {
      const valid = validate(data === undefined || data === null ? {} : data);
      validateBody.errors = validate.errors;
      return valid;
    };
    validateBody.errors = null as typeof validate.errors;
    return validateBody;
  };
}
