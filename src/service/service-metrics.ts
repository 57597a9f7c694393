import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { BucketHistogram } from "./bucket-histogram.js";
import { VERIFY_CODES, type VerifyCode } from "./keys/model.js";

export interface ServiceMetrics {
  registry: Registry;
  /** One verification: its outcome and how long the service took, in seconds. */
  observeVerify(code: VerifyCode, seconds: number): void;
  /** An export that reached READY or FAILED, and the seconds since it was asked for. */
  observeExport(state: "ready" | "failed", seconds: number): void;
}

/**
 * The service's Prometheus metrics, in a registry of its own (tests start
 * several services in one process). Labels are outcome codes only: never a
 * key id, a name or anything from a token.
 */
export function createServiceMetrics(
  cacheStats: () => { hits: number; misses: number; size: number },
  changeLagMs: () => number,
): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "keyward_service_" });
  // Counted in plain numbers on the hot path and handed to prom-client at scrape time.
  const counts = new Map<VerifyCode, { now: number; reported: number }>(
    VERIFY_CODES.map((code) => [code, { now: 0, reported: 0 }]),
  );
  new Counter({
    name: "keyward_verifications_total",
    help: "VerifyKey answers by outcome code",
    labelNames: ["code"] as const,
    registers: [registry],
    collect() {
      for (const [code, count] of counts) {
        this.inc({ code: code.toLowerCase() }, count.now - count.reported);
        count.reported = count.now;
      }
    },
  });
  const latency = new BucketHistogram(
    "keyward_verify_duration_seconds",
    "Time the service spent on a VerifyKey, from decoded request to response",
    [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
    registry,
  );
  new Gauge({
    name: "keyward_key_cache_lookups",
    help: "Verification cache lookups since start, by result (hit includes known-missing tokens)",
    labelNames: ["result"] as const,
    registers: [registry],
    collect() {
      const stats = cacheStats();
      this.set({ result: "hit" }, stats.hits);
      this.set({ result: "miss" }, stats.misses);
    },
  });
  new Gauge({
    name: "keyward_cache_change_lag_seconds",
    help: "Seconds since this process last read the record of key changes (past KEYWARD_CACHE_MAX_LAG_MS it reports NOT_SERVING)",
    registers: [registry],
    collect() {
      this.set(changeLagMs() / 1000);
    },
  });
  new Gauge({
    name: "keyward_key_cache_keys",
    help: "Keys held in the verification cache",
    registers: [registry],
    collect() {
      this.set(cacheStats().size);
    },
  });
  // From seconds (answered at once) to hours (millions of log rows, retries with backoff).
  const exportDuration = new Histogram({
    name: "keyward_export_duration_seconds",
    help: "Time from an export's creation to READY or FAILED, by the state it reached",
    labelNames: ["state"] as const,
    buckets: [0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200],
    registers: [registry],
  });
  return {
    registry,
    observeExport(state, seconds) {
      exportDuration.observe({ state }, seconds);
    },
    observeVerify(code, seconds) {
      const count = counts.get(code);
      if (count !== undefined) count.now++;
      latency.observe(seconds);
    },
  };
}
