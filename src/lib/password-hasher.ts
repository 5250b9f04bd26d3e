/**
 * argon2id hashing with parameters from config. A stored hash made with other parameters still
 * verifies and is reported as needing a re-hash; a malformed stored hash is a failed verification,
 * never an exception. Unknown emails are verified against a dummy hash made with the same
 * parameters, so "no such user" and "wrong password" cost the same time.
 *
 * The hashes run in a pool of worker threads (piscina) of bounded size and lowered CPU priority.
 * Left to the libuv threadpool, a login storm ran four hashes on two cores, and the event loop
 * that answers token validations and refreshes competed with them for the CPU as an equal: /me's
 * p99 went from 21 ms to 95 ms. With at most one hash per core at nice 19, the kernel gives the event
 * loop the CPU first and the hashes the rest; hashing throughput is the same (it was CPU-bound),
 * only its share under contention moves: in the bench storm /me keeps 98% of its solo rate
 * (p99 18 ms) and logins get 21% of theirs (p99 2.6 s) until the storm passes.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';

export interface Argon2Parameters {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export interface HashPoolOptions {
  /** Hashes in progress at once; 0 means one per available core. */
  threads: number;
  /** Added to the worker threads' nice value (0 to 19): higher yields more to the event loop. */
  niceIncrement: number;
}

export interface VerifyResult {
  ok: boolean;
  needsRehash: boolean;
}

interface HashTask extends Argon2Parameters {
  password: string;
}

interface VerifyTask {
  stored: string;
  password: string;
}

const PARAMS_PATTERN = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/;
/** The longest delay a Node timer takes (2^31 - 1 ms, about 24 days); a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const WORKER_FILE = new URL('./argon2-worker.mjs', import.meta.url).href;

export function createPasswordHasher(parameters: Argon2Parameters, pool: HashPoolOptions = { threads: 0, niceIncrement: 0 }) {
  const threads = pool.threads || availableParallelism();
  // Threads start on first use (a test app or a CLI run that never hashes pays nothing) and stay.
  const workers = new Piscina({ filename: WORKER_FILE, minThreads: 0, maxThreads: threads, idleTimeout: MAX_TIMER_MS, niceIncrement: pool.niceIncrement });
  const run = <T>(name: 'hash' | 'verify', task: HashTask | VerifyTask) => workers.run(task, { name }) as Promise<T>;
  const hash = (password: string) => run<string>('hash', { password, ...parameters });
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
    hash,

    async verify(stored: string, password: string): Promise<VerifyResult> {
      const ok = await run<boolean>('verify', { stored, password });
      return { ok, needsRehash: ok && !hasCurrentParameters(stored) };
    },

    /** Spends the same work as a real verification and always fails. */
    async verifyAgainstDummy(password: string): Promise<VerifyResult> {
      dummyHash ??= hash('portcullis-dummy-password');
      await run<boolean>('verify', { stored: await dummyHash, password });
      return { ok: false, needsRehash: false };
    },

    /** Ends the worker threads (at app close); hashes in progress are abandoned. */
    close: () => workers.destroy(),
  };
}

export type PasswordHasher = ReturnType<typeof createPasswordHasher>;
