/**
 * A latency histogram for the hot paths, exported through a prom-client Registry. prom-client's own Histogram
 * builds a label hash and validates the labels on every observe (~440 ns, even on a `labels()` child): twice per
 * basket GET (request and store read) that is ~4 % of the request. Here a caller holds the cell of its label set,
 * resolved once, and an observation is a bucket search and two additions (~6 ns). The cells are turned into
 * prom-client's metric shape only at scrape time, so its registries print and aggregate them like any histogram
 * (`_bucket` with `le`, `_sum`, `_count`; summed over cluster workers).
 */
import type { Metric, Registry } from 'prom-client';

/** Seconds; from a fast cached read (~0.1 ms) to a request near the store deadline. */
export const LATENCY_BUCKETS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The counts of one label set. */
export class LatencyCell {
  /** Per bucket (not cumulative); the last one is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(seconds: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += seconds;
    this.count++;
  }
}

interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

export class LatencyHistogram<L extends string> {
  readonly type = 'histogram';
  /** Cluster workers' histograms add up. */
  readonly aggregator = 'sum';
  readonly #cells = new Map<string, LatencyCell>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
    private readonly bounds: readonly number[] = LATENCY_BUCKETS,
  ) {}

  /** The cell of a label set, made on first use: callers keep it (or a map of them) so that observing is cheap. */
  cell(labels: Readonly<Record<L, string>>): LatencyCell {
    const key = this.labelNames.map((n) => labels[n]).join('\u0000');
    let cell = this.#cells.get(key);
    if (cell === undefined) {
      const own: Record<string, string> = {};
      for (const n of this.labelNames) own[n] = labels[n];
      cell = new LatencyCell(own, this.bounds);
      this.#cells.set(key, cell);
    }
    return cell;
  }

  /** prom-client's metric shape (what Histogram.get() gives): read by Registry.metrics() and getMetricsAsJSON(). */
  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Sample[] }> {
    const values: Sample[] = [];
    const bucket = `${this.name}_bucket`;
    for (const cell of this.#cells.values()) {
      // cells are made ahead of use (one per store method): a label set shows once it has an observation
      if (cell.count === 0) continue;
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += cell.counts[i]!;
        values.push({ metricName: bucket, labels: { ...cell.labels, le: this.bounds[i]! }, value: cumulative });
      }
      values.push({ metricName: bucket, labels: { ...cell.labels, le: '+Inf' }, value: cell.count });
      values.push({ metricName: `${this.name}_sum`, labels: { ...cell.labels }, value: cell.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...cell.labels }, value: cell.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Adds it to a registry: prom-client reads any object with name, type, aggregator and get(). */
  registerIn(registry: Registry): this {
    registry.registerMetric(this as unknown as Metric);
    return this;
  }
}
