import { ConnectError } from "@connectrpc/connect";
import { type FastifyTRPCPluginOptions, fastifyTRPCPlugin } from "@trpc/server/adapters/fastify";
import Fastify, { type FastifyInstance } from "fastify";
import { type Config, parseDuration } from "../config.js";
import { createServiceClient, type ServiceClientHandle } from "../shared/contract/service-client.js";
import type { Logger } from "../shared/logger.js";
import { isAddressInUse, portInUseMessage } from "../shared/port-in-use.js";
import { resolveQueuePrefix } from "../shared/queues/queues.js";
import { createSessionStore } from "./console-session.js";
import { createWebSessions, registerConsole, registerSessionPlumbing } from "./console-web.js";
import { createHTTPContextFactory } from "./context.js";
import { registerCors } from "./cors.js";
import { errorAnswer } from "./errors.js";
import { EXPORT_DOWNLOAD_ROUTE } from "./export-download.js";
import { type GatewayExports, startGatewayExports } from "./export-queue.js";
import { createGatewayMetrics, routeLabel } from "./gateway-metrics.js";
import { createGatewayHealth } from "./health.js";
import { frameworkErrorAnswer, pathOf, registerErrorAnswers, registerSecurityHeaders } from "./http-responses.js";
import { parseLeakKeys, registerLeakReports } from "./leak-reports.js";
import { createQueueDepth, type QueueDepth } from "./queue-depth.js";
import { type AppRouter, appRouter } from "./routers/_app.js";

/** Request bodies are small JSON inputs; claims (4 KiB) are the largest field. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** How long close() waits for in-flight requests before cutting their connections. */
const DRAIN_LIMIT_MS = 10_000;
const MAX_BATCH_SIZE = 50;
/** A batch's procedure names are one route parameter: 50 names of up to 64 characters, comma-joined. */
const MAX_PARAM_LENGTH = MAX_BATCH_SIZE * 65;

export interface GatewayOptions {
  logger: Logger;
  /** The credential the gateway presents to the key service. */
  serviceToken: string;
  /** Defaults to config.KEYWARD_SERVICE_URL; `keyward start` passes the in-process service's address. */
  serviceUrl?: string;
  /** Deadline of each service call; default 5 s. */
  serviceTimeoutMs?: number;
  /** The built web console; default dist/console. */
  consoleDir?: string;
}

export interface RunningGateway {
  port: number;
  /** Stops accepting, drains in-flight requests, then closes the service client's connections. */
  close(): Promise<void>;
}

/** A built gateway, not yet listening: `app.inject()` reaches it without a port. */
export interface BuiltGateway {
  app: FastifyInstance;
  exports: GatewayExports;
  /** Releases what build() opened besides the server: the service client, the queue and session connections. */
  release(): Promise<void>;
}

/**
 * Builds the admin gateway on Fastify: tRPC at /trpc (tRPC's Fastify
 * adapter), GET /healthz, GET /metrics, the export downloads, the web
 * console at / (console-web.ts) with its cookie sign-in, a JSON 404 for
 * anything else. Security headers on every answer, CORS only for
 * KEYWARD_CORS_ORIGINS, Fastify's body limit.
 */
