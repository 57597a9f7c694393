import { type JobType, Queue } from "bullmq";
import { Redis } from "ioredis";
import type { Logger } from "../shared/logger.js";
import { EXPORT_QUEUE, reconnectDelay, SWEEP_QUEUE } from "../shared/queues/queues.js";
import { within } from "../shared/within.js";

/** The job states counted per queue: every state a job of ours can be in. */
export const QUEUE_STATES = [
  "waiting",
  "prioritized",
  "active",
  "delayed",
  "waiting-children",
  "completed",
  "failed",
] as const satisfies readonly JobType[];

/** How long one scrape waits for Redis before answering without queue figures. */
export const QUEUE_COUNT_TIMEOUT_MS = 500;

export interface QueueDepth {
  /** Jobs per queue and state; undefined when Redis did not answer within QUEUE_COUNT_TIMEOUT_MS. */
  counts(): Promise<Array<{ queue: string; state: string; jobs: number }> | undefined>;
  close(): Promise<void>;
}

/**
 * Reads the depth of the export and sweep queues at scrape time (BullMQ's
 * getJobCounts), over one Redis connection of its own that never queues a
 * command while Redis is away: an outage costs a scrape at most the timeout.
 */
export function createQueueDepth(options: { redisUrl: string; prefix: string; logger: Logger }): QueueDepth {
  const redis = new Redis(options.redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    commandTimeout: QUEUE_COUNT_TIMEOUT_MS,
    retryStrategy: reconnectDelay,
    connectionName: "keyward-queue-depth",
  });
  // The export queue's monitor reports outages; reconnect errors here would repeat it.
  redis.on("error", (error: Error) => options.logger.debug({ reason: error.message }, "queue depth connection error"));
  const queues = [EXPORT_QUEUE, SWEEP_QUEUE].map((name) => {
    const queue = new Queue(name, { connection: redis, prefix: options.prefix });
    queue.on("error", () => undefined);
    return queue;
  });
  // One waiter for the next "ready", however many scrapes an outage sees.
  let nextReady: Promise<void> | undefined;
  const ready = (): Promise<void> => {
    if (redis.status === "ready") return Promise.resolve();
    nextReady ??= new Promise<void>((resolve) =>
      redis.once("ready", () => {
        nextReady = undefined;
        resolve();
      }),
    );
    return nextReady;
  };

  return {
    async counts() {
      // The whole scrape, connecting included, waits at most the timeout.
      const counting = ready().then(() =>
        Promise.all(
          queues.map(async (queue) => {
            const counts = await queue.getJobCounts(...QUEUE_STATES);
            return QUEUE_STATES.map((state) => ({ queue: queue.name, state, jobs: counts[state] ?? 0 }));
          }),
        ),
      );
      const result = await within(counting, QUEUE_COUNT_TIMEOUT_MS).catch(() => undefined);
      return result?.flat();
    },
    async close() {
      await Promise.all(queues.map((queue) => queue.close().catch(() => undefined)));
      redis.disconnect();
    },
  };
}
