import { Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { BucketHistogram } from "../../src/service/bucket-histogram.js";

const BOUNDS = [0.001, 0.01, 0.1, 1];

describe("BucketHistogram", () => {
  it("prints what prom-client's Histogram prints for the same observations", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const fast = new BucketHistogram("t_seconds", "help text", BOUNDS, ours);
    const reference = new Histogram({ name: "t_seconds", help: "help text", buckets: BOUNDS, registers: [theirs] });
    for (const value of [0, 0.0005, 0.001, 0.002, 0.05, 0.5, 1, 7, 0.01, 0.0099]) {
      fast.observe(value);
      reference.observe(value);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain('t_seconds_bucket{le="0.01"} 6');
  });

  it("starts from zero after a registry reset and ignores values that are not finite", async () => {
    const registry = new Registry();
    const fast = new BucketHistogram("r_seconds", "help", BOUNDS, registry);
    fast.observe(0.5);
    registry.resetMetrics();
    fast.observe(Number.NaN);
    fast.observe(0.05);
    const text = await registry.metrics();
    expect(text).toContain("r_seconds_count 1");
    expect(text).toContain('r_seconds_bucket{le="0.01"} 0');
    expect(text).toContain('r_seconds_bucket{le="0.1"} 1');
  });
});
