/** Token helpers: the pooled CSPRNG draw. */
import t from 'tap';
import { randomBytesPooled } from '../../src/lib/crypto.js';

t.test('pooled random bytes: the requested size, never handed out twice, across pool refills', async (t) => {
  const seen = new Set<string>();
  // 4096-byte pool: 600 draws of 32 bytes cross several refills.
  for (let i = 0; i < 600; i++) {
    const bytes = randomBytesPooled(32);
    t.equal(bytes.length, 32);
    seen.add(bytes.toString('hex'));
  }
  t.equal(seen.size, 600, 'every draw differs');
  const kept = randomBytesPooled(16);
  const copy = Buffer.from(kept);
  for (let i = 0; i < 300; i++) randomBytesPooled(32);
  t.ok(kept.equals(copy), 'a draw is a copy: later refills do not change it');
  t.equal(randomBytesPooled(10_000).length, 10_000, 'larger than the pool');
});
