/**
 * The signing-key ring: every key of user access tokens, in memory, loaded from Postgres at
 * start-up and reloaded every SIGNING_KEY_RELOAD_SECONDS, so the hot path never reads the
 * database. Which key signs and which keys verify follow src/lib/signing-key-schedule.ts.
 * A new key is published SIGNING_KEY_PUBLISH_DELAY before it signs, which config requires to
 * exceed the reload interval plus JWKS_MAX_AGE: every instance and every gateway's JWKS cache
 * knows a kid before the first token carrying it exists.
 *
 * With JWT_ALGORITHM=HS256 the ring holds one symmetric key from JWT_SECRET; nothing is stored
 * or published. Decorates `app.signingKeys`.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { createHash, createPublicKey } from 'node:crypto';
import { type Config, SIGNING_KEY_RELOAD_SECONDS } from '../config.js';
import type { SigningKeyRow } from '../db/schema.js';
import { createSigningKeyRepository } from '../db/signing-key-repository.js';
import { AppError } from '../errors.js';
import type { Clock } from '../lib/clock.js';
import { type AsymmetricAlgorithm, openPrivateKey } from '../lib/signing-key-crypto.js';
import { type KeyState, nextChangeAfter, scheduleAt } from '../lib/signing-key-schedule.js';

export type JwtAlgorithm = Config['JWT_ALGORITHM'];

export interface SigningKey {
  kid: string;
  algorithm: JwtAlgorithm;
  activatesAt: number;
  createdAt: number;
  createdBy: string;
  /** PEM (or the HS256 secret) that verifies; what fast-jwt takes. */
  verificationKey: string;
  /** PEM (or the HS256 secret) that signs; null for keys that will never sign again. */
  signingKey: string | null;
  /** The published JWK; null for HS256. */
  publicJwk: Record<string, unknown> | null;
}

export interface SigningKeyRing {
  /** The key that signs new tokens at `now`. */
  signingKeyAt(now: number): SigningKey;
  /** A key that may verify at `now` (pending, active or verifying); undefined if unknown or retired. */
  find(kid: string, now: number): SigningKey | undefined;
  /** RFC 7517 key set of every published key. */
  jwks(now: number): { keys: Array<Record<string, unknown>> };
  states(now: number): Array<KeyState<SigningKey>>;
  /** Re-reads the keys from Postgres (no-op for HS256). */
  reload(): Promise<void>;
  /** Adds a key that signs after SIGNING_KEY_PUBLISH_DELAY; SIGNING_KEYS_SYMMETRIC for HS256. */
  rotate(createdBy: string, algorithm?: AsymmetricAlgorithm): Promise<KeyState<SigningKey>>;
}

declare module 'fastify' {
  interface FastifyInstance {
    signingKeys: SigningKeyRing;
  }
}

/** Schedules are recomputed only when a key changes status, not per request. */
function createScheduleCache(keys: () => SigningKey[], accessTtlMs: number) {
  let computedAt = Infinity;
  let validUntil = -Infinity;
  let states: Array<KeyState<SigningKey>> = [];
  let published = new Map<string, SigningKey>();
  let active: SigningKey | undefined;
  return {
    invalidate() {
      validUntil = -Infinity;
    },
    at(now: number) {
      if (now >= validUntil || now < computedAt) {
        states = scheduleAt(keys(), now, accessTtlMs);
        published = new Map(states.filter((state) => state.status !== 'retired').map((state) => [state.key.kid, state.key]));
        active = states.find((state) => state.status === 'active')?.key;
        computedAt = now;
        validUntil = nextChangeAfter(states, now);
      }
      return { states, published, active };
    },
  };
}

function symmetricRing(config: Config): SigningKeyRing {
  const key: SigningKey = {
    kid: `hs-${createHash('sha256').update(config.JWT_SECRET).digest('base64url').slice(0, 16)}`,
    algorithm: 'HS256',
    activatesAt: 0,
    createdAt: 0,
    createdBy: 'config',
    verificationKey: config.JWT_SECRET,
    signingKey: config.JWT_SECRET,
    publicJwk: null,
  };
  return {
    signingKeyAt: () => key,
    find: (kid) => (kid === key.kid ? key : undefined),
    jwks: () => ({ keys: [] }),
    states: () => [{ key, status: 'active', retiresAt: null }],
    reload: async () => {},
    rotate: async () => {
      throw new AppError('SIGNING_KEYS_SYMMETRIC');
    },
  };
}

