/**
 * npm run docs: regenerates the parts of README.md and .env.example that are derived from code
 * (the configuration table from ConfigSchema, the error table from ERRORS). test/unit/docs.test.ts
 * fails when they are out of date, so the README cannot drift from the code.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigSchema } from '../src/config.js';
import { ERRORS } from '../src/errors.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

type PropertySchema = { description?: string; default?: unknown; enum?: unknown[] };

const properties = ConfigSchema.properties as unknown as Record<string, PropertySchema>;

const cell = (text: string) => text.replaceAll('|', '\\|');

export function configTable(): string {
  const rows = Object.entries(properties).map(([key, schema]) => {
    const fallback = schema.default === undefined ? '' : `\`${String(schema.default)}\``;
    return `| \`${key}\` | ${fallback} | ${cell(schema.description ?? '')} |`;
  });
  return ['| Variable | Default | Meaning |', '|---|---|---|', ...rows].join('\n');
}

export function errorTable(): string {
  const rows = Object.entries(ERRORS).map(([code, spec]) => {
    const guide = spec as { meaning?: string; check?: string };
    return `| \`${code}\` | ${spec.status} | ${cell(spec.message)} | ${cell(guide.meaning ?? '')} | ${cell(guide.check ?? '')} |`;
  });
  return ['| Code | Status | What the user sees | What it usually means | What support should check |', '|---|---|---|---|---|', ...rows].join('\n');
}

export function envExample(): string {
  const lines = ['# Every setting Portcullis reads; all are optional outside production. See README.md.'];
  for (const [key, schema] of Object.entries(properties)) {
    lines.push(`# ${schema.description ?? ''}`);
    lines.push(`# ${key}=${schema.default === undefined ? '' : String(schema.default)}`);
  }
  return `${lines.join('\n')}\n`;
}

export function withSection(document: string, name: string, content: string): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const from = document.indexOf(start);
  const to = document.indexOf(end);
  if (from < 0 || to < from) throw new Error(`README.md lacks the ${name} markers`);
  return `${document.slice(0, from + start.length)}\n${content}\n${document.slice(to)}`;
}

export function renderReadme(readme: string): string {
  return withSection(withSection(readme, 'config-table', configTable()), 'error-table', errorTable());
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const readmePath = `${ROOT}README.md`;
  writeFileSync(readmePath, renderReadme(readFileSync(readmePath, 'utf8')));
  writeFileSync(`${ROOT}.env.example`, envExample());
  process.stdout.write('README.md and .env.example regenerated\n');
}
