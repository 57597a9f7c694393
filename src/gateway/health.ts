import { request } from "node:http";

/** How long /healthz waits for the key service's own /healthz. */
const SERVICE_PROBE_TIMEOUT_MS = 1_000;

export type DependencyState = "ok" | "unavailable";

/**
 * GET /healthz. `status` is "ok" whenever the gateway answers at all: it is
 * what a load balancer or an orchestrator acts on, and restarting the gateway
 * or taking it out of rotation cures neither a service outage nor a Redis
 * one (and would also stop the calls that still work: with Redis down every
 * key procedure but a large export still answers). The dependencies' states
 * are for people and alerts.
 */
export interface GatewayHealth {
  status: "ok";
  /** The key service's Connect port answered its /healthz, with its store up. */
  service: DependencyState;
  /** The job queue's Redis (exports over 1,000 rows). */
  queue: DependencyState;
}

export function createGatewayHealth(deps: { serviceUrl: string; queueUp: () => Promise<boolean> }) {
  return async function health(): Promise<GatewayHealth> {
    const [service, queue] = await Promise.all([probeService(deps.serviceUrl), deps.queueUp()]);
    return { status: "ok", service, queue: queue ? "ok" : "unavailable" };
  };
}

/** One short-lived connection (no keep-alive left behind), answered or not within the timeout. */
function probeService(serviceUrl: string): Promise<DependencyState> {
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL("/healthz", serviceUrl);
    } catch {
      resolve("unavailable");
      return;
    }
    const req = request(url, { method: "GET", agent: false, timeout: SERVICE_PROBE_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", () => resolve("unavailable"));
      res.on("end", () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { status?: unknown; store?: unknown };
          resolve(res.statusCode === 200 && body.status === "ok" && body.store === "ok" ? "ok" : "unavailable");
        } catch {
          resolve("unavailable");
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve("unavailable"));
    req.end();
  });
}
