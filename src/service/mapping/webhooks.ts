import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type {
  ListWebhookAttemptsRequest,
  ListWebhookEndpointsRequest,
  RelayWebhooksRequest,
  ReportLeakRequest,
  UpdateWebhookEndpointRequest,
} from "../../gen/keyward/v1/key_service_pb.js";
import {
  LeakAction,
  type MailEventSchema,
  type WebhookAttemptSchema,
  WebhookAttemptStatus,
  type WebhookEndpointSchema,
} from "../../gen/keyward/v1/webhook_pb.js";
import { ValidationError } from "../keys/errors.js";
import type { StoredEvent, WebhookAttemptRecord, WebhookEndpointRecord } from "../keys/model.js";
import type { RelayRequest, UpdateEndpointInput } from "../keys/webhooks.js";
import { pageSizeFromProto } from "./numbers.js";
import { timestampFromNullableMs } from "./timestamps.js";

type Init<T extends DescMessage> = MessageInitShape<T>;

/** An endpoint as every answer shows it: never its secret. */
export function endpointToProto(endpoint: WebhookEndpointRecord): Init<typeof WebhookEndpointSchema> {
  return {
    id: endpoint.id,
    url: endpoint.url,
    description: endpoint.description,
    eventTypes: endpoint.eventTypes,
    enabled: endpoint.enabled,
    createdBy: endpoint.createdBy,
    createTime: timestampFromMs(endpoint.createdAt),
    updateTime: timestampFromMs(endpoint.updatedAt),
    disabledReason: endpoint.disabledReason ?? "",
    failingSince: timestampFromNullableMs(endpoint.failingSince),
  };
}

export function attemptToProto(attempt: WebhookAttemptRecord): Init<typeof WebhookAttemptSchema> {
  return {
    id: String(attempt.id),
    endpointId: attempt.endpointId,
    eventId: attempt.eventId,
    eventType: attempt.eventType,
    attempt: attempt.attempt,
    time: timestampFromMs(attempt.at),
    status: attempt.succeeded ? WebhookAttemptStatus.SUCCEEDED : WebhookAttemptStatus.FAILED,
    responseCode: attempt.responseCode ?? 0,
    durationMs: attempt.durationMs,
    error: attempt.error ?? "",
    manual: attempt.manual,
    deliveryId: String(attempt.deliveryId),
  };
}

export function mailEventToProto(event: StoredEvent): Init<typeof MailEventSchema> {
  return { id: event.id, type: event.type, time: timestampFromMs(event.at), dataJson: JSON.stringify(event.data) };
}

export function pageInput(req: ListWebhookEndpointsRequest | ListWebhookAttemptsRequest) {
  return { pageSize: pageSizeFromProto(req.pageSize), pageToken: req.pageToken || undefined };
}

const ENDPOINT_PATHS = ["url", "description", "event_types", "enabled"];

export function updateEndpointInput(req: UpdateWebhookEndpointRequest): UpdateEndpointInput {
  const paths = req.updateMask?.paths ?? [];
  if (paths.length === 0) throw new ValidationError("update_mask", "must name at least one field");
  paths.forEach((path, i) => {
    if (!ENDPOINT_PATHS.includes(path)) {
      throw new ValidationError(
        `update_mask.paths[${i}]`,
        `${JSON.stringify(path)} is not an updatable field; expected one of ${ENDPOINT_PATHS.join(", ")}`,
      );
    }
  });
  return {
    fields: paths,
    url: req.url,
    description: req.description,
    eventTypes: req.eventTypes,
    enabled: req.enabled,
  };
}

export function relayInput(req: RelayWebhooksRequest): RelayRequest {
  if (req.waitMs < 0) throw new ValidationError("wait_ms", "must not be negative");
  if (req.limit < 0) throw new ValidationError("limit", "must not be negative");
  return {
    queuedDeliveryIds: req.queuedDeliveryIds,
    queuedMailEventIds: req.queuedMailEventIds,
    waitMs: req.waitMs,
    limit: req.limit,
    resync: req.resync,
  };
}

export function leakAction(req: ReportLeakRequest): "revoke" | "disable" {
  switch (req.action) {
    case LeakAction.UNSPECIFIED:
    case LeakAction.REVOKE:
      return "revoke";
    case LeakAction.DISABLE:
      return "disable";
    default:
      throw new ValidationError(
        "action",
        `unknown value ${req.action}; expected LEAK_ACTION_REVOKE or LEAK_ACTION_DISABLE`,
      );
  }
}
