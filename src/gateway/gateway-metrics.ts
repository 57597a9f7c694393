import { collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { QueueDepth } from "./queue-depth.js";

export interface GatewayMetrics {
  registry: Registry;
  /** One HTTP answer: the route (a fixed name, never a raw path or query), its status and duration. */
  observeRequest(route: string, status: number, seconds: number): void;
}

/**
 * The gateway's Prometheus metrics, in a registry of its own. With a queue
 * depth source, `keyward_queue_jobs{queue,state}` is read at scrape time; a
 * scrape that finds Redis away has no such samples (rather than stale ones)
 * and `keyward_queue_up` 0.
 */
export function createGatewayMetrics(queueDepth?: QueueDepth): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "keyward_gateway_" });
  const requests = new Histogram({
    name: "keyward_gateway_request_duration_seconds",
    help: "Gateway HTTP requests by route and status",
    labelNames: ["route", "status"] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  if (queueDepth !== undefined) {
    // One read per scrape: the jobs gauge (registered, so collected, first) starts it, the up gauge awaits it.
    let scrape: ReturnType<QueueDepth["counts"]> = Promise.resolve(undefined);
    new Gauge({
      name: "keyward_queue_jobs",
      help: "Jobs in each BullMQ queue by state, read at scrape time",
      labelNames: ["queue", "state"] as const,
      registers: [registry],
      async collect() {
        scrape = queueDepth.counts();
        const counts = await scrape;
        this.reset();
        for (const { queue, state, jobs } of counts ?? []) this.set({ queue, state }, jobs);
      },
    });
    new Gauge({
      name: "keyward_queue_up",
      help: "1 when the job queues' Redis answered this scrape in time, else 0",
      registers: [registry],
      async collect() {
        this.set((await scrape) === undefined ? 0 : 1);
      },
    });
  }
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
