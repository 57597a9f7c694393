import type {
  EventRecord,
  JsonObject,
  StoredEvent,
  WebhookAttemptRecord,
  WebhookDeliveryRecord,
  WebhookDeliveryState,
  WebhookEndpointRecord,
} from "../../keys/model.js";

/**
 * Column shapes of the outbox and webhook tables, shared by both stores:
 * JSON columns are text, booleans are 0/1 in SQLite and true/false in
 * PostgreSQL (the readers accept both; writers pick with `bool`).
 */

export type Bool = number | boolean;
export const sqliteBool = (b: boolean): Bool => (b ? 1 : 0);
export const postgresBool = (b: boolean): Bool => b;

export interface EventColumns {
  seq: number;
  id: string;
  type: string;
  at: number;
  key_id: string | null;
  export_id: string | null;
  data: string;
  relayed_at: number | null;
  mail_state: string;
}

export const EVENT_INSERT_COLUMNS = ["id", "type", "at", "key_id", "export_id", "data", "mail_state"] as const;

export function eventToColumns(event: EventRecord): Omit<EventColumns, "seq" | "relayed_at"> {
  return {
    id: event.id,
    type: event.type,
    at: event.at,
    key_id: event.keyId,
    export_id: event.exportId,
    data: JSON.stringify(event.data),
    mail_state: event.mail ? "pending" : "none",
  };
}

export function eventFromColumns(row: EventColumns): StoredEvent {
  return {
    seq: row.seq,
    id: row.id,
    type: row.type,
    at: row.at,
    keyId: row.key_id,
    exportId: row.export_id,
    data: JSON.parse(row.data) as JsonObject,
    mail: row.mail_state !== "none",
  };
}

export interface EndpointColumns {
  id: string;
  url: string;
  description: string;
  event_types: string;
  enabled: Bool;
  secret: string;
  created_by: string;
  created_at: number;
  updated_at: number;
  disabled_reason: string | null;
  failing_since: number | null;
  version: number;
}

export const ENDPOINT_COLUMNS = [
  "id",
  "url",
  "description",
  "event_types",
  "enabled",
  "secret",
  "created_by",
  "created_at",
  "updated_at",
  "disabled_reason",
  "failing_since",
  "version",
] as const satisfies readonly (keyof EndpointColumns)[];

/** Written once: identity, secret, provenance. */
export const ENDPOINT_COLUMNS_NOT_UPDATED = new Set<string>(["id", "secret", "created_by", "created_at"]);

export function endpointToColumns(endpoint: WebhookEndpointRecord, bool: (b: boolean) => Bool): EndpointColumns {
  return {
    id: endpoint.id,
    url: endpoint.url,
    description: endpoint.description,
    event_types: JSON.stringify(endpoint.eventTypes),
    enabled: bool(endpoint.enabled),
    secret: endpoint.secret,
    created_by: endpoint.createdBy,
    created_at: endpoint.createdAt,
    updated_at: endpoint.updatedAt,
    disabled_reason: endpoint.disabledReason,
    failing_since: endpoint.failingSince,
    version: endpoint.version,
  };
}

export function endpointFromColumns(row: EndpointColumns): WebhookEndpointRecord {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    eventTypes: JSON.parse(row.event_types) as string[],
    enabled: Boolean(row.enabled),
    secret: row.secret,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    disabledReason: row.disabled_reason,
    failingSince: row.failing_since,
    version: row.version,
  };
}

export interface DeliveryColumns {
  id: number;
  event_seq: number;
  endpoint_id: string;
  order_key: string;
  state: string;
  attempts: number;
  manual: Bool;
  created_at: number;
  updated_at: number;
  queued_at: number | null;
}

export function deliveryFromColumns(row: DeliveryColumns): WebhookDeliveryRecord {
  return {
    id: row.id,
    eventSeq: row.event_seq,
    endpointId: row.endpoint_id,
    orderKey: row.order_key,
    state: row.state as WebhookDeliveryState,
    attempts: row.attempts,
    manual: Boolean(row.manual),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    queuedAt: row.queued_at,
  };
}

export interface AttemptColumns {
  id: number;
  delivery_id: number;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  attempt: number;
  at: number;
  succeeded: Bool;
  response_code: number | null;
  duration_ms: number;
  error: string | null;
  manual: Bool;
}

export const ATTEMPT_INSERT_COLUMNS = [
  "delivery_id",
  "endpoint_id",
  "event_id",
  "event_type",
  "attempt",
  "at",
  "succeeded",
  "response_code",
  "duration_ms",
  "error",
  "manual",
] as const;

export function attemptToColumns(
  attempt: Omit<WebhookAttemptRecord, "id">,
  bool: (b: boolean) => Bool,
): Omit<AttemptColumns, "id"> {
  return {
    delivery_id: attempt.deliveryId,
    endpoint_id: attempt.endpointId,
    event_id: attempt.eventId,
    event_type: attempt.eventType,
    attempt: attempt.attempt,
    at: attempt.at,
    succeeded: bool(attempt.succeeded),
    response_code: attempt.responseCode,
    duration_ms: attempt.durationMs,
    error: attempt.error,
    manual: bool(attempt.manual),
  };
}

export function attemptFromColumns(row: AttemptColumns): WebhookAttemptRecord {
  return {
    id: row.id,
    deliveryId: row.delivery_id,
    endpointId: row.endpoint_id,
    eventId: row.event_id,
    eventType: row.event_type,
    attempt: row.attempt,
    at: row.at,
    succeeded: Boolean(row.succeeded),
    responseCode: row.response_code,
    durationMs: row.duration_ms,
    error: row.error,
    manual: Boolean(row.manual),
  };
}

/** Whether an endpoint wants events of this type: it names none (every type) or this one. */
export function wants(eventTypes: readonly string[], type: string): boolean {
  return eventTypes.length === 0 || eventTypes.includes(type);
}

/** The chain an event's deliveries join: one per key (or export); other events are alone. */
export function orderKeyOf(event: Pick<EventRecord, "keyId" | "exportId" | "id">): string {
  if (event.keyId !== null) return `key:${event.keyId}`;
  if (event.exportId !== null) return `export:${event.exportId}`;
  return `event:${event.id}`;
}
