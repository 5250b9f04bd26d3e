/** The app token codec: shape parsing without the MAC (for lookups), the MAC check on its own, and the full parse. */
import { randomBytes, randomUUID } from 'node:crypto';
import t from 'tap';
import { appIdFromClientId, clientIdFor, createAppCredentialCodec } from '../../src/lib/app-credentials.js';

const codec = createAppCredentialCodec(randomBytes(32));
const appId = randomUUID();
const expiresAt = Date.now() + 3_600_000;

t.test('a minted token parses, with or without the MAC check, to the same fields', async (t) => {
  const minted = codec.issueToken(appId, expiresAt);
  const expected = { appId, expiresAt: minted.expiresAt, hash: minted.hash };
  t.strictSame(codec.parseTokenShape(minted.token), expected);
  t.strictSame(codec.parseToken(minted.token), expected);
  t.equal(codec.isMinted(minted.token), true);
});

t.test('a token of the right shape with a MAC that is not ours: shape only, never minted', async (t) => {
  const foreign = createAppCredentialCodec(randomBytes(32)).issueToken(appId, expiresAt).token;
  t.match(codec.parseTokenShape(foreign), { appId }, 'well-formed, so it can be looked up');
  t.equal(codec.isMinted(foreign), false);
  t.equal(codec.parseToken(foreign), null);
  const minted = codec.issueToken(appId, expiresAt).token;
  const flipped = minted.slice(0, -3) + (minted.at(-3) === 'A' ? 'B' : 'A') + minted.slice(-2);
  t.equal(codec.isMinted(flipped), false, 'one changed character of the MAC');
  t.not(codec.parseTokenShape(flipped)?.hash, codec.parseTokenShape(minted)?.hash, 'and a different store key');
});

t.test('anything not shaped like a token is refused by both parses', async (t) => {
  const minted = codec.issueToken(appId, expiresAt).token;
  for (const [name, token] of [
    ['empty', ''],
    ['wrong prefix', `v4at_${minted.slice(5)}`],
    ['one character short', minted.slice(0, -1)],
    ['one character long', `${minted}A`],
    ['not base64url', `${minted.slice(0, -1)}*`],
  ] as const) {
    t.equal(codec.parseTokenShape(token), null, name);
    t.equal(codec.parseToken(token), null, name);
  }
});

t.test('a client_id carries its app id, in one spelling only', async (t) => {
  const clientId = clientIdFor(appId);
  t.equal(appIdFromClientId(clientId), appId);
  const body = clientId.slice('cid_'.length);
  // The last of 22 characters holds 4 bits of the 16th byte and 2 spare bits: a different
  // spare-bit spelling decodes to the same bytes, and must not name the app.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(body.at(-1)!);
  const sameBytes = `cid_${body.slice(0, -1)}${alphabet[last ^ 1]}`;
  t.strictSame(Buffer.from(sameBytes.slice(4), 'base64url'), Buffer.from(body, 'base64url'), 'the variant decodes to the same bytes');
  for (const [what, candidate] of [
    ['spare bits set', sameBytes],
    // Node's base64url decoder takes '+' and '/' as well, as '-' and '_'.
    ['the base64 alphabet', `cid_+${body.slice(1)}`],
    ['padded', `${clientId}==`],
    ['a character the decoder skips', `cid_${body.slice(0, 21)}.`],
    ['too short', clientId.slice(0, -1)],
    ['too long', `${clientId}A`],
    ['another prefix', `cix_${body}`],
    ['empty', ''],
  ] as const) t.equal(appIdFromClientId(candidate), null, what);
});
