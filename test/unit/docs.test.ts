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
