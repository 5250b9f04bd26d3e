import t from 'tap';
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
