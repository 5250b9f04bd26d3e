import { Type, type Static } from 'typebox';
import { StrictObject } from '../../lib/http-schemas.js';
import { ASYMMETRIC_ALGORITHMS } from '../../lib/signing-key-crypto.js';

export const SigningKeySchema = Type.Object({
  kid: Type.String(),
  algorithm: Type.String(),
  status: Type.Enum(['pending', 'active', 'verifying', 'retired'], {
    description: 'pending: published, signs from activates_at; active: signs; verifying: superseded, still verifies; retired: verifies nothing.',
  }),
  activates_at: Type.String({ format: 'date-time' }),
  retires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  created_by: Type.String(),
});
export type SigningKeyView = Static<typeof SigningKeySchema>;

export const SigningKeyListSchema = Type.Object({ keys: Type.Array(SigningKeySchema) });

export const RotateBodySchema = StrictObject({
  algorithm: Type.Optional(Type.Enum([...ASYMMETRIC_ALGORITHMS], { description: 'Default: JWT_ALGORITHM.' })),
});

export const JwksSchema = Type.Object({ keys: Type.Array(Type.Record(Type.String(), Type.Unknown())) });
