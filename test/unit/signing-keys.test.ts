import { calculateJwkThumbprint } from 'jose';
import t from 'tap';
import { generateSigningKey, openPrivateKey, sealPrivateKey, SigningKeyUnsealError } from '../../src/lib/signing-key-crypto.js';
import { CLOCK_SKEW_MS, nextChangeAfter, scheduleAt } from '../../src/lib/signing-key-schedule.js';

const SECRET = 'a-signing-key-encryption-secret-of-32+chars';
const TTL = 900_000;

t.test('schedule: pending, active, verifying and retired follow activation times only', async (t) => {
  const keys = [
    { kid: 'k2', activatesAt: 2_000_000 },
    { kid: 'k1', activatesAt: 1_000_000 },
    { kid: 'k3', activatesAt: 3_000_000 },
  ];
  const statusAt = (now: number) => Object.fromEntries(scheduleAt(keys, now, TTL).map((state) => [state.key.kid, state.status]));
  t.strictSame(statusAt(1_500_000), { k1: 'active', k2: 'pending', k3: 'pending' }, 'before k2 activates, k1 signs');
  t.strictSame(statusAt(2_000_000), { k1: 'verifying', k2: 'active', k3: 'pending' }, 'k2 signs from its activation instant');
  const k1Retires = 2_000_000 + TTL + CLOCK_SKEW_MS;
  t.strictSame(statusAt(k1Retires - 1), { k1: 'verifying', k2: 'active', k3: 'pending' }, 'k1 verifies while tokens it signed may live');
  t.strictSame(statusAt(3_000_000), { k1: 'retired', k2: 'verifying', k3: 'active' }, 'k1 retires one lifetime plus skew after k2 took over');
  t.equal(scheduleAt(keys, 3_000_000, TTL).find((state) => state.key.kid === 'k1')!.retiresAt, k1Retires);
  t.strictSame(statusAt(500_000), { k1: 'pending', k2: 'pending', k3: 'pending' }, 'nothing active before the first activation');
});

t.test('schedule: two keys activating at the same instant resolve the same way everywhere', async (t) => {
  const a = { kid: 'aaa', activatesAt: 1000 };
  const b = { kid: 'bbb', activatesAt: 1000 };
  const active = (keys: Array<typeof a>) => scheduleAt(keys, 2000, TTL).find((state) => state.status === 'active')!.key.kid;
  t.equal(active([a, b]), 'bbb');
  t.equal(active([b, a]), 'bbb', 'input order does not matter');
});

t.test('nextChangeAfter is the next activation or retirement', async (t) => {
  const keys = [{ kid: 'k1', activatesAt: 0 }, { kid: 'k2', activatesAt: 10_000 }];
  t.equal(nextChangeAfter(scheduleAt(keys, 5000, TTL), 5000), 10_000);
  t.equal(nextChangeAfter(scheduleAt(keys, 10_000, TTL), 10_000), 10_000 + TTL + CLOCK_SKEW_MS);
  t.equal(nextChangeAfter(scheduleAt(keys, 10_000_000, TTL), 10_000_000), Infinity);
});

for (const algorithm of ['RS256', 'ES256', 'EdDSA'] as const) {
  t.test(`${algorithm}: generated key, kid is the RFC 7638 thumbprint jose computes, no private members published`, async (t) => {
    const key = await generateSigningKey(algorithm);
    t.equal(key.kid, await calculateJwkThumbprint(key.publicJwk as never, 'sha256'));
    t.equal(key.publicJwk.alg, algorithm);
    t.equal(key.publicJwk.use, 'sig');
    for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi']) t.notOk(secret in key.publicJwk, `no ${secret}`);
  });
}

t.test('sealed private keys open only with the same secret and the same kid', async (t) => {
  const key = await generateSigningKey('EdDSA');
  const sealed = sealPrivateKey(key.privateKeyPem, key.kid, SECRET);
  t.notMatch(sealed, /PRIVATE KEY/, 'nothing readable at rest');
  t.not(sealPrivateKey(key.privateKeyPem, key.kid, SECRET), sealed, 'a fresh IV each time');
  const opened = openPrivateKey(sealed, key.kid, SECRET);
  t.equal(opened.export({ type: 'pkcs8', format: 'pem' }).toString(), key.privateKeyPem);
  t.throws(() => openPrivateKey(sealed, key.kid, `${SECRET}-changed`), SigningKeyUnsealError, 'another secret');
  t.throws(() => openPrivateKey(sealed, 'another-kid', SECRET), SigningKeyUnsealError, 'copied onto another row');
  const bytes = Buffer.from(sealed.slice(3), 'base64url');
  bytes[bytes.length - 1]! ^= 1;
  t.throws(() => openPrivateKey(`v1.${bytes.toString('base64url')}`, key.kid, SECRET), SigningKeyUnsealError, 'tampered');
  t.throws(() => openPrivateKey('v2.abc', key.kid, SECRET), SigningKeyUnsealError, 'unknown format');
  t.throws(() => openPrivateKey('', key.kid, SECRET), SigningKeyUnsealError, 'empty');
});
