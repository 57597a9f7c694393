import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { uuidv7 } from "uuidv7";
import { CidrMatcher, literalAddressOf } from "../../shared/cidr.js";
import { isWebhookEventType, WEBHOOK_EVENT_TYPES } from "../../shared/contract/events.js";
import type { Logger } from "../../shared/logger.js";
import type { EventSignal } from "../events/event-signal.js";
import { endpointData, eventBody, newEvent } from "../events/payloads.js";
import type { KeyStore } from "../store/key-store.js";
import { FailedPreconditionError, NotFoundError, ValidationError } from "./errors.js";
import type { Page, PageRequest } from "./inputs.js";
import type {
  Actor,
  AuditAction,
  AuditEntry,
  RelayResult,
  WebhookAttemptRecord,
  WebhookEndpointRecord,
} from "./model.js";
import { decodeIdCursor, decodeTimeCursor, encodeIdCursor, encodeTimeCursor, pageSize } from "./page-token.js";
import type { SecretSealer } from "./secret-seal.js";
import { validateId } from "./validation.js";

/** An endpoint whose every attempt has failed for this long is disabled, and the admins are mailed. */
export const FAILING_DISABLE_MS = 3 * 86_400_000;
const MAX_URL_LENGTH = 2048;
const MAX_WAIT_MS = 10_000;
const EVENT_ID = /^msg_[0-9a-f]{32}$/;
const DELIVERY_ID = /^[1-9][0-9]{0,14}$/;
const ENDPOINT_FIELDS = ["url", "description", "event_types", "enabled"] as const;

export interface CreateEndpointInput {
  url: string;
  description?: string;
  eventTypes?: string[];
  enabled?: boolean;
}

export interface UpdateEndpointInput {
  fields: string[];
  url?: string;
  description?: string;
  eventTypes?: string[];
  enabled?: boolean;
}

export interface RelayRequest {
  queuedDeliveryIds: string[];
  queuedMailEventIds: string[];
  waitMs: number;
  limit: number;
  resync: boolean;
}

export interface PreparedDelivery {
  pending: boolean;
  reason: string;
  url: string;
  body: string;
  headers: Record<string, string>;
  endpointId: string;
  eventId: string;
  eventType: string;
}

export interface AttemptInput {
  deliveryId: string;
  attempt: number;
  responseCode: number;
  durationMs: number;
  error: string;
  succeeded: boolean;
  final: boolean;
}

export interface WebhooksApi {
  createEndpoint(
    input: CreateEndpointInput,
    actor: Actor,
  ): Promise<{ endpoint: WebhookEndpointRecord; secret: string }>;
  getEndpoint(id: string): Promise<WebhookEndpointRecord>;
  listEndpoints(input: PageRequest): Promise<Page<WebhookEndpointRecord>>;
  updateEndpoint(id: string, input: UpdateEndpointInput, actor: Actor): Promise<WebhookEndpointRecord>;
  deleteEndpoint(id: string, actor: Actor): Promise<WebhookEndpointRecord>;
  listAttempts(input: PageRequest & { endpointId: string; eventId?: string }): Promise<Page<WebhookAttemptRecord>>;
  resend(endpointId: string, eventId: string, actor: Actor): Promise<string>;
  relay(input: RelayRequest): Promise<RelayResult>;
  prepare(deliveryId: string): Promise<PreparedDelivery>;
  recordAttempt(input: AttemptInput): Promise<{ nextDeliveryId: string; endpointDisabled: boolean }>;
}

interface Deps {
  store: KeyStore;
  now: () => number;
  signal: EventSignal;
  /** KEYWARD_WEBHOOK_DENY_CIDRS: an endpoint URL naming such an address is refused (the workers check names at delivery). */
  denyCidrs: readonly string[];
  /** Milliseconds since the epoch by the wall clock: signatures carry it, receivers check it against theirs. */
  wallClock?: () => number;
  /**
   * KEYWARD_SECRETS_KEY's sealing. Applied here rather than in the stores'
   * row mapping: a secret is written once (createEndpoint; updates never
   * write the column) and read once (prepare, to sign), so two calls cover
   * every path on both stores, the stores and the SQLite writer thread never
   * hold the key, and a secret that does not open becomes a failed attempt
   * here instead of an error in every read of the endpoint. Records from the
   * store carry the secret as stored; nothing but prepare() reads it.
   */
  sealer: SecretSealer;
  /** Says once per endpoint (per process) that its secret does not open. */
  logger: Pick<Logger, "error">;
}

/** A Standard Webhooks secret: whsec_ and base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

/**
 * http(s) only, no credentials, no fragment, no literal address in the deny
 * list; the message never repeats the URL (it may hold a query secret).
 */
