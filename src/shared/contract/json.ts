import type { JsonObject } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import type { AuditEvent } from "../../gen/keyward/v1/audit_pb.js";
import type { Export, ExportFilters } from "../../gen/keyward/v1/export_pb.js";
import type { Key, RateLimit, Refill } from "../../gen/keyward/v1/key_pb.js";
import type { KeyLog, UsageBucket } from "../../gen/keyward/v1/usage_pb.js";
import { type WebhookAttempt, WebhookAttemptStatus, type WebhookEndpoint } from "../../gen/keyward/v1/webhook_pb.js";
import {
  type ExportMailStateWord,
  type ExportResourceWord,
  type ExportStateWord,
  exportMailStateWords,
  exportResourceWords,
  exportStateWords,
  type KeyStatusWord,
  keyStatusWords,
  type PermissionWord,
  permissionWords,
  type RefillIntervalWord,
  refillIntervalWords,
  type VerifyCodeWord,
  verifyCodeWords,
} from "./enums.js";

/**
 * Proto messages -> the gateway's plain JSON: the proto's JSON field names,
 * timestamps as ISO-8601 strings, enums as short lower-case words, int64 as
 * numbers, and null (not "" or a missing field) for what is unset, so that
 * curl users and the CLI see every field of a key.
 */

export interface RateLimitJson {
  name: string;
  limit: number;
  durationSeconds: number;
}

export interface RefillJson {
  interval: RefillIntervalWord | null;
  amount: number;
  dayOfMonth: number | null;
  lastRefillTime: string | null;
}

export interface KeyJson {
  id: string;
  name: string;
  description: string | null;
  permission: PermissionWord;
  domainId: string | null;
  subject: string | null;
  scopes: string[];
  claims: JsonObject | null;
  createdBy: string | null;
  expireTime: string | null;
  enabled: boolean;
  allowedCidrs: string[];
  createTime: string | null;
  updateTime: string | null;
  revokeTime: string | null;
  lastUsedTime: string | null;
  revocationReason: string | null;
  requestCount: number;
  tokenHint: string;
  status: KeyStatusWord | null;
  rotatedFromId: string | null;
  rotatedToId: string | null;
  ratelimits: RateLimitJson[];
  /** Uses left; null means unlimited. */
  remaining: number | null;
  refill: RefillJson | null;
  /** Send back with keys.update, keys.delete or keys.rotate to change the key only if unchanged since. */
  etag: string;
  /** key.credits_low fires below this; null: 10% of the refill amount. */
  creditsLowThreshold: number | null;
}

export interface UsageBucketJson {
  startTime: string | null;
  total: number;
  outcomes: { code: VerifyCodeWord | null; count: number }[];
}

export interface KeyLogJson {
  id: string;
  keyId: string;
  time: string | null;
  code: VerifyCodeWord | null;
  ip: string | null;
  method: string | null;
  path: string | null;
  userAgent: string | null;
  tags: Record<string, string>;
}

export interface AuditEventJson {
  id: string;
  time: string | null;
  actor: string;
  /** The admin key that acted; null when the service itself acted. */
  actorKeyId: string | null;
  action: string;
  keyId: string | null;
  summary: string;
  changedFields: string[];
  exportId: string | null;
}

export interface ExportFiltersJson {
  status: KeyStatusWord | null;
  permission: PermissionWord | null;
  subject: string | null;
  domainId: string | null;
  nameContains: string | null;
  keyId: string | null;
  code: VerifyCodeWord | null;
  fromTime: string | null;
  toTime: string | null;
}

export interface ExportJson {
  id: string;
  resource: ExportResourceWord | null;
  filters: ExportFiltersJson;
  state: ExportStateWord | null;
  requestedBy: string;
  createTime: string | null;
  updateTime: string | null;
  expireTime: string | null;
  matchingRows: number;
  rowCount: number;
  byteSize: number;
  error: string | null;
  attempts: number;
  /** Whether the admin was told by mail; null for exports older than this record. */
  mailState: ExportMailStateWord | null;
  /** Why the mail could not be sent (while retrying, or given up). */
  mailError: string | null;
  mailTime: string | null;
}

/** An export as exports.get and exports.list answer it. */
export interface ExportEntryJson extends ExportJson {
  /** The signed download link of a READY export, for admins; null for members and for other states. */
  downloadUrl: string | null;
}

/** A page of a list: `nextPageToken` is null on the last page. */
export interface PageJson {
  nextPageToken: string | null;
}

export function isoTime(ts: Timestamp | undefined): string | null {
  return ts ? timestampDate(ts).toISOString() : null;
}

const orNull = (s: string): string | null => (s === "" ? null : s);

/** int64 counters never come near 2^53; Number() keeps JSON plain. */
const num = (n: bigint | number): number => Number(n);

export function rateLimitJson(r: RateLimit): RateLimitJson {
  return { name: r.name, limit: r.limit, durationSeconds: r.durationSeconds };
}

export function refillJson(r: Refill | undefined): RefillJson | null {
  if (!r || r.interval === 0) return null;
  return {
    interval: refillIntervalWords.word(r.interval),
    amount: num(r.amount),
    dayOfMonth: r.dayOfMonth === 0 ? null : r.dayOfMonth,
    lastRefillTime: isoTime(r.lastRefillTime),
  };
}

