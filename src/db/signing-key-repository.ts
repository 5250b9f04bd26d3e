/**
 * Signing keys in Postgres. Creation runs under a transaction-scoped advisory lock, so instances
 * starting together, or two operators rotating at once, each see the other's key before deciding.
 */
import { asc, sql } from 'drizzle-orm';
import { type AsymmetricAlgorithm, generateSigningKey, sealPrivateKey } from '../lib/signing-key-crypto.js';
import { CLOCK_SKEW_MS, scheduleAt } from '../lib/signing-key-schedule.js';
import type { Db } from './client.js';
import { type SigningKeyRow, signingKeys } from './schema.js';

const SIGNING_KEY_LOCK_ID = 7_316_402_118;

export interface NewSigningKey {
  algorithm: AsymmetricAlgorithm;
  activatesAt: Date;
  createdBy: string;
}

export function createSigningKeyRepository(db: Db, encryptionKey: string) {
  async function insert(key: NewSigningKey, tx: Db): Promise<SigningKeyRow> {
    const generated = await generateSigningKey(key.algorithm);
    const [row] = await tx
      .insert(signingKeys)
      .values({
        kid: generated.kid,
        algorithm: generated.algorithm,
        publicJwk: generated.publicJwk,
        privateKeySealed: sealPrivateKey(generated.privateKeyPem, generated.kid, encryptionKey),
        activatesAt: key.activatesAt,
        createdBy: key.createdBy,
      })
      .returning();
    return row!;
  }

  function locked<T>(work: (tx: Db) => Promise<T>): Promise<T> {
    return db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${SIGNING_KEY_LOCK_ID})`);
      return work(tx as unknown as Db);
    });
  }

  return {
    /** Every key, oldest activation first. */
    list(tx: Db = db): Promise<SigningKeyRow[]> {
      return tx.select().from(signingKeys).orderBy(asc(signingKeys.activatesAt), asc(signingKeys.kid));
    },

    /** Adds a key that starts signing at `activatesAt`. */
    add(key: NewSigningKey): Promise<SigningKeyRow> {
      return locked((tx) => insert(key, tx));
    },

    /**
     * Start-up: makes sure a key of `algorithm` signs now or soon. With no key able to sign, one is
     * created that signs at once (nothing can have cached a JWKS without it yet), dated CLOCK_SKEW_MS
     * back: an instance whose clock runs behind, or that read its clock before the creator
     * committed, must see it active too, or it would create a second key and, until its clock
     * caught up, have none to sign with. When the active key has another algorithm (JWT_ALGORITHM
     * changed), one is scheduled like a rotation. Returns the key it created, if any.
     */
    async ensure(algorithm: AsymmetricAlgorithm, now: Date, publishDelayMs: number, accessTtlMs: number): Promise<SigningKeyRow | null> {
      return locked(async (tx) => {
        const states = scheduleAt((await this.list(tx)).map((row) => ({ ...row, activatesAt: row.activatesAt.getTime() })), now.getTime(), accessTtlMs);
        const active = states.find((state) => state.status === 'active');
        if (!active) return insert({ algorithm, activatesAt: new Date(now.getTime() - CLOCK_SKEW_MS), createdBy: 'system' }, tx);
        const upcoming = states.filter((state) => state.status === 'pending' || state.status === 'active').at(-1)!;
        if (upcoming.key.algorithm === algorithm) return null;
        return insert({ algorithm, activatesAt: new Date(now.getTime() + publishDelayMs), createdBy: 'system' }, tx);
      });
    },
  };
}

export type SigningKeyRepository = ReturnType<typeof createSigningKeyRepository>;
