/**
 * argon2id hashing with parameters from config. A stored hash made with other parameters still
 * verifies and is reported as needing a re-hash; a malformed stored hash is a failed verification,
 * never an exception. Unknown emails are verified against a dummy hash made with the same
 * parameters, so "no such user" and "wrong password" cost the same time.
 */
import { type Algorithm, hash, verify } from '@node-rs/argon2';

/** Algorithm.Argon2id; the package exports a const enum, which verbatimModuleSyntax cannot import. */
const ARGON2ID = 2 as Algorithm;

export interface Argon2Parameters {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export interface VerifyResult {
  ok: boolean;
  needsRehash: boolean;
}

const PARAMS_PATTERN = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/;

export function createPasswordHasher(parameters: Argon2Parameters) {
  const options = { algorithm: ARGON2ID, ...parameters };
  let dummyHash: Promise<string> | undefined;

  const hasCurrentParameters = (stored: string) => {
    const match = PARAMS_PATTERN.exec(stored);
    return (
      match !== null &&
      Number(match[1]) === parameters.memoryCost &&
      Number(match[2]) === parameters.timeCost &&
      Number(match[3]) === parameters.parallelism
    );
  };

  return {
    hash: (password: string) => hash(password, options),

    async verify(stored: string, password: string): Promise<VerifyResult> {
      let ok: boolean;
      try {
        ok = await verify(stored, password);
      } catch {
        ok = false;
      }
      return { ok, needsRehash: ok && !hasCurrentParameters(stored) };
    },

    /** Spends the same work as a real verification and always fails. */
    async verifyAgainstDummy(password: string): Promise<VerifyResult> {
      dummyHash ??= hash('portcullis-dummy-password', options);
      await verify(await dummyHash, password).catch(() => false);
      return { ok: false, needsRehash: false };
    },
  };
}

export type PasswordHasher = ReturnType<typeof createPasswordHasher>;
