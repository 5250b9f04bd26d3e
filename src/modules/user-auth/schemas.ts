/** TypeBox schemas of the user-auth routes: validation, types and OpenAPI from one definition. */
import { Type, type Static } from 'typebox';
import { USER_ROLES } from '../../db/schema.js';
import { EmailSchema, NameSchema, PasswordSchema, StrictObject, UuidSchema } from '../../lib/http-schemas.js';

export const RoleSchema = Type.Enum([...USER_ROLES], { description: 'ADMIN, PARTNER or CONSUMER.' });

export const RegisterBodySchema = StrictObject({
  email: EmailSchema,
  password: PasswordSchema,
  name: Type.Optional(NameSchema),
  role: Type.Optional(RoleSchema),
});
export type RegisterBody = Static<typeof RegisterBodySchema>;

export const LoginBodySchema = StrictObject({ email: EmailSchema, password: PasswordSchema });
export type LoginBody = Static<typeof LoginBodySchema>;

export const BootstrapBodySchema = StrictObject({ email: EmailSchema, password: PasswordSchema, name: NameSchema });
export type BootstrapBody = Static<typeof BootstrapBodySchema>;

export const PublicUserSchema = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  role: RoleSchema,
});
export type PublicUser = Static<typeof PublicUserSchema>;

export const AuthResponseSchema = Type.Object({ accessToken: Type.String(), user: PublicUserSchema });
export const RefreshResponseSchema = Type.Object({ accessToken: Type.String() });

export const SessionSchema = Type.Object({
  id: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  lastUsedAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.String({ format: 'date-time' }),
  ip: Type.String(),
  userAgent: Type.String(),
  current: Type.Boolean(),
});
export const SessionListSchema = Type.Object({ sessions: Type.Array(SessionSchema) });
export type SessionView = Static<typeof SessionSchema>;

export const SessionParamsSchema = StrictObject({ id: UuidSchema });

export const LogoutAllResponseSchema = Type.Object({ message: Type.String(), revoked: Type.Integer() });
