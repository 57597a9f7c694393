import { join } from "node:path";
import { Queue, Worker } from "bullmq";
import type { Transporter } from "nodemailer";
import { type Config, parseDuration } from "../config.js";
import { createServiceClient } from "../shared/contract/service-client.js";
import { exportsDir, removeStaleTempFiles } from "../shared/exports/export-files.js";
import { exportLinkSecret, publicBaseUrl } from "../shared/exports/links.js";
import type { Logger } from "../shared/logger.js";
import { closeBullmq } from "../shared/queues/close-bullmq.js";
import {
  DEFAULT_EXPORT_BACKOFF_MS,
  EXPORT_BACKOFF_TYPE,
  EXPORT_MAX_STALLS,
  EXPORT_QUEUE,
  exportBackoffDelay,
  resolveQueuePrefix,
  SWEEP_JOB,
  SWEEP_QUEUE,
  WEBHOOK_BACKOFF_TYPE,
  WEBHOOK_DELIVERY_JOB,
  WEBHOOK_MAX_STALLS,
  WEBHOOK_QUEUE,
  WEBHOOK_RETRY_DELAYS_MS,
  webhookBackoffDelay,
  workerConnection,
} from "../shared/queues/queues.js";
import { createRedisMonitor, redisHost } from "../shared/queues/redis-monitor.js";
import { createExportFailureHandler, createExportProcessor, type ExportJobDeps } from "./exports/export-job.js";
import { createMailer } from "./mail/mailer.js";
import { createSweepProcessor } from "./sweeps/sweep-job.js";
import type { SweepSummary } from "./sweeps/sweep-report.js";
import { scheduleSweeps } from "./sweeps/sweep-scheduler.js";
import { createAddressGuard } from "./webhooks/address-guard.js";
import {
  createDeliveryFailureHandler,
  createDeliveryProcessor,
  type DeliveryJobDeps,
} from "./webhooks/delivery-job.js";
import { createNoticeMailProcessor } from "./webhooks/mail-job.js";
import { type Relay, startRelay } from "./webhooks/relay.js";
import { createWebhookSender } from "./webhooks/webhook-sender.js";

export interface WorkersOptions {
  logger: Logger;
  /** The credential for the key service (and the root of the derived link secret). */
  serviceToken: string;
  /** The key service's Connect endpoint, e.g. http://127.0.0.1:50052. */
  serviceUrl: string;
  /** BullMQ key prefix; default KEYWARD_QUEUE_PREFIX or "keyward". Must match the gateway's. */
  queuePrefix?: string;
  /** A ready nodemailer transport instead of SMTP_URL / the outbox. */
  mailTransport?: Transporter;
  /** Base of links in mails; default KEYWARD_PUBLIC_URL, else http://127.0.0.1:<gateway port>. */
  publicUrl?: string;
  /** First retry delay of a failed export (doubling after); default 10 s. */
  exportBackoffMs?: number;
  /** Exports produced at once by this process; default 2. */
  exportConcurrency?: number;
  /** false: no periodic schedule (sweeps only through sweepNow); default true. */
  scheduleSweeps?: boolean;
  /**
   * How soon a job whose worker died is noticed: its lock lapses after
   * lockDurationMs, and live workers look for such jobs every
   * stalledIntervalMs. BullMQ's 30 s and 30 s by default; tests shorten them.
   */
  stallDetection?: { lockDurationMs: number; stalledIntervalMs: number };
  /** Delays before each retry of a webhook delivery; default WEBHOOK_RETRY_DELAYS_MS (about a day in all). */
  webhookRetryDelaysMs?: readonly number[];
  /** How long an endpoint has to answer; default 15 s. */
  webhookTimeoutMs?: number;
  /** Deliveries made at once by this process; default 16. */
  webhookConcurrency?: number;
  /** How long one relay call waits for new events; default 1 s. */
  relayWaitMs?: number;
  /** false: this process delivers queued webhooks but does not relay the outbox; default true. */
  relay?: boolean;
}

export interface RunningWorkers {
  /** Runs one maintenance sweep through the queue now and resolves with what it did. */
  sweepNow(timeoutMs?: number): Promise<SweepSummary>;
  /** Stops taking jobs, lets a running one finish (10 s at most; at once with Redis away), closes Redis, mail and service connections. */
  close(): Promise<void>;
}

const CLOSE_LIMIT_MS = 10_000;

/**
 * Starts the export and sweep workers and the maintenance schedule. Resolves
 * at once even when Redis is down: the workers wait for it, the log says so
 * once, and work resumes when it is back.
 */
