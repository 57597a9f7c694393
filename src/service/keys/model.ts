/**
 * The domain's view of keys, usage, audit and exports. Plain data: no
 * transport or storage types. Times are milliseconds since the epoch.
 */

export type Permission = "full_access" | "sending_access";

export type KeyStatus = "active" | "inactive" | "expired" | "revoked" | "disabled";

/** Every verification outcome; the order is the proto enum's (VALID = 1). */
export const VERIFY_CODES = [
  "VALID",
  "MALFORMED",
  "NOT_FOUND",
  "REVOKED",
  "EXPIRED",
  "DISABLED",
  "IP_NOT_ALLOWED",
  "INSUFFICIENT_PERMISSION",
  "DOMAIN_MISMATCH",
  "MISSING_SCOPES",
  "RATE_LIMITED",
  "USAGE_EXCEEDED",
] as const;

export type VerifyCode = (typeof VERIFY_CODES)[number];

export interface RateLimitRule {
  name: string;
  limit: number;
  durationSeconds: number;
}

export interface RefillRule {
  interval: "daily" | "monthly";
  amount: number;
  /** Monthly only; 1-31. */
  dayOfMonth: number;
  lastRefillAt: number | null;
}

export type JsonObject = { [key: string]: JsonValue };
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;

/** A key as stored. `hash` is the hex SHA-256 of the token; the token itself is never kept. */
export interface KeyRecord {
  id: string;
  hash: string;
  tokenHint: string;
  name: string;
  description: string;
  permission: Permission;
  domainId: string | null;
  subject: string | null;
  scopes: string[];
  claims: JsonObject | null;
  createdBy: string;
  expiresAt: number | null;
  enabled: boolean;
  allowedCidrs: string[];
  createdAt: number;
  updatedAt: number;
  revokedAt: number | null;
  revocationReason: string | null;
  lastUsedAt: number | null;
  requestCount: number;
  rotatedFromId: string | null;
  rotatedToId: string | null;
  /** Set by the sweep when the key became inactive; cleared when it is used again. */
  inactiveSince: number | null;
  /** Set by the sweep when the key was reported as due for rotation. */
  rotationNotifiedAt: number | null;
  ratelimits: RateLimitRule[];
  /** Credits left; null means unlimited. */
  remaining: number | null;
  refill: RefillRule | null;
  /** key.credits_low below this many credits; null: 10% of the refill amount. */
  creditsLowThreshold: number | null;
  /**
   * Bumped by every write that changes what an admin or a verification sees
   * (not by usage counters or credit spends). A write names the version it
   * was decided against and fails if the row has moved on, so no change is
   * ever silently undone; the API shows it as the key's etag.
   */
  version: number;
}

/**
 * What verification reads of a key: the cache keeps only this (about half
 * of a KeyRecord's bytes), so 100k cached keys cost what they must and the
 * rest of each stored row dies young. `hash` is the cache's own key string.
 */
export type VerifiableKey = Pick<
  KeyRecord,
  | "id"
  | "hash"
  | "name"
  | "permission"
  | "domainId"
  | "subject"
  | "scopes"
  | "claims"
  | "expiresAt"
  | "revokedAt"
  | "enabled"
  | "allowedCidrs"
  | "ratelimits"
  | "version"
  | "remaining"
  | "refill"
  | "creditsLowThreshold"
>;

/** Filters of ListKeys, CountKeys and key exports; undefined fields do not filter. */
export interface KeyFilter {
  status?: KeyStatus;
  permission?: Permission;
  subject?: string;
  domainId?: string;
  nameContains?: string;
  scope?: string;
}

/** Keyset cursor: the last row of the previous page, newest-first order. */
export interface KeyCursor {
  createdAt: number;
  id: string;
}

export interface VerifyContext {
  ip: string;
  method: string;
  path: string;
  userAgent: string;
  tags: Record<string, string>;
}

/** One verification as the request log keeps it. */
export interface KeyLogEntry {
  keyId: string;
  at: number;
  code: VerifyCode;
  context: VerifyContext | null;
}

export interface KeyLogRow extends KeyLogEntry {
  id: number;
}

export interface KeyLogFilter {
  code?: VerifyCode;
  from?: number;
  to?: number;
}

/** Usage gathered in memory between two flushes, written in one transaction. */
export interface UsageBatch {
  /** Per key: verifications since the last flush, and the latest time. */
  keys: Map<string, { count: number; lastUsedAt: number }>;
  /** Per key, hour start (ms) and outcome: count. */
  buckets: { keyId: string; hourStart: number; code: VerifyCode; count: number }[];
  logs: KeyLogEntry[];
}

export interface UsageRow {
  bucketStart: number;
  code: VerifyCode;
  count: number;
}

export type AuditAction =
  | "key.create"
  | "key.update"
  | "key.delete"
  | "key.rotate"
  | "key.enable"
  | "key.disable"
  | "key.bootstrap"
  | "key.auto_revoke"
  | "key.leak"
  | "export.create"
  | "webhook.create"
  | "webhook.update"
  | "webhook.delete"
  | "webhook.resend"
  | "webhook.auto_disable";

/**
 * Who acts. `keyId` is the acting admin key when a person acts through the
 * gateway; it is null only for the service's own callers (the service
 * credential: workers, bootstrap, sweeps), whose names are reserved.
 */
