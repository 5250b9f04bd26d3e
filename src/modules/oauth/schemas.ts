/**
 * TypeBox schemas of the OAuth 2.0 routes. Request bodies are open (additionalProperties true):
 * RFC 6749 3.2 and RFC 7662 2.1 say the server MUST ignore parameters it does not recognise.
 */
import { Type, type Static } from 'typebox';

const ClientCredentialFields = {
  client_id: Type.Optional(Type.String({ maxLength: 128, description: 'client_secret_post; omit with client_secret_basic.' })),
  client_secret: Type.Optional(Type.String({ maxLength: 256, description: 'client_secret_post; omit with client_secret_basic.' })),
};

export const TokenBodySchema = Type.Object(
  {
    grant_type: Type.Optional(Type.String({ maxLength: 64 })),
    ...ClientCredentialFields,
    scope: Type.Optional(Type.String({ maxLength: 4096 })),
    organization_code: Type.Optional(Type.String({ maxLength: 64 })),
    organization_id: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: true },
);

export const TokenResponseSchema = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer(),
  scope: Type.Optional(Type.String()),
});

export const RevokeBodySchema = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 8192 }),
    token_type_hint: Type.Optional(Type.String({ maxLength: 64 })),
    ...ClientCredentialFields,
  },
  { additionalProperties: true },
);

export const IntrospectBodySchema = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 8192, description: 'The token to introspect: an app token (v3at_…) or a user access token (JWT).' }),
    token_type_hint: Type.Optional(
      Type.String({ maxLength: 64, description: 'access_token or refresh_token; ignored (RFC 7662 2.1): the token\'s own format says what it is.' }),
    ),
    ...ClientCredentialFields,
  },
  { additionalProperties: true },
);
export type IntrospectBody = Static<typeof IntrospectBodySchema>;

/**
 * One object for all three answers (kept a single object, not a union, so serialising it on the
 * hot path stays a plain fast-json-stringify function): inactive is `{active: false}` alone.
 */
export const IntrospectionResponseSchema = Type.Object(
  {
    active: Type.Boolean(),
    token_type: Type.Optional(Type.Literal('Bearer')),
    sub: Type.Optional(Type.String({ description: 'App token: the app\'s client_id. User token: the user id.' })),
    client_id: Type.Optional(Type.String({ description: 'App tokens: the client the token was issued to.' })),
    scope: Type.Optional(Type.String({ description: 'App tokens: the effective permission codes, space-separated (the token\'s scope intersected with the app\'s current grants); absent when none.' })),
    exp: Type.Optional(Type.Integer({ description: 'Expiry, seconds since the epoch.' })),
    iat: Type.Optional(Type.Integer({ description: 'Issued at, seconds since the epoch.' })),
    iss: Type.Optional(Type.String({ description: 'ISSUER.' })),
    aud: Type.Optional(Type.String({ description: 'User tokens: JWT_AUDIENCE.' })),
    jti: Type.Optional(Type.String({ description: 'User tokens: the JWT id.' })),
    sid: Type.Optional(Type.String({ description: 'User tokens: the session id.' })),
    role: Type.Optional(Type.String({ description: 'User tokens: ADMIN, PARTNER or CONSUMER (current).' })),
    app_id: Type.Optional(Type.String({ description: 'App tokens: the app id.' })),
    app_code: Type.Optional(Type.String({ description: 'App tokens: the app code.' })),
    organization_id: Type.Optional(Type.String({ description: 'App tokens: the organization the token was issued for.' })),
    organization_code: Type.Optional(Type.String({ description: 'App tokens: that organization\'s code.' })),
  },
  {
    description:
      'RFC 7662 2.2. active: true with the app token or user token claims; otherwise exactly {"active": false}: unknown, malformed, expired, revoked, '
      + 'the app suspended or revoked or no longer in the token\'s organization, the user\'s session ended or the account disabled or its role changed.',
  },
);
export type IntrospectionResponse = Static<typeof IntrospectionResponseSchema>;

export const OAuthErrorSchema = Type.Object({ error: Type.String(), error_description: Type.Optional(Type.String()) }, { description: 'RFC 6749 5.2 error.' });

const AuthMethods = Type.Array(Type.String());

export const MetadataSchema = Type.Object(
  {
    issuer: Type.String(),
    token_endpoint: Type.String(),
    token_endpoint_auth_methods_supported: AuthMethods,
    revocation_endpoint: Type.String(),
    revocation_endpoint_auth_methods_supported: AuthMethods,
    introspection_endpoint: Type.String(),
    introspection_endpoint_auth_methods_supported: AuthMethods,
    jwks_uri: Type.String(),
    grant_types_supported: Type.Array(Type.String()),
    response_types_supported: Type.Array(Type.String()),
    service_documentation: Type.String(),
  },
  { description: 'RFC 8414 authorization server metadata; issuer is ISSUER.' },
);
