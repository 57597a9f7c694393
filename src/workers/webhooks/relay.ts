import type { Queue } from "bullmq";
import type { KeyServiceClient } from "../../shared/contract/service-client.js";
import type { Logger } from "../../shared/logger.js";
import {
  WEBHOOK_DELIVERY_JOB,
  WEBHOOK_MAIL_JOB,
  webhookDeliveryJobOptions,
  webhookMailJobOptions,
} from "../../shared/queues/queues.js";

export interface RelayOptions {
  service: KeyServiceClient;
  queue: Queue;
  logger: Logger;
  /** How long one call waits for events when there are none; default 1 s. */
  waitMs?: number;
  /** How often the relay offers every pending delivery again (a queue that lost jobs is repaired); default 60 s. */
  resyncEveryMs?: number;
  limit?: number;
}

export interface Relay {
  stop(): Promise<void>;
}

/**
 * The relay between the service's outbox and the queue. Each call of
 * RelayWebhooks (a long poll) says what the previous call's answer was queued
 * as, has the service hand new events out to the endpoints that want them,
 * and answers the deliveries (the next of each endpoint and key) and mails to
 * queue. Job ids are the deliveries' and events' ids, so a delivery offered
 * twice (this process died before saying it queued it, two workers processes
 * relay at once) is queued once. Nothing is marked queued before it is.
 */
export function startRelay(options: RelayOptions): Relay {
  const { service, queue, logger } = options;
  const waitMs = options.waitMs ?? 1000;
  const resyncEveryMs = options.resyncEveryMs ?? 60_000;
  const limit = options.limit ?? 200;
  const abort = new AbortController();
  let stopped = false;
  let queuedDeliveryIds: string[] = [];
  let queuedMailEventIds: string[] = [];
  let lastResync = 0;
  let more = false;
  let failing = false;

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      abort.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      });
    });

  const loop = async () => {
    while (!stopped) {
      try {
        const resync = Date.now() - lastResync >= resyncEveryMs;
        const answer = await service.relayWebhooks(
          { queuedDeliveryIds, queuedMailEventIds, waitMs: more || resync ? 0 : waitMs, limit, resync },
          { signal: abort.signal, timeoutMs: waitMs + 30_000 },
        );
        if (resync) lastResync = Date.now();
        queuedDeliveryIds = [];
        queuedMailEventIds = [];
        if (failing) logger.info("webhook relay reaches the key service again");
        failing = false;
        if (answer.deliveryIds.length > 0) {
          await queue.addBulk(
            answer.deliveryIds.map((deliveryId) => ({
              name: WEBHOOK_DELIVERY_JOB,
              data: { deliveryId },
              opts: webhookDeliveryJobOptions(deliveryId),
            })),
          );
          queuedDeliveryIds = answer.deliveryIds;
        }
        if (answer.mailEvents.length > 0) {
          await queue.addBulk(
            answer.mailEvents.map((event) => ({
              name: WEBHOOK_MAIL_JOB,
              data: {
                eventId: event.id,
                type: event.type,
                time: event.time ? new Date(Number(event.time.seconds) * 1000).toISOString() : "",
                dataJson: event.dataJson,
              },
              opts: webhookMailJobOptions(event.id),
            })),
          );
          queuedMailEventIds = answer.mailEvents.map((e) => e.id);
        }
        more = answer.more;
      } catch (error) {
        if (stopped) break;
        if (!failing)
          logger.warn(
            { reason: (error as Error).message },
            "webhook relay: cannot reach the key service or Redis; retrying",
          );
        failing = true;
        more = false;
        await pause(1000);
      }
    }
  };
  const running = loop();
  logger.debug({ waitMs, resyncEveryMs }, "webhook relay started");
  return {
    async stop() {
      stopped = true;
      abort.abort();
      await running;
    },
  };
}
