import t from 'tap';
import { readFileSync } from 'node:fs';
import { envExample, renderReadme } from '../../scripts/docs.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

t.test('README tables match ConfigSchema and the error catalogue (run npm run docs)', async (t) => {
  const readme = read('README.md');
  t.equal(readme, renderReadme(readme));
});

t.test('.env.example lists every setting (run npm run docs)', async (t) => {
  t.equal(read('.env.example'), envExample());
});

t.test('every 401, 403 and 429 code explains itself to support', async (t) => {
  const { ERRORS } = await import('../../src/errors.js');
  for (const [code, spec] of Object.entries(ERRORS) as [string, { status: number; meaning?: string; check?: string }][]) {
    if (![401, 403, 429].includes(spec.status)) continue;
    t.ok(spec.meaning && spec.meaning.length > 10, `${code}: what it usually means`);
    t.ok(spec.check && spec.check.length > 10, `${code}: what support should check`);
  }
});
