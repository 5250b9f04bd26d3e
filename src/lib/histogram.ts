/**
 * A labelled Prometheus histogram for the per-request paths, rendered as exposition text next to
 * prom-client's registry (src/plugins/metrics.ts, GET /metrics).
 *
 * Why not prom-client's Histogram here: its label children still validate and hash the label set
 * on every observe (~1 µs), and every request made two observations (its duration, its Redis
 * command). A child of this one is a few numbers, found once and kept by the caller, so an
 * observation is a bucket search and three additions. Everything else stays on prom-client.
 */

export interface HistogramChild {
  observe(seconds: number): void;
}

class Child implements HistogramChild {
  /** Per bucket, not cumulative; the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    private readonly bounds: readonly number[],
    readonly labels: string,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(seconds: number): void {
    const { bounds } = this;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]!) i++;
    this.counts[i]! += 1;
    this.sum += seconds;
    this.count += 1;
  }
}

/** Exposition-format label value: backslash, double quote and newline escaped. */
const escapeLabel = (value: string) => value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));

export class LabelledHistogram {
  private readonly children = new Map<string, Child>();

  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly labelNames: readonly string[],
    private readonly bounds: readonly number[],
  ) {
    if (bounds.some((bound, i) => i > 0 && bound <= bounds[i - 1]!)) throw new Error(`${name}: buckets must increase`);
  }

  /** The child for these label values (in labelNames order); keep it, lookups build a key. */
  child(...values: string[]): HistogramChild {
    const key = values.join('\u0000');
    let child = this.children.get(key);
    if (!child) {
      const labels = this.labelNames.map((label, i) => `${label}="${escapeLabel(values[i] ?? '')}"`).join(',');
      this.children.set(key, (child = new Child(this.bounds, labels)));
    }
    return child;
  }

  /** HELP, TYPE and every child's cumulative buckets, sum and count. */
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${this.name} histogram`];
    for (const child of this.children.values()) {
      const prefix = child.labels ? `${child.labels},` : '';
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += child.counts[i]!;
        lines.push(`${this.name}_bucket{${prefix}le="${bound}"} ${cumulative}`);
      });
      cumulative += child.counts[this.bounds.length]!;
      lines.push(`${this.name}_bucket{${prefix}le="+Inf"} ${cumulative}`);
      const braces = child.labels ? `{${child.labels}}` : '';
      lines.push(`${this.name}_sum${braces} ${child.sum}`, `${this.name}_count${braces} ${child.count}`);
    }
    return `${lines.join('\n')}\n`;
  }
}
