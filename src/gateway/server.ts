import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ConnectError } from "@connectrpc/connect";
import { createHTTPHandler } from "@trpc/server/adapters/standalone";
import type { Config } from "../config.js";
import { createServiceClient } from "../shared/contract/service-client.js";
import type { Logger } from "../shared/logger.js";
import { isAddressInUse, portInUseMessage } from "../shared/port-in-use.js";
import { createHTTPContextFactory } from "./context.js";
import { createCorsPolicy } from "./cors.js";
import { isExportDownloadPath } from "./export-download.js";
import { startGatewayExports } from "./export-queue.js";
import { createGatewayMetrics, routeLabel } from "./gateway-metrics.js";
import { sendError, sendJson, setSecurityHeaders } from "./http-responses.js";
import { appRouter } from "./routers/_app.js";

/** Request bodies are small JSON inputs; claims (4 KiB) are the largest field. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** How long close() waits for in-flight requests before cutting their connections. */
const DRAIN_LIMIT_MS = 10_000;
const MAX_BATCH_SIZE = 50;

export interface GatewayOptions {
  logger: Logger;
  /** The credential the gateway presents to the key service. */
  serviceToken: string;
  /** Defaults to config.KEYWARD_SERVICE_URL; `keyward start` passes the in-process service's address. */
  serviceUrl?: string;
  /** Deadline of each service call; default 5 s. */
  serviceTimeoutMs?: number;
}

export interface RunningGateway {
  port: number;
  /** Stops accepting, drains in-flight requests, then closes the service client's connections. */
  close(): Promise<void>;
}

/**
 * Starts the admin gateway on KEYWARD_HOST:KEYWARD_GATEWAY_PORT (0 picks a
 * free port): tRPC at /trpc, GET /healthz, a JSON 404 for anything else.
 */