export async function buildGateway(config: Config, options: GatewayOptions): Promise<BuiltGateway> {
  const { logger } = options;
  // A bad key setting stops the start, naming the variable.
  const leakKeys = parseLeakKeys(config.KEYWARD_LEAK_PUBLIC_KEYS);
  const serviceUrl = options.serviceUrl ?? config.KEYWARD_SERVICE_URL;
  const service: ServiceClientHandle = createServiceClient({
    baseUrl: serviceUrl,
    serviceToken: options.serviceToken,
    timeoutMs: options.serviceTimeoutMs,
  });
  const sessions = createSessionStore({
    ttlMs: parseDuration(config.KEYWARD_SESSION_TTL),
    redisUrl: config.REDIS_URL,
    prefix: resolveQueuePrefix(config),
    logger,
  });
  const webSessionOf = createWebSessions(config, sessions);
  const exportsPart = startGatewayExports(config, {
    logger,
    serviceToken: options.serviceToken,
    service: service.client,
    webSession: webSessionOf,
  });
  const queueDepth: QueueDepth = createQueueDepth({
    redisUrl: config.REDIS_URL,
    prefix: resolveQueuePrefix(config),
    logger,
  });
  const release = async () => {
    await Promise.all([exportsPart.close(), queueDepth.close(), sessions.close()]);
    service.close();
  };
  const metrics = createGatewayMetrics(queueDepth);
  const health = createGatewayHealth({ serviceUrl, queueUp: () => exportsPart.queue.isUp() });

  const app = Fastify({
    // Our own request log line (below) has the path only: Fastify's would log the query, which holds inputs.
    logger: false,
    bodyLimit: MAX_BODY_BYTES,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // While closing, requests still arriving on open connections are served (with Connection: close), not refused.
    return503OnClosing: false,
    forceCloseConnections: "idle",
    frameworkErrors: frameworkErrorAnswer,
    // Client addresses (sign-in limits) and the protocol (Secure cookies) from a trusted proxy's headers.
    trustProxy: config.KEYWARD_TRUST_PROXY,
  });

  try {
    await registerSecurityHeaders(app);
    await registerCors(app, config.KEYWARD_CORS_ORIGINS);
    await registerSessionPlumbing(app, config);
    const consolePage = await registerConsole(app, { logger, dir: options.consoleDir });
    registerErrorAnswers(app, logger, MAX_BODY_BYTES, consolePage);
    acceptPlainCurlBodies(app);

    app.addHook("onResponse", async (request, reply) => {
      const path = pathOf(request);
      const ms = reply.elapsedTime;
      // The path only: query strings carry inputs, headers carry tokens.
      logger[path === "/healthz" ? "debug" : "info"](
        { method: request.method, path, status: reply.statusCode, ms: Math.round(ms) },
        "request",
      );
      metrics.observeRequest(routeLabel(path), reply.statusCode, ms / 1000);
    });

    const createContext = createHTTPContextFactory({ service: service.client, logger });
    await app.register(fastifyTRPCPlugin, {
      prefix: "/trpc",
      trpcOptions: {
        router: appRouter,
        createContext: ({ req, res }) => createContext({ req: req.raw, web: webSessionOf(req, res) }),
        allowBatching: true,
        maxBatchSize: MAX_BATCH_SIZE,
        onError: ({ error, path }) => {
          // Client errors are answers, not incidents; mapped service failures were logged in errors.ts.
          if (error.code === "INTERNAL_SERVER_ERROR" && !isLogged(error))
            logger.error({ err: error, path }, "procedure failed");
        },
      } satisfies FastifyTRPCPluginOptions<AppRouter>["trpcOptions"],
    });

    app.get("/metrics", async (_request, reply) => {
      const body = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(body);
    });
    app.all("/healthz", async (request, reply) => {
      if (request.method !== "GET" && request.method !== "HEAD") {
        return reply.code(405).send(errorAnswer(405, "METHOD_NOT_SUPPORTED", "use GET /healthz"));
      }
      return reply.send(await health());
    });
    app.all(EXPORT_DOWNLOAD_ROUTE, exportsPart.download);
    await registerLeakReports(app, {
      service: service.client,
      logger,
      keys: leakKeys,
      action: config.KEYWARD_LEAK_ACTION,
      perMinute: config.KEYWARD_LEAK_RATE_LIMIT,
    });
    await app.ready();
  } catch (error) {
    await release();
    throw error;
  }
  return { app, exports: exportsPart, release };
}

/**
 * Starts the gateway on KEYWARD_HOST:KEYWARD_GATEWAY_PORT (0 picks a free
 * port) and returns once it listens.
 */
export async function startGateway(config: Config, options: GatewayOptions): Promise<RunningGateway> {
  const { logger } = options;
  const { app, exports: exportsPart, release } = await buildGateway(config, options);
  let port: number;
  try {
    await app.listen({ port: config.KEYWARD_GATEWAY_PORT, host: config.KEYWARD_HOST });
    port = boundPort(app);
  } catch (error) {
    // Not listening: release what was opened for it, or the process stays alive.
    await app.close();
    await release();
    throw isAddressInUse(error)
      ? new Error(
          portInUseMessage("the gateway", config.KEYWARD_HOST, config.KEYWARD_GATEWAY_PORT, "KEYWARD_GATEWAY_PORT"),
        )
      : error;
  }
  // Links point at the port really bound, also when the OS picked it (port 0).
  if (config.KEYWARD_PUBLIC_URL === undefined) {
    const host = config.KEYWARD_HOST === "0.0.0.0" || config.KEYWARD_HOST === "::" ? "127.0.0.1" : config.KEYWARD_HOST;
    exportsPart.publicUrl = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  }
  logger.info(
    { host: config.KEYWARD_HOST, port, serviceUrl: options.serviceUrl ?? config.KEYWARD_SERVICE_URL },
    "gateway listening",
  );

  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= (async () => {
        // Fastify stops accepting and closes idle keep-alive connections; a
        // connection whose request was in flight turns idle once answered and
        // is closed then; what is still open at the limit is cut.
        const server = app.server;
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        const force = setTimeout(() => server.closeAllConnections(), DRAIN_LIMIT_MS);
        force.unref();
        try {
          await app.close();
        } finally {
          clearInterval(sweep);
          clearTimeout(force);
        }
        await release();
        logger.info("gateway closed");
      })();
      return closing;
    },
  };
}

function boundPort(app: FastifyInstance): number {
  const address = app.server.address();
  return typeof address === "object" && address !== null ? address.port : 0;
}

/**
 * `curl -d '{"name":"x"}'` sends application/x-www-form-urlencoded; fetch()
 * with a string body sends text/plain; some clients send none. tRPC would
 * answer 415; the body is JSON in each case, so it is read as JSON. Any
 * other type is read as text and left for tRPC to accept or refuse (415).
 * tRPC's plugin adds its own parsers for application/json and multipart.
 */
function acceptPlainCurlBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (request, body, done) => {
    const type = request.headers["content-type"]?.split(";", 1)[0]?.trim().toLowerCase();
    if (type === undefined || type === "" || type === "application/x-www-form-urlencoded" || type === "text/plain") {
      // tRPC reads the type from the raw request's headers.
      request.raw.headers["content-type"] = "application/json";
    }
    done(null, body);
  });
}

function isLogged(error: { cause?: unknown }): boolean {
  // errors.ts logs every service failure it maps; the ConnectError stays as the cause.
  return error.cause instanceof ConnectError;
}
