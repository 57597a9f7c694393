import { Queue } from "bullmq";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Config } from "../config.js";
import type { KeyServiceClient } from "../shared/contract/service-client.js";
import { exportsDir } from "../shared/exports/export-files.js";
import { exportLinkSecret, publicBaseUrl } from "../shared/exports/links.js";
import type { Logger } from "../shared/logger.js";
import { closeBullmq } from "../shared/queues/close-bullmq.js";
import {
  EXPORT_JOB,
  EXPORT_QUEUE,
  exportJobOptions,
  producerConnection,
  resolveQueuePrefix,
} from "../shared/queues/queues.js";
import { createRedisMonitor, type RedisMonitor } from "../shared/queues/redis-monitor.js";
import { createExportDownloadHandler, type ExportDownloadDeps } from "./export-download.js";

/** Thrown by enqueue when Redis cannot take the job now; exports.create answers 503. */
export class ExportQueueUnavailableError extends Error {
  constructor() {
    super("the job queue (Redis) is unavailable");
    this.name = "ExportQueueUnavailableError";
  }
}

/** How long after start a health check waits for Redis's first connection. */
const FIRST_CONNECTION_MS = 1_000;

/** How long enqueueing may take before the request is answered 503. */
const ENQUEUE_TIMEOUT_MS = 2_000;

export interface ExportQueue {
  /** Queues the export's job (job id = export id); throws ExportQueueUnavailableError quickly when Redis is away. */
  enqueue(exportId: string): Promise<void>;
  /** Whether Redis answers; just after start, waits up to a second for the first connection. */
  isUp(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * The gateway's producer side of the export queue. It never waits for Redis:
 * with Redis down the answer is an error within ENQUEUE_TIMEOUT_MS, not a
 * hung request, and the connection keeps reconnecting by itself.
 */
export function createExportQueue(options: { redisUrl: string; prefix: string; logger: Logger }): ExportQueue {
  const { logger } = options;
  const monitor: RedisMonitor = createRedisMonitor({
    redisUrl: options.redisUrl,
    logger,
    pausedWork: "console sessions and exports of more than 1,000 rows (which go through the job queue)",
  });
  const createdAt = Date.now();
  const queue = new Queue(EXPORT_QUEUE, { connection: producerConnection(options.redisUrl), prefix: options.prefix });
  // Reconnect errors repeat; the monitor has already said it once.
  queue.on("error", (error: Error) => logger.debug({ reason: error.message }, "export queue connection error"));

  return {
    async enqueue(exportId) {
      // Just after start the first connection may still be opening; after that, down means down.
      if (!monitor.isUp() && !(await monitor.whenUp(monitor.everUp() ? 0 : 1_000)))
        throw new ExportQueueUnavailableError();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ExportQueueUnavailableError()), ENQUEUE_TIMEOUT_MS);
      });
      try {
        await Promise.race([queue.add(EXPORT_JOB, { exportId }, exportJobOptions(exportId)), timeout]);
      } catch (error) {
        if (error instanceof ExportQueueUnavailableError) throw error;
        logger.warn({ exportId, reason: (error as Error).message }, "could not queue the export");
        throw new ExportQueueUnavailableError();
      } finally {
        clearTimeout(timer);
      }
    },
    async isUp() {
      // Only the first second waits: later, down means down (and no waiter is left behind per call).
      const opening = FIRST_CONNECTION_MS - (Date.now() - createdAt);
      return monitor.isUp() || (!monitor.everUp() && opening > 0 && (await monitor.whenUp(opening)));
    },
    async close() {
      await closeBullmq(queue, { logger, name: "export queue", limitMs: 5_000, isWorker: false });
      await monitor.close();
    },
  };
}

/** What exports.create and the download route need from the gateway they run in. */
export interface GatewayExports {
  queue: ExportQueue;
  /** <data dir>/exports. */
  dir: string;
  linkSecret: Buffer;
  /** Base of absolute download links. */
  publicUrl: string;
  /** The handler of GET /exports/<id>/download. */
  download(request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply): Promise<FastifyReply | undefined>;
  close(): Promise<void>;
}

// Keyed by the gateway's service client, which every procedure's context
// carries: each gateway in a process (tests start several) finds its own.
const byService = new WeakMap<KeyServiceClient, GatewayExports>();

/**
 * Creates the gateway's export parts (queue producer from REDIS_URL, link
 * secret, download handler) and binds them to its service client. Call once
 * per gateway, at start; close() with the gateway.
 */
export function startGatewayExports(
  config: Config,
  options: {
    logger: Logger;
    serviceToken: string;
    service: KeyServiceClient;
    now?: () => number;
    /** The console's cookie sign-in, so that a signed-in browser can download. */
    webSession?: ExportDownloadDeps["webSession"];
  },
): GatewayExports {
  const dir = exportsDir(config.dataDir);
  const linkSecret = exportLinkSecret(config, options.serviceToken);
  const queue = createExportQueue({
    redisUrl: config.REDIS_URL,
    prefix: resolveQueuePrefix(config),
    logger: options.logger,
  });
  const exportsPart: GatewayExports = {
    queue,
    dir,
    linkSecret,
    publicUrl: publicBaseUrl(config),
    download: createExportDownloadHandler({
      service: options.service,
      logger: options.logger,
      dir,
      linkSecret,
      now: options.now,
      webSession: options.webSession,
    }),
    async close() {
      byService.delete(options.service);
      await queue.close();
    },
  };
  byService.set(options.service, exportsPart);
  return exportsPart;
}

/** The export parts of the gateway that owns this service client; undefined when it started none. */
export function gatewayExportsFor(service: KeyServiceClient): GatewayExports | undefined {
  return byService.get(service);
}
