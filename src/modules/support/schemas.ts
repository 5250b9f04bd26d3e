/** TypeBox schemas of the support routes. Answers never carry hashes, secrets or tokens. */
import { Type, type Static } from 'typebox';
import { EmailSchema, SafeString, StrictObject, UuidSchema } from '../../lib/http-schemas.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const DateTime = Type.String({ format: 'date-time' });

export const UserLookupQuerySchema = StrictObject({ email: EmailSchema });
export const IdParamsSchema = StrictObject({ id: UuidSchema });

export const AuthEventSchema = Type.Object({
  occurredAt: DateTime,
  kind: Type.String(),
  reason: Nullable(Type.String()),
  status: Nullable(Type.Integer()),
  /** The reason in plain words (from the error catalogue). */
  meaning: Nullable(Type.String()),
  method: Nullable(Type.String()),
  route: Nullable(Type.String()),
  sessionId: Nullable(Type.String()),
  ip: Nullable(Type.String()),
  userAgent: Nullable(Type.String()),
  requestId: Nullable(Type.String()),
  actor: Nullable(Type.String()),
  count: Type.Integer(),
});

export const SupportSessionSchema = Type.Object({
  id: Type.String(),
  createdAt: DateTime,
  lastUsedAt: DateTime,
  expiresAt: DateTime,
  ip: Type.String(),
  userAgent: Type.String(),
});

export const UserReportSchema = Type.Object({
  account: Type.Object({
    id: Type.String(),
    email: Type.String(),
    name: Nullable(Type.String()),
    role: Type.String(),
    disabled: Type.Boolean(),
    createdAt: DateTime,
    lastLoginAt: Nullable(DateTime),
    passwordChangedAt: DateTime,
  }),
  sessions: Type.Array(SupportSessionSchema),
  events: Type.Array(AuthEventSchema),
  loginLock: Type.Object(
    {
      failures: Type.Integer({ description: 'Consecutive failed logins counted for the account from every address; LOGIN_LOCK_AFTER of them lock it.' }),
      lockedUntil: Type.Union([DateTime, Type.Null()], { description: 'When the account-wide lock ends (until then every login answers 429 LOGIN_THROTTLED); null when not locked.' }),
    },
    { description: "The account's own brute-force counter. Locks of one address on this account are per address: their login.locked events are in `events`." },
  ),
});

export const ExplainBodySchema = Type.Union([
  StrictObject({ token: SafeString({ maxLength: 8192 }), method: Type.Enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']), path: SafeString({ maxLength: 2048 }) }),
  StrictObject({ userId: UuidSchema, method: Type.Enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']), path: SafeString({ maxLength: 2048 }) }),
  StrictObject({ email: EmailSchema, method: Type.Enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']), path: SafeString({ maxLength: 2048 }) }),
]);
export type ExplainBody = Static<typeof ExplainBodySchema>;

export const ExplanationSchema = Type.Object({
  decision: Type.Enum(['ALLOW', 'DENY']),
  status: Type.Integer({ description: '200 when allowed, else the status the route would answer.' }),
  code: Nullable(Type.String()),
  meaning: Nullable(Type.String()),
  route: Nullable(Type.String({ description: 'The route pattern the method and path reach.' })),
  requirement: Type.String({ description: 'What the route needs, in words.' }),
  checks: Type.Array(Type.Object({ check: Type.String(), passed: Type.Boolean(), code: Type.Optional(Type.String()), detail: Type.Optional(Type.String()) })),
});

export const AppReportSchema = Type.Object({
  app: Type.Object({ id: Type.String(), code: Type.String(), name: Type.String(), status: Type.String(), clientId: Type.String() }),
  secrets: Type.Array(Type.Object({ version: Type.Integer(), status: Type.String(), createdAt: DateTime, graceUntil: Nullable(DateTime), revokedAt: Nullable(DateTime) })),
  liveTokens: Type.Integer(),
  organizations: Type.Array(Type.Object({ id: Type.String(), code: Type.String(), isDefault: Type.Boolean() })),
  permissions: Type.Array(Type.String()),
  recentDenials: Type.Array(AuthEventSchema),
});

export const RevokeSessionsResponseSchema = Type.Object({ message: Type.String(), revoked: Type.Integer() });