export function keyJson(k: Key): KeyJson {
  return {
    id: k.id,
    name: k.name,
    description: orNull(k.description),
    // Unset means full access (SPEC §2).
    permission: permissionWords.word(k.permission) ?? "full_access",
    domainId: orNull(k.domainId),
    subject: orNull(k.subject),
    scopes: [...k.scopes],
    claims: k.claims ?? null,
    createdBy: orNull(k.createdBy),
    expireTime: isoTime(k.expireTime),
    enabled: k.enabled,
    allowedCidrs: [...k.allowedCidrs],
    createTime: isoTime(k.createTime),
    updateTime: isoTime(k.updateTime),
    revokeTime: isoTime(k.revokeTime),
    lastUsedTime: isoTime(k.lastUsedTime),
    revocationReason: orNull(k.revocationReason),
    requestCount: num(k.requestCount),
    tokenHint: k.tokenHint,
    status: keyStatusWords.word(k.status),
    rotatedFromId: orNull(k.rotatedFromId),
    rotatedToId: orNull(k.rotatedToId),
    ratelimits: k.ratelimits.map(rateLimitJson),
    remaining: k.remaining === undefined ? null : num(k.remaining),
    refill: refillJson(k.refill),
    etag: k.etag,
    creditsLowThreshold: k.creditsLowThreshold === undefined ? null : num(k.creditsLowThreshold),
  };
}

export function usageBucketJson(b: UsageBucket): UsageBucketJson {
  return {
    startTime: isoTime(b.startTime),
    total: num(b.total),
    outcomes: b.outcomes.map((o) => ({ code: verifyCodeWords.word(o.code), count: num(o.count) })),
  };
}

export function keyLogJson(l: KeyLog): KeyLogJson {
  return {
    id: l.id,
    keyId: l.keyId,
    time: isoTime(l.time),
    code: verifyCodeWords.word(l.code),
    ip: orNull(l.ip),
    method: orNull(l.method),
    path: orNull(l.path),
    userAgent: orNull(l.userAgent),
    tags: { ...l.tags },
  };
}

export function auditEventJson(e: AuditEvent): AuditEventJson {
  return {
    id: e.id,
    time: isoTime(e.time),
    actor: e.actor,
    actorKeyId: orNull(e.actorKeyId),
    action: e.action,
    keyId: orNull(e.keyId),
    summary: e.summary,
    changedFields: [...e.changedFields],
    exportId: orNull(e.exportId),
  };
}

export function exportFiltersJson(f: ExportFilters | undefined): ExportFiltersJson {
  return {
    status: f ? keyStatusWords.word(f.status) : null,
    permission: f ? permissionWords.word(f.permission) : null,
    subject: f ? orNull(f.subject) : null,
    domainId: f ? orNull(f.domainId) : null,
    nameContains: f ? orNull(f.nameContains) : null,
    keyId: f ? orNull(f.keyId) : null,
    code: f ? verifyCodeWords.word(f.code) : null,
    fromTime: isoTime(f?.fromTime),
    toTime: isoTime(f?.toTime),
  };
}

export function exportJson(e: Export): ExportJson {
  return {
    id: e.id,
    resource: exportResourceWords.word(e.resource),
    filters: exportFiltersJson(e.filters),
    state: exportStateWords.word(e.state),
    requestedBy: e.requestedBy,
    createTime: isoTime(e.createTime),
    updateTime: isoTime(e.updateTime),
    expireTime: isoTime(e.expireTime),
    matchingRows: num(e.matchingRows),
    rowCount: num(e.rowCount),
    byteSize: num(e.byteSize),
    error: orNull(e.error),
    attempts: e.attempts,
    mailState: exportMailStateWords.word(e.mailState),
    mailError: orNull(e.mailError),
    mailTime: isoTime(e.mailTime),
  };
}

export const nextPage = (token: string): string | null => orNull(token);

/** A response message's required sub-message; its absence is the service's bug, not the caller's. */
export function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`the key service answered without ${what}`);
  return value;
}

/** A webhook endpoint as the gateway shows it: never its secret. */
export interface WebhookEndpointJson {
  id: string;
  url: string;
  description: string | null;
  /** Empty: every event type. */
  eventTypes: string[];
  enabled: boolean;
  createdBy: string | null;
  createTime: string | null;
  updateTime: string | null;
  /** Why Keyward disabled it (failing for days); null otherwise. */
  disabledReason: string | null;
  /** Since when every attempt to it has failed; null while it answers. */
  failingSince: string | null;
}

export interface WebhookAttemptJson {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  attempt: number;
  time: string | null;
  status: "succeeded" | "failed";
  /** The HTTP status; null when there was no answer. */
  responseCode: number | null;
  durationMs: number;
  error: string | null;
  manual: boolean;
  deliveryId: string;
}

export function webhookEndpointJson(e: WebhookEndpoint): WebhookEndpointJson {
  return {
    id: e.id,
    url: e.url,
    description: orNull(e.description),
    eventTypes: [...e.eventTypes],
    enabled: e.enabled,
    createdBy: orNull(e.createdBy),
    createTime: isoTime(e.createTime),
    updateTime: isoTime(e.updateTime),
    disabledReason: orNull(e.disabledReason),
    failingSince: isoTime(e.failingSince),
  };
}

export function webhookAttemptJson(a: WebhookAttempt): WebhookAttemptJson {
  return {
    id: a.id,
    endpointId: a.endpointId,
    eventId: a.eventId,
    eventType: a.eventType,
    attempt: a.attempt,
    time: isoTime(a.time),
    status: a.status === WebhookAttemptStatus.SUCCEEDED ? "succeeded" : "failed",
    responseCode: a.responseCode === 0 ? null : a.responseCode,
    durationMs: a.durationMs,
    error: orNull(a.error),
    manual: a.manual,
    deliveryId: a.deliveryId,
  };
}
