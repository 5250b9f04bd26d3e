import type { KeyState, ScheduledKey } from '../../lib/signing-key-schedule.js';
import type { SigningKeyView } from './schemas.js';

interface DescribedKey extends ScheduledKey {
  algorithm: string;
  createdAt: number;
  createdBy: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The admin view of a key: never its private part. Shared by the admin endpoint and the CLI. */
export function presentSigningKey({ key, status, retiresAt }: KeyState<DescribedKey>): SigningKeyView {
  return {
    kid: key.kid,
    algorithm: key.algorithm,
    status,
    activates_at: iso(key.activatesAt),
    retires_at: retiresAt === null ? null : iso(retiresAt),
    created_at: iso(key.createdAt),
    created_by: key.createdBy,
  };
}
