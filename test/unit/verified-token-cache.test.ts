/**
 * The verified-token cache in front of fast-jwt (src/plugins/access-token.ts): a hit needs the
 * whole token, entries end after their lifetime and first in is first out, failures are not kept.
 * The verifier here is a counting stand-in, so every test sees exactly when it ran.
 */
import t from 'tap';
import { createManualClock } from '../../src/lib/clock.js';
import { createVerifiedTokenCache } from '../../src/plugins/access-token.js';

const TAIL = 'x'.repeat(40);

function setup(size = 3, lifetimeMs = 1000) {
  const clock = createManualClock(1_000_000);
  const calls: string[] = [];
  const verify = (token: string) => {
    calls.push(token);
    if (token.startsWith('bad')) throw new Error('invalid signature');
    return Object.freeze({ token });
  };
  return { clock, calls, cached: createVerifiedTokenCache(verify, size, lifetimeMs, () => clock.now()) };
}

t.test('a repeated token is verified once and answers the same payload', async (t) => {
  const { calls, cached } = setup();
  const first = cached(`a.${TAIL}`);
  t.equal(cached(`a.${TAIL}`), first);
  t.strictSame(calls, [`a.${TAIL}`]);
});

t.test('another token with the same end is verified itself, never served the cached payload', async (t) => {
  const { calls, cached } = setup();
  cached(`a.${TAIL}`);
  t.strictSame(cached(`b.${TAIL}`), { token: `b.${TAIL}` });
  t.throws(() => cached(`bad.${TAIL}`), /invalid signature/, 'a forged payload borrowing the signature fails');
  t.strictSame(calls, [`a.${TAIL}`, `b.${TAIL}`, `bad.${TAIL}`]);
});

t.test('failures are not remembered', async (t) => {
  const { calls, cached } = setup();
  t.throws(() => cached(`bad.${TAIL}`));
  t.throws(() => cached(`bad.${TAIL}`));
  t.equal(calls.length, 2);
});

t.test('an entry ends after its lifetime', async (t) => {
  const { clock, calls, cached } = setup(3, 1000);
  cached(`a.${TAIL}`);
  clock.advance(999);
  cached(`a.${TAIL}`);
  t.equal(calls.length, 1, 'still cached just before the end');
  clock.advance(1);
  cached(`a.${TAIL}`);
  t.equal(calls.length, 2, 'verified again at the end');
});

t.test('at its size the oldest entry goes first', async (t) => {
  const { calls, cached } = setup(2);
  const token = (n: number) => `t${n}.${TAIL}${n}`;
  cached(token(1));
  cached(token(2));
  cached(token(3));
  calls.length = 0;
  cached(token(2));
  cached(token(3));
  t.strictSame(calls, [], 'the two newest are kept');
  cached(token(1));
  t.strictSame(calls, [token(1)], 'the oldest was evicted');
});

t.test('size 0 turns the cache off', async (t) => {
  const { calls } = setup();
  const clock = createManualClock();
  const cached = createVerifiedTokenCache((token) => (calls.push(token), {}), 0, 1000, () => clock.now());
  cached(`a.${TAIL}`);
  cached(`a.${TAIL}`);
  t.equal(calls.length, 2);
});
