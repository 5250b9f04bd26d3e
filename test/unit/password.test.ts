import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { createPasswordHasher } from '../../src/lib/password-hasher.js';
import { assertPasswordAcceptable, isCommonPassword } from '../../src/lib/password-policy.js';

t.test('the 10,000 most common passwords are refused, rarer ones are not', async (t) => {
  t.ok(isCommonPassword('123456'));
  t.ok(isCommonPassword('password'));
  t.ok(isCommonPassword('PASSWORD'), 'case does not help');
  t.notOk(isCommonPassword('correct horse battery staple 42'));
  t.throws(() => assertPasswordAcceptable('password', 8), { code: 'PASSWORD_TOO_COMMON' });
  t.throws(() => assertPasswordAcceptable('short', 8), { code: 'PASSWORD_TOO_SHORT' });
  t.throws(() => assertPasswordAcceptable('Xq9#vL2!mR', 15), { code: 'PASSWORD_TOO_SHORT' });
  t.doesNotThrow(() => assertPasswordAcceptable('Xq9#vL2!mR', 8));
  t.doesNotThrow(() => assertPasswordAcceptable('🔐🔑🗝️🔒🔓🛡️⚔️🏰', 8), 'length counts code points');
});

t.test('argon2id hashing, verification and re-hash detection', async (t) => {
  const cheap = createPasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
  const stronger = createPasswordHasher({ memoryCost: 2048, timeCost: 2, parallelism: 1 });
  t.teardown(() => Promise.all([cheap.close(), stronger.close()]));
  const stored = await cheap.hash('Xq9#vL2!mR-long');
  t.match(stored, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
  t.strictSame(await cheap.verify(stored, 'Xq9#vL2!mR-long'), { ok: true, needsRehash: false });
  t.strictSame(await cheap.verify(stored, 'wrong'), { ok: false, needsRehash: false });
  t.strictSame(await stronger.verify(stored, 'Xq9#vL2!mR-long'), { ok: true, needsRehash: true }, 'older parameters');
  for (const malformed of ['', 'not-a-hash', '$argon2id$v=19$m=1024,t=1,p=1$broken', '$2b$10$abcdefghijklmnopqrstuv']) {
    t.strictSame(await cheap.verify(malformed, 'anything'), { ok: false, needsRehash: false }, `malformed: ${malformed}`);
  }
  t.strictSame(await cheap.verifyAgainstDummy('anything'), { ok: false, needsRehash: false });
});

/** Nice values of this process's threads (Linux keeps one per thread). */
function threadNiceValues(): number[] {
  const values: number[] = [];
  for (const task of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${task}/stat`, 'utf8');
      values.push(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return values;
}

t.test('hashes run on a bounded pool of lowered-priority threads, ended by close', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t) => {
  const niceIncrement = 7;
  const before = threadNiceValues().filter((value) => value === niceIncrement).length;
  const hasher = createPasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 }, { threads: 2, niceIncrement });
  const stored = await Promise.all(Array.from({ length: 6 }, (_, i) => hasher.hash(`password number ${i}`)));
  t.equal(new Set(stored).size, 6, 'six distinct hashes');
  t.ok((await hasher.verify(stored[3]!, 'password number 3')).ok, 'a pool-made hash verifies');
  t.equal(threadNiceValues().filter((value) => value === niceIncrement).length - before, 2, 'six concurrent hashes ran on exactly two threads, at the lowered priority');
  t.equal(threadNiceValues()[0], 0, 'the main thread keeps its priority');
  await hasher.close();
  t.equal(threadNiceValues().filter((value) => value === niceIncrement).length, before, 'close ended the threads');
});