export function validateWebhookUrl(value: string | undefined, denied: CidrMatcher, field = "url"): string {
  const text = (value ?? "").trim();
  if (text === "") throw new ValidationError(field, "is required");
  if (text.length > MAX_URL_LENGTH) throw new ValidationError(field, `must be at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ValidationError(field, "is not a URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ValidationError(field, "must start with http:// or https://");
  }
  if (url.username !== "" || url.password !== "") {
    throw new ValidationError(
      field,
      "must not hold a user name or password (put a secret in a header you check, or in the path)",
    );
  }
  if (url.hostname === "") throw new ValidationError(field, "must name a host");
  if (url.hash !== "") throw new ValidationError(field, "must not have a #fragment");
  // Host names are not resolved here: what they resolve to may change, so the workers check it at each delivery.
  const address = literalAddressOf(url);
  if (address !== undefined && denied.matches(address)) {
    throw new ValidationError(field, `${address} is in KEYWARD_WEBHOOK_DENY_CIDRS: webhooks are never sent there`);
  }
  return url.href;
}

export function validateEventTypes(types: readonly string[] | undefined, field = "event_types"): string[] {
  const out: string[] = [];
  (types ?? []).forEach((type, i) => {
    if (!isWebhookEventType(type)) {
      throw new ValidationError(
        `${field}[${i}]`,
        `${JSON.stringify(type.slice(0, 64))} is not an event type; expected one of ${WEBHOOK_EVENT_TYPES.join(", ")}`,
      );
    }
    if (!out.includes(type)) out.push(type);
  });
  return out;
}

function validateDescription(description: string | undefined): string {
  const value = description ?? "";
  if ([...value].length > 1000) throw new ValidationError("description", "must be at most 1,000 characters");
  return value;
}

function deliveryId(id: string, field = "delivery_id"): number {
  if (!DELIVERY_ID.test(id)) throw new ValidationError(field, "is not a delivery id");
  return Number(id);
}

function eventId(id: string, field = "event_id"): string {
  if (!EVENT_ID.test(id)) throw new ValidationError(field, "must be an event id (msg_ and 32 hex digits)");
  return id;
}

function int(value: number, field: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new ValidationError(field, `must be ${min}-${max}`);
  return value;
}

/** Webhook endpoints, their deliveries and attempts, kept by the service like keys. */
export function createWebhooksApi({
  store,
  now,
  signal,
  denyCidrs,
  wallClock = Date.now,
  sealer,
  logger,
}: Deps): WebhooksApi {
  const denied = new CidrMatcher(denyCidrs, { throughTranslators: true });
  const unopenedLogged = new Set<string>();
  function audit(actor: Actor, action: AuditAction, summary: string, changed: string[] = []): AuditEntry {
    return {
      at: now(),
      actor: actor.name,
      actorKeyId: actor.keyId,
      action,
      keyId: null,
      exportId: null,
      summary,
      changedFields: changed,
    };
  }

  async function load(id: string, field = "id"): Promise<WebhookEndpointRecord> {
    const endpoint = await store.getWebhookEndpoint(validateId(id, field));
    if (!endpoint) throw new NotFoundError("webhook endpoint", id);
    return endpoint;
  }

  const api: WebhooksApi = {
    async createEndpoint(input, actor) {
      const url = validateWebhookUrl(input.url, denied);
      const description = validateDescription(input.description);
      const eventTypes = validateEventTypes(input.eventTypes);
      const at = now();
      const secret = newWebhookSecret();
      const id = uuidv7();
      const endpoint: WebhookEndpointRecord = {
        id,
        url,
        description,
        eventTypes,
        enabled: input.enabled ?? true,
        secret: sealer.seal(id, secret),
        createdBy: actor.name,
        createdAt: at,
        updatedAt: at,
        disabledReason: null,
        failingSince: null,
        version: 1,
      };
      await store.insertWebhookEndpoint(
        endpoint,
        audit(actor, "webhook.create", `registered webhook endpoint ${endpoint.id} for ${types(eventTypes)}`),
      );
      return { endpoint, secret };
    },

    getEndpoint: (id) => load(id),

    async listEndpoints(input) {
      const size = pageSize(input.pageSize);
      const after = decodeTimeCursor(input.pageToken);
      const rows = await store.listWebhookEndpoints(size + 1, after);
      const page = rows.slice(0, size);
      const last = page[page.length - 1];
      return { items: page, nextPageToken: rows.length > size && last ? encodeTimeCursor(last) : "" };
    },

    async updateEndpoint(id, input, actor) {
      if (input.fields.length === 0) throw new ValidationError("update_mask", "must name at least one field");
      const fields = new Set<string>();
      input.fields.forEach((field, i) => {
        if (!(ENDPOINT_FIELDS as readonly string[]).includes(field)) {
          throw new ValidationError(
            `update_mask.paths[${i}]`,
            `${JSON.stringify(field)} is not an updatable field; expected one of ${ENDPOINT_FIELDS.join(", ")}`,
          );
        }
        if (fields.has(field))
          throw new ValidationError(`update_mask.paths[${i}]`, `${JSON.stringify(field)} is named twice`);
        fields.add(field);
      });
      const current = await load(id);
      const next: WebhookEndpointRecord = { ...current, updatedAt: now(), version: current.version + 1 };
      if (fields.has("url")) next.url = validateWebhookUrl(input.url, denied);
      if (fields.has("description")) next.description = validateDescription(input.description);
      if (fields.has("event_types")) next.eventTypes = validateEventTypes(input.eventTypes);
      if (fields.has("enabled")) {
        next.enabled = input.enabled ?? false;
        // Enabled again by a person: a fresh start.
        if (next.enabled) {
          next.disabledReason = null;
          next.failingSince = null;
        }
      }
      await store.updateWebhookEndpoint(
        next,
        audit(actor, "webhook.update", `changed webhook endpoint ${next.id}: ${[...fields].join(", ")}`, [...fields]),
      );
      return next;
    },

    async deleteEndpoint(id, actor) {
      const current = await load(id);
      await store.deleteWebhookEndpoint(
        current.id,
        audit(actor, "webhook.delete", `deleted webhook endpoint ${current.id}`),
      );
      return current;
    },

    async listAttempts(input) {
      const size = pageSize(input.pageSize);
      const before = decodeIdCursor(input.pageToken);
      const endpointId = validateId(input.endpointId, "endpoint_id");
      const filterEvent = input.eventId ? eventId(input.eventId) : undefined;
      const rows = await store.listWebhookAttempts({ endpointId, eventId: filterEvent }, size + 1, before);
      // An unknown endpoint with no attempts is NOT_FOUND; a deleted one's attempts stay listed.
      if (rows.length === 0 && before === undefined && !(await store.getWebhookEndpoint(endpointId))) {
        throw new NotFoundError("webhook endpoint", endpointId);
      }
      const page = rows.slice(0, size);
      const last = page[page.length - 1];
      return { items: page, nextPageToken: rows.length > size && last ? encodeIdCursor(last.id) : "" };
    },

    async resend(endpointIdText, eventIdText, actor) {
      const endpoint = await load(endpointIdText, "endpoint_id");
      if (!endpoint.enabled) {
        throw new FailedPreconditionError(`webhook endpoint ${endpoint.id} is disabled: enable it before resending`);
      }
      const event = await store.getEvent(eventId(eventIdText));
      if (!event) throw new NotFoundError("event", eventIdText);
      if (!isWebhookEventType(event.type)) throw new NotFoundError("event", eventIdText);
      const at = now();
      const id = await store.resendWebhookEvent(
        endpoint.id,
        event.seq,
        at,
        audit(actor, "webhook.resend", `resent event ${event.id} (${event.type}) to webhook endpoint ${endpoint.id}`),
      );
      signal.notify();
      return String(id);
    },

    async relay(input) {
      const limit = input.limit === 0 ? 100 : int(input.limit, "limit", 1, 1000);
      const waitMs = int(input.waitMs, "wait_ms", 0, MAX_WAIT_MS);
      const queuedDeliveryIds = input.queuedDeliveryIds.map((id, i) => deliveryId(id, `queued_delivery_ids[${i}]`));
      const queuedMailEventIds = input.queuedMailEventIds.map((id, i) => eventId(id, `queued_mail_event_ids[${i}]`));
      if (queuedDeliveryIds.length > 10_000 || queuedMailEventIds.length > 10_000) {
        throw new ValidationError("queued_delivery_ids", "must hold at most 10,000 ids");
      }
      const seen = signal.current;
      const first = await store.relayWebhooks({
        at: now(),
        queuedDeliveryIds,
        queuedMailEventIds,
        limit,
        resync: input.resync,
      });
      if (first.deliveryIds.length > 0 || first.mailEvents.length > 0 || first.more || waitMs === 0) return first;
      await signal.wait(waitMs, seen);
      return store.relayWebhooks({ at: now(), queuedDeliveryIds: [], queuedMailEventIds: [], limit, resync: false });
    },

    async prepare(idText) {
      const id = deliveryId(idText);
      const delivery = await store.getWebhookDelivery(id);
      if (!delivery) throw new NotFoundError("webhook delivery", idText);
      const over = (reason: string): PreparedDelivery => ({
        pending: false,
        reason,
        url: "",
        body: "",
        headers: {},
        endpointId: delivery.endpointId,
        eventId: "",
        eventType: "",
      });
      if (delivery.state !== "pending") return over(`the delivery has ${delivery.state}`);
      const endpoint = await store.getWebhookEndpoint(delivery.endpointId);
      const event = await store.getEventBySeq(delivery.eventSeq);
      const reason = !endpoint
        ? "the endpoint was deleted"
        : !endpoint.enabled
          ? "the endpoint is disabled"
          : !event
            ? "the event is no longer kept"
            : undefined;
      if (reason !== undefined || !endpoint || !event) {
        await store.finishWebhookDelivery(id, "failed", now());
        return over(reason ?? "");
      }
      const opened = sealer.open(endpoint.id, endpoint.secret);
      if (!opened.ok) {
        // The operator's key, not the receiver, is at fault: the attempt says so, nothing is sent.
        if (!unopenedLogged.has(endpoint.id)) {
          unopenedLogged.add(endpoint.id);
          logger.error({ endpointId: endpoint.id }, `webhook deliveries cannot be signed: ${opened.reason}`);
        }
        const recorded = await record(
          {
            deliveryId: idText,
            attempt: delivery.attempts + 1,
            responseCode: 0,
            durationMs: 0,
            error: opened.reason,
            succeeded: false,
            final: true,
          },
          false,
        );
        // The worker queues no next delivery for a delivery it did not send: the relay hands it out.
        if (recorded.nextDeliveryId !== "") signal.notify();
        return over(opened.reason);
      }
      const body = eventBody(event);
      // Whole seconds, the header's unit; the wall clock, which the receiver checks against its own.
      const timestamp = new Date(Math.floor(wallClock() / 1000) * 1000);
      const signature = new Webhook(opened.secret).sign(event.id, timestamp, body);
      return {
        pending: true,
        reason: "",
        url: endpoint.url,
        body,
        headers: {
          "webhook-id": event.id,
          "webhook-timestamp": String(timestamp.getTime() / 1000),
          "webhook-signature": signature,
        },
        endpointId: endpoint.id,
        eventId: event.id,
        eventType: event.type,
      };
    },

    recordAttempt: (input) => record(input, true),
  };

  /** `receiverFailed`: a failure counts toward disabling the endpoint (see AttemptOutcome). */
  async function record(
    input: AttemptInput,
    receiverFailed: boolean,
  ): Promise<{ nextDeliveryId: string; endpointDisabled: boolean }> {
    const id = deliveryId(input.deliveryId);
    const attemptNumber = int(input.attempt, "attempt", 1, 1000);
    const responseCode = int(input.responseCode, "response_code", 0, 999);
    const durationMs = int(input.durationMs, "duration_ms", 0, 86_400_000);
    if ([...input.error].length > 1000) throw new ValidationError("error", "must be at most 1,000 characters");
    const delivery = await store.getWebhookDelivery(id);
    if (!delivery) throw new NotFoundError("webhook delivery", input.deliveryId);
    const event = await store.getEventBySeq(delivery.eventSeq);
    const endpoint = await store.getWebhookEndpoint(delivery.endpointId);
    const at = now();
    const reason = `every delivery attempt failed for ${FAILING_DISABLE_MS / 86_400_000} days`;
    const disabledData = endpoint ? endpointData({ ...endpoint, enabled: false, disabledReason: reason }) : {};
    const result = await store.recordWebhookAttempt(
      {
        deliveryId: id,
        endpointId: delivery.endpointId,
        eventId: event?.id ?? "",
        eventType: event?.type ?? "",
        attempt: attemptNumber,
        at,
        succeeded: input.succeeded,
        responseCode: responseCode === 0 ? null : responseCode,
        durationMs,
        error: input.succeeded ? null : input.error || "failed",
        manual: delivery.manual,
      },
      {
        succeeded: input.succeeded,
        final: input.final,
        receiverFailed,
        disableIfFailingSince: at - FAILING_DISABLE_MS,
        disabledReason: reason,
        disabledEvent: newEvent("webhook_endpoint.disabled", at, { endpoint: disabledData }, { mail: true }),
        disabledAudit: {
          at,
          actor: "service",
          actorKeyId: null,
          action: "webhook.auto_disable",
          keyId: null,
          exportId: null,
          summary: `disabled webhook endpoint ${delivery.endpointId}: ${reason}`,
          changedFields: ["enabled"],
        },
      },
    );
    if (result.endpointDisabled) signal.notify();
    return {
      nextDeliveryId: result.nextDeliveryId === null ? "" : String(result.nextDeliveryId),
      endpointDisabled: result.endpointDisabled,
    };
  }
  return api;
}

function types(eventTypes: readonly string[]): string {
  return eventTypes.length === 0 ? "every event" : eventTypes.join(", ");
}
