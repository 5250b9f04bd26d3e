/** TypeBox schemas of the admin user routes. */
import { Type, type Static } from 'typebox';
import { NameSchema, SafeString, StrictObject, UuidSchema } from '../../lib/http-schemas.js';
import { RoleSchema } from './schemas.js';

export const AdminUserSchema = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  role: RoleSchema,
  disabled: Type.Boolean(),
  lastLoginAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});
export type AdminUser = Static<typeof AdminUserSchema>;

export const AdminUserListQuerySchema = StrictObject({
  page: Type.Integer({ minimum: 1, maximum: 100000, default: 1 }),
  perPage: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  email: Type.Optional(SafeString({ maxLength: 320, description: 'Case-insensitive substring of the email.' })),
});
export type AdminUserListQuery = Static<typeof AdminUserListQuerySchema>;

export const AdminUserListSchema = Type.Object({
  users: Type.Array(AdminUserSchema),
  page: Type.Integer(),
  perPage: Type.Integer(),
  total: Type.Integer(),
});

export const AdminUserParamsSchema = StrictObject({ id: UuidSchema });

export const AdminUserPatchSchema = StrictObject(
  {
    role: Type.Optional(RoleSchema),
    disabled: Type.Optional(Type.Boolean()),
    name: Type.Optional(Type.Union([NameSchema, Type.Null()])),
  },
  { minProperties: 1 },
);
export type AdminUserPatch = Static<typeof AdminUserPatchSchema>;
