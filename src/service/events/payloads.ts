import { create, type JsonObject as ProtoJsonObject } from "@bufbuild/protobuf";
import { uuidv7 } from "uuidv7";
import { ExportSchema } from "../../gen/keyward/v1/export_pb.js";
import { KeySchema } from "../../gen/keyward/v1/key_pb.js";
import { exportJson, keyJson } from "../../shared/contract/json.js";
import type { EventRecord, ExportRecord, JsonObject, KeyRecord, WebhookEndpointRecord } from "../keys/model.js";
import { deriveStatus } from "../keys/status.js";
import { exportToProto, keyToProto } from "../mapping/to-proto.js";

/**
 * The data of outbox events: a key or an export exactly as the gateway shows
 * it (src/shared/contract/json.ts), built from the record the transaction
 * writes. A key's JSON never holds its token (only the hint).
 */

export function keyData(record: KeyRecord, now: number, inactiveDays: number): JsonObject {
  const proto = create(KeySchema, keyToProto({ record, status: deriveStatus(record, now, inactiveDays) }));
  return plain(keyJson(proto));
}

export function exportData(record: ExportRecord): JsonObject {
  return plain(exportJson(create(ExportSchema, exportToProto(record))));
}

/** An endpoint as events about it show it: never its secret. */
export function endpointData(endpoint: WebhookEndpointRecord): JsonObject {
  return {
    id: endpoint.id,
    url: endpoint.url,
    description: endpoint.description,
    disabledReason: endpoint.disabledReason,
    failingSince: endpoint.failingSince === null ? null : new Date(endpoint.failingSince).toISOString(),
  };
}

/** A new event id: msg_ and a UUIDv7 (time-ordered) without dashes, as Standard Webhooks suggests. */
export function newEventId(): string {
  return `msg_${uuidv7().replaceAll("-", "")}`;
}

export function newEvent(
  type: string,
  at: number,
  data: JsonObject,
  about: { keyId?: string; exportId?: string; mail?: boolean } = {},
): EventRecord {
  return {
    id: newEventId(),
    type,
    at,
    keyId: about.keyId ?? null,
    exportId: about.exportId ?? null,
    data,
    mail: about.mail ?? false,
  };
}

/** A key event whose data is the key alone (plus `extra`). */
export function keyEvent(
  type: string,
  record: KeyRecord,
  at: number,
  inactiveDays: number,
  extra: JsonObject = {},
  mail = false,
): EventRecord {
  return newEvent(type, at, { key: keyData(record, at, inactiveDays), ...extra }, { keyId: record.id, mail });
}

/** The body POSTed to endpoints: `{type, timestamp, data}`. */
export function eventBody(event: Pick<EventRecord, "type" | "at" | "data">): string {
  return JSON.stringify({ type: event.type, timestamp: new Date(event.at).toISOString(), data: event.data });
}

function plain(value: object): JsonObject {
  return value as unknown as ProtoJsonObject as JsonObject;
}