async function asymmetricRing(app: FastifyInstance, config: Config, clock: Clock): Promise<SigningKeyRing> {
  const repository = createSigningKeyRepository(app.db, config.SIGNING_KEY_ENCRYPTION_KEY);
  const accessTtlMs = config.JWT_ACCESS_TTL * 1000;
  let keys: SigningKey[] = [];
  const schedule = createScheduleCache(() => keys, accessTtlMs);

  /** Opens the private keys that may still sign; a key that does not open fails the load. */
  function load(rows: SigningKeyRow[]): SigningKey[] {
    const known = new Map(keys.map((key) => [key.kid, key]));
    const states = scheduleAt(rows.map((row) => ({ ...row, activatesAt: row.activatesAt.getTime() })), clock.now(), accessTtlMs);
    return states.map(({ key: row, status }) => {
      const mayStillSign = status === 'pending' || status === 'active';
      const previous = known.get(row.kid);
      // The same object for an unchanged key: the access-token plugin keys its signers, verifiers
      // and verified-token cache by it, so a reload must not empty them.
      if (previous && (previous.signingKey !== null || !mayStillSign)) return previous;
      const signingKey = !mayStillSign
        ? null
        : (previous?.signingKey ?? openPrivateKey(row.privateKeySealed, row.kid, config.SIGNING_KEY_ENCRYPTION_KEY).export({ type: 'pkcs8', format: 'pem' }).toString());
      return {
        kid: row.kid,
        algorithm: row.algorithm as AsymmetricAlgorithm,
        activatesAt: row.activatesAt,
        createdAt: row.createdAt.getTime(),
        createdBy: row.createdBy,
        verificationKey: previous?.verificationKey ?? createPublicKey({ key: row.publicJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString(),
        signingKey,
        publicJwk: row.publicJwk,
      };
    });
  }

  async function reload() {
    keys = load(await repository.list());
    schedule.invalidate();
  }

  await repository.ensure(config.JWT_ALGORITHM as AsymmetricAlgorithm, new Date(clock.now()), config.SIGNING_KEY_PUBLISH_DELAY * 1000, accessTtlMs);
  await reload();

  const timer = setInterval(() => {
    reload().catch((error: unknown) => app.log.error({ err: error }, 'signing keys reload failed; keeping the keys loaded before'));
  }, SIGNING_KEY_RELOAD_SECONDS * 1000);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));

  return {
    signingKeyAt(now) {
      const { active } = schedule.at(now);
      // ensure() created a key that signs at start-up, and keys are never deleted.
      if (!active?.signingKey) throw new Error('no signing key is active');
      return active;
    },
    find: (kid, now) => schedule.at(now).published.get(kid),
    jwks(now) {
      return { keys: schedule.at(now).states.filter((state) => state.status !== 'retired').map((state) => state.key.publicJwk!) };
    },
    states: (now) => schedule.at(now).states,
    reload,
    async rotate(createdBy, algorithm = config.JWT_ALGORITHM as AsymmetricAlgorithm) {
      const row = await repository.add({ algorithm, activatesAt: new Date(clock.now() + config.SIGNING_KEY_PUBLISH_DELAY * 1000), createdBy });
      await reload();
      return schedule.at(clock.now()).states.find((state) => state.key.kid === row.kid)!;
    },
  };
}

export default fp(
  async function signingKeysPlugin(app: FastifyInstance, options: { config: Config; clock: Clock }) {
    const { config, clock } = options;
    app.decorate('signingKeys', config.JWT_ALGORITHM === 'HS256' ? symmetricRing(config) : await asymmetricRing(app, config, clock));
  },
  { name: 'signing-keys', dependencies: ['db'] },
);
