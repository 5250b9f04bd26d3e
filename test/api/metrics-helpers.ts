/** Reading GET /metrics in tests: a small parser of the Prometheus text format and a scrape helper. */
import type { FastifyInstance } from 'fastify';
import type { Test } from 'tap';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (comments skipped). */
export function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`unparseable line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

export class Scrape {
  constructor(readonly samples: Sample[]) {}
  /** Every sample of this name whose labels include `labels`. */
  all(name: string, labels: Record<string, string> = {}): Sample[] {
    return this.samples.filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
  }
  /** The one sample with exactly these labels, or 0 when the series does not exist yet. */
  value(name: string, labels: Record<string, string> = {}): number {
    const found = this.samples.filter(
      (sample) => sample.name === name && Object.keys(sample.labels).length === Object.keys(labels).length && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
    );
    if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} series`);
    return found[0]?.value ?? 0;
  }
}

export async function scrape(t: Test, app: FastifyInstance, headers: Record<string, string> = {}): Promise<Scrape> {
  const response = await app.inject({ method: 'GET', url: '/metrics', headers });
  t.equal(response.statusCode, 200, `scrape: ${response.statusCode === 200 ? 'ok' : response.body}`);
  t.match(response.headers['content-type'], /^text\/plain; version=0\.0\.4/, 'Prometheus text format');
  return new Scrape(parse(response.body));
}

export const requests = (route: string, method: string, status: number) => ({ method, route, status_code: String(status) });
export const DURATION_COUNT = 'portcullis_http_request_duration_seconds_count';
