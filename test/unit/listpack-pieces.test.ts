import { randomInt } from 'node:crypto';
import t from 'tap';
import { PIECE_BYTES, toPieces } from '../../src/redis/listpack-pieces.js';

const CHARS = ['a', 'Z', ' ', 'é', 'Þ', '€', '李', '😀', '🇪🇺'];
const randomText = (units: number) => {
  let out = '';
  while (out.length < units) out += CHARS[randomInt(CHARS.length)];
  return out;
};

t.test('a value that fits is one field, as records without pieces were', async (t) => {
  t.strictSame(toPieces('ua', ''), [['ua', '']]);
  t.strictSame(toPieces('ua', 'x'.repeat(PIECE_BYTES)), [['ua', 'x'.repeat(PIECE_BYTES)]]);
  t.strictSame(toPieces('nm', '€'.repeat(21)), [['nm', '€'.repeat(21)]], '63 bytes');
});

t.test('longer values: name, name1, ...; each piece at most 64 bytes, whole characters, nothing lost', async (t) => {
  t.strictSame(toPieces('ua', 'x'.repeat(PIECE_BYTES + 1)), [['ua', 'x'.repeat(PIECE_BYTES)], ['ua1', 'x']]);
  t.strictSame(toPieces('ua', `${'x'.repeat(63)}€`), [['ua', 'x'.repeat(63)], ['ua1', '€']], 'the cut moves back before a character');
  for (let run = 0; run < 200; run++) {
    const value = randomText(randomInt(1, 400));
    const pieces = toPieces('ua', value);
    t.strictSame(pieces.map(([name]) => name), pieces.map((_, i) => (i === 0 ? 'ua' : `ua${i}`)));
    const bytes = pieces.map(([, piece]) => Buffer.byteLength(piece));
    if (bytes.some((n, i) => n > PIECE_BYTES || (i < bytes.length - 1 && n <= PIECE_BYTES - 4))) {
      t.fail(`pieces of ${bytes.join(', ')} bytes for ${JSON.stringify(value)}`);
    }
    if (pieces.map(([, piece]) => piece).join('') !== value) t.fail(`lost text in ${JSON.stringify(value)}`);
  }
  t.pass('200 random values of up to 400 units cut correctly');
});