export async function startGateway(config: Config, options: GatewayOptions): Promise<RunningGateway> {
  const { logger } = options;
  const serviceUrl = options.serviceUrl ?? config.KEYWARD_SERVICE_URL;
  const service = createServiceClient({
    baseUrl: serviceUrl,
    serviceToken: options.serviceToken,
    timeoutMs: options.serviceTimeoutMs,
  });
  const exportsPart = startGatewayExports(config, {
    logger,
    serviceToken: options.serviceToken,
    service: service.client,
  });
  const trpc = createHTTPHandler({
    router: appRouter,
    basePath: "/trpc/",
    createContext: createHTTPContextFactory({ service: service.client, logger }),
    allowBatching: true,
    maxBatchSize: MAX_BATCH_SIZE,
    maxBodySize: MAX_BODY_BYTES,
    onError: ({ error, path }) => {
      // Client errors are answers, not incidents; mapped service failures were logged in errors.ts.
      if (error.code === "INTERNAL_SERVER_ERROR" && !isLogged(error))
        logger.error({ err: error, path }, "procedure failed");
    },
  });

  const metrics = createGatewayMetrics((timeoutMs) => exportsPart.queue.jobCounts(timeoutMs));
  const cors = createCorsPolicy(config.KEYWARD_CORS_ORIGINS);
  let draining = false;
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    setSecurityHeaders(res);
    // While draining, a keep-alive connection is closed after its answer rather than left idle.
    if (draining) res.setHeader("connection", "close");
    const url = req.url ?? "/";
    const path = url.split("?", 1)[0] as string;
    res.once("finish", () => {
      const ms = performance.now() - started;
      // The path only: query strings carry inputs, headers carry tokens.
      logger[path === "/healthz" ? "debug" : "info"](
        { method: req.method, path, status: res.statusCode, ms: Math.round(ms) },
        "request",
      );
      metrics.observeRequest(routeLabel(path), res.statusCode, ms / 1000);
      if (draining) setImmediate(() => server.closeIdleConnections());
    });
    if (cors.handle(req, res)) return;

    if (path === "/metrics" && req.method === "GET") {
      metrics.registry.metrics().then(
        (body) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(body),
        (error: unknown) => {
          logger.error({ err: error }, "metrics collection failed");
          sendError(res, 500, "INTERNAL_SERVER_ERROR", -32603, "metrics collection failed");
        },
      );
      return;
    }

    if (path === "/trpc" || path.startsWith("/trpc/")) {
      const length = Number(req.headers["content-length"] ?? 0);
      if (length > MAX_BODY_BYTES) {
        res.setHeader("connection", "close");
        sendError(res, 413, "PAYLOAD_TOO_LARGE", -32013, `the request body exceeds ${MAX_BODY_BYTES} bytes`);
        return;
      }
      if (req.method === "POST") acceptPlainCurlBody(req);
      trpc(req, res);
      return;
    }
    if (isExportDownloadPath(path)) {
      void exportsPart.download(req, res);
      return;
    }
    if (path === "/healthz") {
      if (req.method !== "GET" && req.method !== "HEAD") {
        sendError(res, 405, "METHOD_NOT_SUPPORTED", -32005, "use GET /healthz");
        return;
      }
      // 200 while the gateway itself serves: a load balancer must not pull a gateway whose Redis
      // is away (only large exports need it). Each dependency says its own state.
      void dependencyStates(serviceUrl, exportsPart.queue).then((states) =>
        sendJson(res, 200, { status: "ok", ...states }),
      );
      return;
    }
    sendError(res, 404, "NOT_FOUND", -32004, `no such path: ${path}`);
  };

  const server = createServer(handle);
  let port: number;
  try {
    port = await listen(server, config.KEYWARD_GATEWAY_PORT, config.KEYWARD_HOST);
  } catch (error) {
    // Not listening: release what was opened for it, or the process stays alive.
    await exportsPart.close();
    service.close();
    throw error;
  }
  // Links point at the port really bound, also when the OS picked it (port 0).
  if (config.KEYWARD_PUBLIC_URL === undefined) {
    const host = config.KEYWARD_HOST === "0.0.0.0" || config.KEYWARD_HOST === "::" ? "127.0.0.1" : config.KEYWARD_HOST;
    exportsPart.publicUrl = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  }
  logger.info({ host: config.KEYWARD_HOST, port, serviceUrl }, "gateway listening");

  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= (async () => {
        draining = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const force = setTimeout(() => server.closeAllConnections(), DRAIN_LIMIT_MS);
        force.unref();
        await closed;
        clearTimeout(force);
        await exportsPart.close();
        service.close();
        logger.info("gateway closed");
      })();
      return closing;
    },
  };
}

/**
 * `curl -d '{"name":"x"}'` sends application/x-www-form-urlencoded; fetch()
 * with a string body sends text/plain; some clients send none. tRPC would
 * answer 415; the body is JSON in each case, so it is read as JSON.
 */
function acceptPlainCurlBody(req: IncomingMessage): void {
  const type = req.headers["content-type"]?.split(";", 1)[0]?.trim().toLowerCase();
  if (type === undefined || type === "" || type === "application/x-www-form-urlencoded" || type === "text/plain") {
    req.headers["content-type"] = "application/json";
  }
}

function isLogged(error: { cause?: unknown }): boolean {
  // errors.ts logs every service failure it maps; the ConnectError stays as the cause.
  return error.cause instanceof ConnectError;
}

/** How long /healthz waits for the service's own /healthz. */
const SERVICE_HEALTH_TIMEOUT_MS = 1_000;

async function dependencyStates(
  serviceUrl: string,
  queue: { isUp(): boolean },
): Promise<{ service: "ok" | "unavailable"; queue: "ok" | "unavailable" }> {
  let service: "ok" | "unavailable" = "unavailable";
  try {
    const res = await fetch(`${serviceUrl}/healthz`, { signal: AbortSignal.timeout(SERVICE_HEALTH_TIMEOUT_MS) });
    if (res.ok) service = "ok";
    await res.body?.cancel();
  } catch {
    // unreachable or too slow: unavailable
  }
  return { service, queue: queue.isUp() ? "ok" : "unavailable" };
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        isAddressInUse(error) ? new Error(portInUseMessage("the gateway", host, port, "KEYWARD_GATEWAY_PORT")) : error,
      );
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
