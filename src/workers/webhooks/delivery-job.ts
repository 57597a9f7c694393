import { Code, ConnectError } from "@connectrpc/connect";
import { type Job, type Queue, UnrecoverableError } from "bullmq";
import type { KeyServiceClient } from "../../shared/contract/service-client.js";
import type { Logger } from "../../shared/logger.js";
import {
  WEBHOOK_DELIVERY_JOB,
  WebhookDeliveryJobDataSchema,
  webhookDeliveryJobOptions,
} from "../../shared/queues/queues.js";
import { DeniedAddressError } from "./address-guard.js";
import type { WebhookSender } from "./webhook-sender.js";

export interface DeliveryJobDeps {
  service: KeyServiceClient;
  queue: Queue;
  logger: Logger;
  /** POSTs to the endpoints, never to an address in KEYWARD_WEBHOOK_DENY_CIDRS. */
  sender: WebhookSender;
  /** How long an endpoint has to answer; default 15 s. */
  timeoutMs: number;
  /**
   * Attempts per delivery: the retry schedule's length plus one. The
   * schedule is this worker's (the job's own `attempts` is set when it is
   * queued): a delivery ends after the last delay of the schedule in use.
   */
  attempts: number;
}

export type DeliveryResult =
  | { outcome: "delivered"; status: number }
  | { outcome: "failed"; error: string }
  | { outcome: "skipped"; reason: string };

const USER_AGENT = "Keyward-Webhooks/1";

/**
 * One attempt of one delivery: the service signs the event now (the secret
 * never leaves it), the worker POSTs it, the service records the attempt.
 * A 2xx is success; anything else (another status, a redirect, a timeout, a
 * refused connection, an address in the deny list) fails the attempt, and
 * BullMQ retries the job on the webhook schedule until its last attempt,
 * which ends the delivery as failed. A denied address is retried like a
 * refused connection rather than ended at once: the name may resolve
 * elsewhere once its DNS is fixed, or the operator correct the deny list,
 * and the event then arrives instead of being lost; a retry costs one lookup.
 * The next delivery of the same endpoint and key is queued as soon as this
 * one ends, so a key's events reach an endpoint in order.
 */
export function createDeliveryProcessor(deps: DeliveryJobDeps) {
  return async function processDelivery(job: Job): Promise<DeliveryResult> {
    const parsed = WebhookDeliveryJobDataSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError("the delivery job carries no valid delivery id");
    const { deliveryId } = parsed.data;
    const attempt = job.attemptsMade + 1;
    const final = attempt >= attemptsOf(job, deps);
    const prepared = await call(() => deps.service.prepareWebhookDelivery({ deliveryId }));
    if (!prepared.pending) return { outcome: "skipped", reason: prepared.reason };

    const log = deps.logger.child({ deliveryId, endpointId: prepared.endpointId, eventId: prepared.eventId, attempt });
    const started = performance.now();
    let status = 0;
    let error = "";
    try {
      status = await deps.sender.post(
        prepared.url,
        prepared.body,
        { ...prepared.headers, "content-type": "application/json", "user-agent": USER_AGENT },
        AbortSignal.timeout(deps.timeoutMs),
      );
      if (status < 200 || status > 299) error = `the endpoint answered HTTP ${status}`;
    } catch (cause) {
      error = describeFailure(cause, deps.timeoutMs);
    }
    const durationMs = Math.round(performance.now() - started);
    const succeeded = error === "";
    const recorded = await call(() =>
      deps.service.recordWebhookAttempt({
        deliveryId,
        attempt,
        responseCode: status,
        durationMs,
        error,
        succeeded,
        final: !succeeded && final,
      }),
    );
    if (recorded.nextDeliveryId !== "") await queueDelivery(deps.queue, recorded.nextDeliveryId);
    if (recorded.endpointDisabled)
      log.warn("webhook endpoint disabled: it has failed for 3 days; the admins are mailed");
    if (succeeded) {
      log.debug({ status, ms: durationMs }, "webhook delivered");
      return { outcome: "delivered", status };
    }
    if (final) {
      log.warn({ status, reason: error }, "webhook delivery failed for good");
      return { outcome: "failed", error };
    }
    log.info({ status, reason: error }, "webhook attempt failed; it will be retried");
    throw new Error(error);
  };
}

/**
 * The webhook worker's `failed` listener: a delivery job that failed for
 * good without its processor saying so (its worker died under it more often
 * than allowed) ends its delivery as failed, so the key's later events are
 * not held up behind it.
 */
export function createDeliveryFailureHandler(deps: DeliveryJobDeps) {
  return async function onDeliveryFailed(job: Job | undefined, error: Error): Promise<void> {
    if (!job || job.name !== WEBHOOK_DELIVERY_JOB) return;
    const final = error.name === "UnrecoverableError" || job.attemptsMade >= attemptsOf(job, deps);
    if (!final || !/stalled/i.test(error.message)) return;
    const parsed = WebhookDeliveryJobDataSchema.safeParse(job.data);
    if (!parsed.success) return;
    try {
      const recorded = await deps.service.recordWebhookAttempt({
        deliveryId: parsed.data.deliveryId,
        attempt: Math.max(job.attemptsStarted, 1),
        responseCode: 0,
        durationMs: 0,
        error: "the delivery was interrupted too often: its worker stopped while sending",
        succeeded: false,
        final: true,
      });
      if (recorded.nextDeliveryId !== "") await queueDelivery(deps.queue, recorded.nextDeliveryId);
    } catch (secondary) {
      deps.logger.error({ err: secondary, deliveryId: parsed.data.deliveryId }, "could not end a stalled delivery");
    }
  };
}

const attemptsOf = (job: Job, deps: DeliveryJobDeps) => Math.min(job.opts.attempts ?? 1, deps.attempts);

export async function queueDelivery(queue: Queue, deliveryId: string): Promise<void> {
  await queue.add(WEBHOOK_DELIVERY_JOB, { deliveryId }, webhookDeliveryJobOptions(deliveryId));
}

/** A service answer that another attempt would only repeat ends the job. */
async function call<T>(request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error) {
    if (error instanceof ConnectError && (error.code === Code.NotFound || error.code === Code.InvalidArgument)) {
      throw new UnrecoverableError(error.rawMessage);
    }
    throw error;
  }
}

/** One line for the attempt's record: never the URL (its query may hold a secret of the receiver's). */
function describeFailure(cause: unknown, timeoutMs: number): string {
  if (cause instanceof DeniedAddressError) return cause.message;
  const error = cause as { name?: string; code?: string };
  if (error?.name === "TimeoutError" || error?.name === "AbortError") {
    return `no answer within ${Math.round(timeoutMs / 1000)} s`;
  }
  const code = error?.code;
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "the host name does not resolve";
  if (code === "ECONNRESET") return "the connection was closed before an answer";
  if (code) return `network error (${code})`;
  return "network error";
}
