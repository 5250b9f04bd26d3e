import t from 'tap';
import { randomBytes, randomUUID } from 'node:crypto';
import { createRefreshTokenCodec } from '../../src/lib/refresh-token.js';

const codec = createRefreshTokenCodec(randomBytes(32));

t.test('an issued token parses back to its ids and digest', async (t) => {
  const userId = randomUUID();
  const sessionId = randomUUID();
  const issued = codec.issue(userId, sessionId);
  t.match(issued.token, /^rt_[A-Za-z0-9_-]+$/);
  t.ok(issued.token.length >= 43 + 3, 'carries at least 256 random bits');
  t.strictSame(codec.parse(issued.token), { userId, sessionId, hash: issued.hash });
  t.not(codec.issue(userId, sessionId).token, issued.token, 'two tokens of one session differ');
});

t.test('anything we did not issue is rejected', async (t) => {
  const issued = codec.issue(randomUUID(), randomUUID());
  const flipped = issued.token.slice(0, 20) + (issued.token[20] === 'A' ? 'B' : 'A') + issued.token.slice(21);
  const otherKey = createRefreshTokenCodec(randomBytes(32)).issue(randomUUID(), randomUUID()).token;
  for (const [label, token] of [
    ['tampered byte', flipped],
    ['truncated', issued.token.slice(0, -1)],
    ['extended', `${issued.token}A`],
    ['another key', otherKey],
    ['no prefix', issued.token.slice(3)],
    ['empty', ''],
    ['garbage', 'rt_' + '!'.repeat(issued.token.length - 3)],
  ] as const) {
    t.equal(codec.parse(token), null, label);
  }
});

t.test('a sealed successor opens only with its predecessor', async (t) => {
  const predecessor = codec.issue(randomUUID(), randomUUID()).token;
  const successor = codec.issue(randomUUID(), randomUUID()).token;
  const sealed = codec.seal(successor, predecessor);
  t.notMatch(sealed, successor, 'not stored in the clear');
  t.equal(codec.unseal(sealed, predecessor), successor);
  t.equal(codec.unseal(sealed, successor), null, 'wrong predecessor');
  t.equal(codec.unseal(sealed.slice(0, -2), predecessor), null, 'tampered');
  t.equal(createRefreshTokenCodec(randomBytes(32)).unseal(sealed, predecessor), null, 'other server key');
});

t.test('only the canonical spelling of a token parses (regression)', async (t) => {
  const { token } = codec.issue(randomUUID(), randomUUID());
  const last = token.at(-1)!;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  // The last character carries 2 unused bits: its 3 siblings decode to the same bytes.
  const base = alphabet.indexOf(last) & ~3;
  const siblings = [0, 1, 2, 3].map((i) => alphabet[base + i]!).filter((c) => c !== last);
  t.equal(siblings.length, 3);
  for (const sibling of siblings) t.equal(codec.parse(token.slice(0, -1) + sibling), null, sibling);
});
