import type { Registry } from "prom-client";

/**
 * A Prometheus histogram for the VerifyKey path: observe() is a few array
 * writes. prom-client's Histogram hashes a label object and walks a map on
 * every observation (~1 µs, ~2% of a cached verification); this one keeps
 * plain counts and builds the exposition only when /metrics is scraped, in
 * the shape prom-client's own Histogram.get() returns, so the registry prints
 * it like any other. No labels: the outcome code is a counter of its own.
 */
export class BucketHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly upperBounds: readonly number[],
    registry: Registry,
  ) {
    this.#counts = new Float64Array(upperBounds.length);
    registry.registerMetric(this as never);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.upperBounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        this.#counts[i] = (this.#counts[i] as number) + 1;
        break;
      }
    }
    this.#sum += value;
    this.#count++;
  }

  reset(): void {
    this.#counts.fill(0);
    this.#sum = 0;
    this.#count = 0;
  }

  async get() {
    const bucket = `${this.name}_bucket`;
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    let cumulative = 0;
    this.upperBounds.forEach((le, i) => {
      cumulative += this.#counts[i] as number;
      values.push({ labels: { le }, value: cumulative, metricName: bucket });
    });
    values.push({ labels: { le: "+Inf" }, value: this.#count, metricName: bucket });
    values.push({ labels: {}, value: this.#sum, metricName: `${this.name}_sum` });
    values.push({ labels: {}, value: this.#count, metricName: `${this.name}_count` });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}
