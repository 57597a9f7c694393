import { collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { EXPORT_QUEUE } from "../shared/queues/queues.js";

export interface GatewayMetrics {
  registry: Registry;
  /** One HTTP answer: the route (a fixed name, never a raw path or query), its status and duration. */
  observeRequest(route: string, status: number, seconds: number): void;
}

/** How long a scrape waits for Redis before it leaves the queue gauges out. */
const QUEUE_SCRAPE_TIMEOUT_MS = 500;

/**
 * The gateway's Prometheus metrics, in a registry of its own. `jobCounts`
 * reads the export queue's depth at scrape time; when Redis does not answer
 * the gauge is left empty rather than the scrape hung.
 */
export function createGatewayMetrics(
  jobCounts?: (timeoutMs: number) => Promise<Record<string, number> | undefined>,
): GatewayMetrics {
  const registry = new Registry();
  if (jobCounts !== undefined) {
    new Gauge({
      name: "keyward_queue_jobs",
      help: "Jobs in a BullMQ queue by state, read at scrape time (absent while Redis is unreachable)",
      labelNames: ["queue", "state"] as const,
      registers: [registry],
      async collect() {
        this.reset();
        const counts = await jobCounts(QUEUE_SCRAPE_TIMEOUT_MS);
        for (const [state, count] of Object.entries(counts ?? {})) this.set({ queue: EXPORT_QUEUE, state }, count);
      },
    });
  }
  collectDefaultMetrics({ register: registry, prefix: "keyward_gateway_" });
  const requests = new Histogram({
    name: "keyward_gateway_request_duration_seconds",
    help: "Gateway HTTP requests by route and status",
    labelNames: ["route", "status"] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  return {
    registry,
    observeRequest(route, status, seconds) {
      requests.observe({ route, status: String(status) }, seconds);
    },
  };
}

/** A bounded label for a path: tRPC procedure names, or the kind of route. */
export function routeLabel(path: string): string {
  if (path.startsWith("/trpc/")) {
    const names = path.slice("/trpc/".length);
    // A batch joins names with commas; keep the label set small and fixed.
    return /^[a-zA-Z.]{1,64}$/.test(names) ? `trpc:${names}` : "trpc:batch";
  }
  if (path.startsWith("/exports/")) return "export-download";
  if (path === "/healthz" || path === "/metrics") return path.slice(1);
  return "other";
}
