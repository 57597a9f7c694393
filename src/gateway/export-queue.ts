import type { IncomingMessage, ServerResponse } from "node:http";
import { Queue } from "bullmq";
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
import { createExportDownloadHandler } from "./export-download.js";

/** Thrown by enqueue when Redis cannot take the job now; exports.create answers 503. */
export class ExportQueueUnavailableError extends Error {
  constructor() {
    super("the job queue (Redis) is unavailable");
    this.name = "ExportQueueUnavailableError";
  }
}

/** How long enqueueing may take before the request is answered 503. */
const ENQUEUE_TIMEOUT_MS = 2_000;

export interface ExportQueue {
  /** Queues the export's job (job id = export id); throws ExportQueueUnavailableError quickly when Redis is away. */
  enqueue(exportId: string): Promise<void>;
  /** Whether the queue's Redis connection is up now. */
  isUp(): boolean;
  /** Jobs of the export queue by state, or undefined when Redis does not answer within `timeoutMs`. */
  jobCounts(timeoutMs: number): Promise<Record<string, number> | undefined>;
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
    pausedWork: "exports of more than 1,000 rows (which go through the job queue)",
  });
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
    isUp: () => monitor.isUp(),
    async jobCounts(timeoutMs) {
      if (!monitor.isUp()) return undefined;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), timeoutMs);
      });
      try {
        return await Promise.race([
          queue.getJobCounts("waiting", "active", "delayed", "completed", "failed", "prioritized"),
          timeout,
        ]);
      } catch {
        return undefined;
      } finally {
        clearTimeout(timer);
      }
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
  download(req: IncomingMessage, res: ServerResponse): Promise<void>;
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
  options: { logger: Logger; serviceToken: string; service: KeyServiceClient; now?: () => number },
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
