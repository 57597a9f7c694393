import type { ConnectionOptions, JobsOptions } from "bullmq";
import { z } from "zod";

/**
 * Queue names, job shapes and Redis connection settings shared by the
 * producer (the gateway) and the consumers (the workers). Both sides must
 * agree on the prefix, so it is read from one place.
 */

export const EXPORT_QUEUE = "exports";
export const SWEEP_QUEUE = "sweeps";
export const EXPORT_JOB = "export";
export const SWEEP_JOB = "sweep";
/** One id for the maintenance schedule: upserting it from every worker keeps one schedule. */
export const SWEEP_SCHEDULER_ID = "maintenance-sweep";

/** BullMQ's Redis key prefix when none is configured. */
export const DEFAULT_QUEUE_PREFIX = "keyward";

/** Attempts of an export job before it is FAILED. */
export const EXPORT_ATTEMPTS = 5;
/**
 * Times an export's worker may die under it (kill -9, out of memory) before
 * the job is failed: BullMQ puts a stalled job back in the queue up to this
 * many times, and fails it the next. Its default, 1, failed an export killed
 * twice; a job that takes its worker down three times is not retried again.
 */
export const EXPORT_MAX_STALLS = 2;
/** The backoff type the producer names; the workers' backoffStrategy computes the delay. */
export const EXPORT_BACKOFF_TYPE = "keyward-exponential";
/** First retry delay; doubles each attempt (10 s, 20 s, 40 s, 80 s). */
export const DEFAULT_EXPORT_BACKOFF_MS = 10_000;

export const ExportJobDataSchema = z.strictObject({
  exportId: z.string().min(1).max(64),
});
export type ExportJobData = z.infer<typeof ExportJobDataSchema>;

/**
 * Job options of an export. The job id is the export id, so asking twice for
 * the same export (a retried HTTP call, a re-enqueue) never queues it twice.
 * The backoff delay is the workers' to decide (EXPORT_BACKOFF_TYPE), so that
 * tests can shorten it without touching the producer.
 */
export function exportJobOptions(exportId: string): JobsOptions {
  return {
    jobId: exportId,
    attempts: EXPORT_ATTEMPTS,
    backoff: { type: EXPORT_BACKOFF_TYPE },
    removeOnComplete: { age: 7 * 86_400, count: 1000 },
    removeOnFail: { age: 30 * 86_400 },
  };
}

/** Delay before retry number `attemptsMade` (1-based): base, 2*base, 4*base... capped at 10 minutes. */
export function exportBackoffDelay(attemptsMade: number, baseMs: number): number {
  return Math.min(baseMs * 2 ** Math.max(0, attemptsMade - 1), 600_000);
}

/**
 * The queue prefix: an explicit option wins, then KEYWARD_QUEUE_PREFIX (from
 * the config object when it carries it, else the environment), then
 * "keyward". Tests give every case its own prefix so that queues never meet.
 */
export function resolveQueuePrefix(config: object, explicit?: string): string {
  const fromConfig = (config as { KEYWARD_QUEUE_PREFIX?: unknown }).KEYWARD_QUEUE_PREFIX;
  const prefix =
    explicit ?? (typeof fromConfig === "string" ? fromConfig : undefined) ?? process.env.KEYWARD_QUEUE_PREFIX;
  const value = prefix?.trim() || DEFAULT_QUEUE_PREFIX;
  if (!/^[A-Za-z0-9_.{}-]{1,64}$/.test(value)) {
    throw new Error("KEYWARD_QUEUE_PREFIX: 1-64 characters of A-Z, a-z, 0-9, _ . - { }");
  }
  return value;
}

/** Reconnect quickly at first, then every 5 s: Redis coming back resumes work within seconds. */
export function reconnectDelay(times: number): number {
  return Math.min(250 * 2 ** Math.min(times, 5), 5_000);
}

/**
 * Connection options of the workers: commands wait for Redis to come back
 * (BullMQ requires maxRetriesPerRequest null on blocking connections), so an
 * outage pauses work instead of failing it.
 */
export function workerConnection(redisUrl: string): ConnectionOptions {
  return {
    url: redisUrl,
    maxRetriesPerRequest: null,
    connectTimeout: 5_000,
    retryStrategy: reconnectDelay,
  };
}

/**
 * Connection options of the producer (the gateway): with Redis down a command
 * fails at once instead of queueing in memory (enableOfflineQueue false), and
 * an interrupted command is not replayed later, so an export the gateway has
 * already refused never slips into the queue afterwards.
 */
export function producerConnection(redisUrl: string): ConnectionOptions {
  return {
    url: redisUrl,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: 2_000,
    commandTimeout: 3_000,
    retryStrategy: reconnectDelay,
  };
}

// ---------------------------------------------------------------- webhooks

/** Deliveries of webhook events, and the mails some events call for. */
export const WEBHOOK_QUEUE = "webhooks";
export const WEBHOOK_DELIVERY_JOB = "deliver";
export const WEBHOOK_MAIL_JOB = "mail";
/** The backoff type webhook deliveries name; the workers' backoffStrategy computes the delay. */
export const WEBHOOK_BACKOFF_TYPE = "keyward-webhook";
/**
 * Delays before each retry of a delivery: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h
 * and 10 h, so the last of its 8 attempts comes about 27.6 hours after the
 * first (Svix's schedule, give or take).
 */
export const WEBHOOK_RETRY_DELAYS_MS: readonly number[] = [
  5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
];
export const WEBHOOK_ATTEMPTS = WEBHOOK_RETRY_DELAYS_MS.length + 1;
/** Times a delivery's worker may die under it before the job fails (and the delivery is recorded as failed). */
export const WEBHOOK_MAX_STALLS = 3;

export const WebhookDeliveryJobDataSchema = z.strictObject({
  deliveryId: z.string().regex(/^[1-9][0-9]{0,14}$/),
});
export type WebhookDeliveryJobData = z.infer<typeof WebhookDeliveryJobDataSchema>;

export const WebhookMailJobDataSchema = z
  .object({
    eventId: z.string().min(1).max(64),
    type: z.string().min(1).max(64),
    time: z.string().max(64),
    dataJson: z.string(),
    mailedTo: z.array(z.string()).optional(),
  })
  .passthrough();
export type WebhookMailJobData = z.infer<typeof WebhookMailJobDataSchema>;

/**
 * One job per delivery, its id the delivery's: the relay may offer the same
 * delivery again (after a crash, or from another workers process) and it is
 * queued once. Finished jobs stay a day, so a late duplicate finds them.
 */
export function webhookDeliveryJobOptions(deliveryId: string): JobsOptions {
  return {
    jobId: `delivery-${deliveryId}`,
    attempts: WEBHOOK_ATTEMPTS,
    backoff: { type: WEBHOOK_BACKOFF_TYPE },
    removeOnComplete: { age: 86_400, count: 100_000 },
    removeOnFail: { age: 7 * 86_400 },
  };
}

export function webhookMailJobOptions(eventId: string): JobsOptions {
  return {
    jobId: `mail-${eventId}`,
    attempts: 5,
    backoff: { type: EXPORT_BACKOFF_TYPE },
    removeOnComplete: { age: 7 * 86_400, count: 1000 },
    removeOnFail: { age: 30 * 86_400 },
  };
}

/** Delay before retry number `attemptsMade` (1-based) of a delivery; past the schedule, its last delay. */
export function webhookBackoffDelay(attemptsMade: number, delays: readonly number[] = WEBHOOK_RETRY_DELAYS_MS): number {
  const index = Math.min(Math.max(attemptsMade, 1), delays.length) - 1;
  return delays[index] ?? 5_000;
}
