// Runs in the argon2 worker threads of password-hasher.ts: one hash or verification at a time per
// thread, synchronously, so the pool's size is exactly the number of hashes in progress.
// Plain JavaScript because worker threads do not get tsx's loader (privatenumber/tsx#354): a .ts
// worker fails to load under `node --import tsx` and under tap.
import { hashSync, verifySync } from '@node-rs/argon2';

/** Algorithm.Argon2id (the package exports a const enum). */
const ARGON2ID = 2;

/** @param {{ password: string, memoryCost: number, timeCost: number, parallelism: number }} task */
export function hash(task) {
  return hashSync(task.password, { algorithm: ARGON2ID, memoryCost: task.memoryCost, timeCost: task.timeCost, parallelism: task.parallelism });
}

/** A malformed stored hash is a failed verification, never an exception. @param {{ stored: string, password: string }} task */
export function verify(task) {
  try {
    return verifySync(task.stored, task.password);
  } catch {
    return false;
  }
}