export async function startWorkers(config: Config, options: WorkersOptions): Promise<RunningWorkers> {
  const logger = options.logger;
  const prefix = resolveQueuePrefix(config, options.queuePrefix);
  const dir = exportsDir(config.dataDir);
  const publicUrl = (options.publicUrl ?? publicBaseUrl(config)).replace(/\/+$/, "");
  const connection = workerConnection(config.REDIS_URL);
  const service = createServiceClient({
    baseUrl: options.serviceUrl,
    serviceToken: options.serviceToken,
    timeoutMs: 30_000,
  });
  const mailer = createMailer({
    smtpUrl: config.SMTP_URL,
    from: config.KEYWARD_MAIL_FROM,
    outboxDir: join(config.dataDir, "outbox"),
    logger,
    transport: options.mailTransport,
  });
  const monitor = createRedisMonitor({
    redisUrl: config.REDIS_URL,
    logger,
    pausedWork: "CSV exports, maintenance sweeps and webhook deliveries",
  });
  const backoffMs = options.exportBackoffMs ?? DEFAULT_EXPORT_BACKOFF_MS;

  const exportDeps: ExportJobDeps = {
    service: service.client,
    mailer,
    logger: logger.child({ job: "export" }),
    dir,
    linkSecret: exportLinkSecret(config, options.serviceToken),
    publicUrl,
  };
  const exportWorker = new Worker(EXPORT_QUEUE, createExportProcessor(exportDeps), {
    connection,
    prefix,
    concurrency: options.exportConcurrency ?? 2,
    maxStalledCount: EXPORT_MAX_STALLS,
    ...(options.stallDetection && {
      lockDuration: options.stallDetection.lockDurationMs,
      stalledInterval: options.stallDetection.stalledIntervalMs,
    }),
    settings: {
      backoffStrategy: (attemptsMade, type) =>
        type === EXPORT_BACKOFF_TYPE ? exportBackoffDelay(attemptsMade, backoffMs) : backoffMs,
    },
  });
  const sweepWorker = new Worker(
    SWEEP_QUEUE,
    createSweepProcessor({
      service: service.client,
      mailer,
      logger: logger.child({ job: "sweep" }),
      dir,
      days: {
        inactive: config.KEYWARD_INACTIVE_DAYS,
        autoRevoke: config.KEYWARD_AUTO_REVOKE_DAYS,
        logRetention: config.KEYWARD_LOG_RETENTION_DAYS,
        rotation: config.KEYWARD_ROTATION_DAYS,
      },
      consoleUrl: `${publicUrl}/`,
    }),
    { connection, prefix, concurrency: 1 },
  );
  const sweepQueue = new Queue(SWEEP_QUEUE, { connection, prefix });

  const webhookQueue = new Queue(WEBHOOK_QUEUE, { connection, prefix });
  const retryDelays = options.webhookRetryDelaysMs ?? WEBHOOK_RETRY_DELAYS_MS;
  const webhookSender = createWebhookSender(createAddressGuard(config.KEYWARD_WEBHOOK_DENY_CIDRS));
  const deliveryDeps: DeliveryJobDeps = {
    service: service.client,
    queue: webhookQueue,
    logger: logger.child({ job: "webhook" }),
    sender: webhookSender,
    timeoutMs: options.webhookTimeoutMs ?? 15_000,
    attempts: retryDelays.length + 1,
  };
  const deliver = createDeliveryProcessor(deliveryDeps);
  const mailNotice = createNoticeMailProcessor({
    service: service.client,
    mailer,
    logger: logger.child({ job: "notice-mail" }),
    consoleUrl: `${publicUrl}/`,
  });
  const webhookWorker = new Worker(
    WEBHOOK_QUEUE,
    (job) => (job.name === WEBHOOK_DELIVERY_JOB ? deliver(job) : mailNotice(job)),
    {
      connection,
      prefix,
      concurrency: options.webhookConcurrency ?? 16,
      maxStalledCount: WEBHOOK_MAX_STALLS,
      ...(options.stallDetection && {
        lockDuration: options.stallDetection.lockDurationMs,
        stalledInterval: options.stallDetection.stalledIntervalMs,
      }),
      settings: {
        backoffStrategy: (attemptsMade, type) =>
          type === WEBHOOK_BACKOFF_TYPE
            ? webhookBackoffDelay(attemptsMade, retryDelays)
            : exportBackoffDelay(attemptsMade, backoffMs),
      },
    },
  );
  const settleStalledDelivery = createDeliveryFailureHandler(deliveryDeps);
  webhookWorker.on("failed", (job, error) => {
    if (job?.name !== WEBHOOK_DELIVERY_JOB) {
      logger.warn({ jobId: job?.id, reason: error.message }, "notice mail job failed");
    }
    void settleStalledDelivery(job, error);
  });
  const relay: Relay | undefined =
    options.relay === false
      ? undefined
      : startRelay({
          service: service.client,
          queue: webhookQueue,
          logger: logger.child({ part: "webhook relay" }),
          waitMs: options.relayWaitMs,
        });

  // Connection errors repeat on every reconnect attempt; the monitor reports the outage once.
  const onError = (source: string) => (error: Error) => {
    if (!monitor.isUp() || isConnectionError(error))
      logger.debug({ source, reason: error.message }, "redis connection error");
    else logger.error({ err: error, source }, "queue error");
  };
  exportWorker.on("error", onError("export worker"));
  sweepWorker.on("error", onError("sweep worker"));
  sweepQueue.on("error", onError("sweep queue"));
  webhookWorker.on("error", onError("webhook worker"));
  webhookQueue.on("error", onError("webhook queue"));
  const settleFailedExport = createExportFailureHandler(exportDeps);
  exportWorker.on("failed", (job, error) => {
    logger.warn({ exportId: job?.id, attemptsMade: job?.attemptsMade, reason: error.message }, "export job failed");
    void settleFailedExport(job, error);
  });
  exportWorker.on("stalled", (jobId) => {
    logger.warn({ exportId: jobId }, "export job stalled (its worker stopped under it); it runs again");
  });
  // Temporary files of writes that died with their process; a live write's file is never this old.
  // Awaited (one readdir): once started, the workers have looked, and the sweep is the next to look.
  try {
    const removed = await removeStaleTempFiles(dir);
    if (removed > 0) logger.info({ files: removed }, "removed stale temporary export files");
  } catch (error) {
    logger.warn({ err: error }, "could not look for stale temporary export files");
  }
  sweepWorker.on("failed", (job, error) => {
    logger.error({ jobId: job?.id, attemptsMade: job?.attemptsMade, reason: error.message }, "sweep job failed");
  });

  if (options.scheduleSweeps !== false) {
    const everyMs = parseDuration(config.KEYWARD_SWEEP_EVERY);
    // Again on every reconnection: a Redis restarted without its data has lost the schedule.
    monitor.onUp(() => {
      scheduleSweeps(sweepQueue, everyMs).then(
        () => logger.debug({ everyMs }, "maintenance sweep scheduled"),
        (error: unknown) =>
          logger.warn({ err: error }, "could not schedule the maintenance sweep; retrying when Redis is back"),
      );
    });
  }
  logger.info({ prefix, publicUrl, mail: mailer.kind, redis: redisHost(config.REDIS_URL) }, "workers started");

  let closing: Promise<void> | undefined;
  return {
    async sweepNow(timeoutMs = 30_000) {
      const job = await sweepQueue.add(
        SWEEP_JOB,
        {},
        { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
      );
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const state = await job.getState();
        if (state === "completed" || state === "failed") {
          const finished = await sweepQueue.getJob(job.id as string);
          if (state === "failed") throw new Error(`the sweep failed: ${finished?.failedReason ?? "unknown reason"}`);
          return finished?.returnvalue as SweepSummary;
        }
        if (Date.now() > deadline) throw new Error(`the sweep did not finish within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    close() {
      closing ??= (async () => {
        const part = (name: string) => ({ logger, name, limitMs: CLOSE_LIMIT_MS, isWorker: true });
        await relay?.stop();
        await Promise.all([
          closeBullmq(exportWorker, part("export worker")),
          closeBullmq(sweepWorker, part("sweep worker")),
          closeBullmq(webhookWorker, part("webhook worker")),
        ]);
        await closeBullmq(sweepQueue, { ...part("sweep queue"), isWorker: false });
        await closeBullmq(webhookQueue, { ...part("webhook queue"), isWorker: false });
        await monitor.close();
        webhookSender.close();
        mailer.close();
        service.close();
        logger.info("workers stopped");
      })();
      return closing;
    },
  };
}

function isConnectionError(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return (
    code === "ECONNREFUSED" ||
    code === "ECONNRESET" ||
    code === "ETIMEDOUT" ||
    code === "EPIPE" ||
    /Connection is closed|connect ETIMEDOUT|Stream isn't writeable/i.test(error.message)
  );
}