export interface Actor {
  name: string;
  keyId: string | null;
}

export interface AuditEntry {
  at: number;
  actor: string;
  /** The acting key, beside the name; null when the service itself acted. */
  actorKeyId: string | null;
  action: AuditAction;
  keyId: string | null;
  exportId: string | null;
  summary: string;
  changedFields: string[];
}

export interface AuditRow extends AuditEntry {
  id: number;
}

export interface AuditFilter {
  keyId?: string;
  actor?: string;
  action?: string;
  from?: number;
  to?: number;
}

export type ExportResource = "api_keys" | "key_logs";
export type ExportState = "pending" | "ready" | "failed" | "expired";
/** Whether the admin was told by mail; null for exports made before it was recorded. */
export type ExportMailState = "pending" | "sent" | "failed" | "none";

export interface ExportFilters extends KeyFilter {
  keyId?: string;
  code?: VerifyCode;
  from?: number;
  to?: number;
}

export interface ExportRecord {
  id: string;
  resource: ExportResource;
  filters: ExportFilters;
  state: ExportState;
  requestedBy: string;
  createdAt: number;
  updatedAt: number;
  expiresAt: number;
  matchingRows: number;
  rowCount: number;
  byteSize: number;
  error: string | null;
  attempts: number;
  mailState: ExportMailState | null;
  mailError: string | null;
  mailAt: number | null;
}

export interface SweepOptions {
  now: number;
  inactiveDays: number;
  autoRevokeDays: number;
  logRetentionDays: number;
  rotationDays: number;
}

export interface SweepResult {
  newlyInactive: KeyRecord[];
  autoRevoked: KeyRecord[];
  expiredKeys: number;
  expiredExports: ExportRecord[];
  prunedLogs: number;
  rotationDue: KeyRecord[];
  /** Keys that came within 7 days (or 1 day) of their expiry in this pass; each once per notice. */
  expiringSoon: KeyRecord[];
  /** Keys told they are low on credits (key.credits_low) since the last pass, to remind: once per refill period. */
  creditsLow: KeyRecord[];
  /** Keys whose expiry passed in this pass. */
  expired: KeyRecord[];
}

/**
 * An event recorded in the outbox (`events`), in the same transaction as the
 * change that causes it; the workers deliver it from there. `id` is the
 * webhook-id receivers see (msg_...), the same on every attempt. `data` is
 * the payload's data: the key (or export) as the gateway shows it.
 */
export interface EventRecord {
  id: string;
  type: string;
  at: number;
  /** The key it is about: its webhooks are delivered in order per endpoint and key. */
  keyId: string | null;
  exportId: string | null;
  data: JsonObject;
  /** The workers also mail about it (a leaked key, a disabled endpoint). */
  mail: boolean;
}

export interface StoredEvent extends EventRecord {
  seq: number;
}

/** A registered webhook endpoint. `secret` never leaves the service after creation. */
export interface WebhookEndpointRecord {
  id: string;
  url: string;
  description: string;
  /** Empty: every event type. */
  eventTypes: string[];
  enabled: boolean;
  secret: string;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
  /** Why Keyward disabled it; null when it did not. */
  disabledReason: string | null;
  /** The first failed attempt of the current run of failures; null while it answers. */
  failingSince: number | null;
  version: number;
}

export type WebhookDeliveryState = "pending" | "succeeded" | "failed";

/**
 * One event to one endpoint. Deliveries with the same endpoint and
 * `orderKey` (the key's id) go out one after another, in id order.
 */
export interface WebhookDeliveryRecord {
  id: number;
  eventSeq: number;
  endpointId: string;
  orderKey: string;
  state: WebhookDeliveryState;
  attempts: number;
  manual: boolean;
  createdAt: number;
  updatedAt: number;
  queuedAt: number | null;
}

export interface WebhookAttemptRecord {
  id: number;
  deliveryId: number;
  endpointId: string;
  eventId: string;
  eventType: string;
  attempt: number;
  at: number;
  succeeded: boolean;
  /** null: no answer (timeout, network error). */
  responseCode: number | null;
  durationMs: number;
  error: string | null;
  manual: boolean;
}

/** What the relay asks the store for in one transaction. */
export interface RelayInput {
  at: number;
  queuedDeliveryIds: number[];
  queuedMailEventIds: string[];
  limit: number;
  /** Also deliveries queued before. */
  resync: boolean;
}

export interface RelayResult {
  deliveryIds: number[];
  mailEvents: StoredEvent[];
  more: boolean;
}

/** What one attempt changes besides its own row. */
export interface AttemptOutcome {
  succeeded: boolean;
  /** No retry follows. */
  final: boolean;
  /**
   * The receiver failed it (a status, a timeout, a refused connection): it
   * counts toward disabling the endpoint. False when Keyward could not send
   * at all (its own secrets key does not open the signing secret): an
   * operator's mistake neither starts nor extends the endpoint's failing time.
   */
  receiverFailed: boolean;
  /** The endpoint is disabled when it has been failing since this moment or earlier. */
  disableIfFailingSince: number;
  /** Written when this attempt disables the endpoint. */
  disabledReason: string;
  disabledEvent: EventRecord;
  disabledAudit: AuditEntry;
}
