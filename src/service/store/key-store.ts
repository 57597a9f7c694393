import type {
  AttemptOutcome,
  AuditEntry,
  AuditFilter,
  AuditRow,
  EventRecord,
  ExportRecord,
  ExportState,
  KeyCursor,
  KeyFilter,
  KeyLogFilter,
  KeyLogRow,
  KeyRecord,
  RelayInput,
  RelayResult,
  StoredEvent,
  SweepOptions,
  SweepResult,
  UsageBatch,
  UsageRow,
  WebhookAttemptRecord,
  WebhookDeliveryRecord,
  WebhookEndpointRecord,
} from "../keys/model.js";

/**
 * A recorded change to a key, in commit order. `version` is the key's
 * version after the change (one past its last version for a deleted row).
 */
export interface KeyChange {
  id: number;
  keyId: string;
  hash: string;
  version: number;
}

/**
 * Where the service keeps its data. The store never decides policy: the
 * domain computes every new value (including status-relevant times) and the
 * store writes it. Every method that takes an AuditEntry writes it in the same
 * transaction as the change, and returns only once the change is durable.
 *
 * Methods are asynchronous so that a networked database can implement them;
 * the SQLite implementation answers synchronously inside the promise.
 */
/** A stored webhook secret and what to store instead (sealed-secrets.ts). */
export interface WebhookSecretChange {
  endpointId: string;
  from: string;
  to: string;
}

export interface KeyStore {
  /** `events` go to the outbox in the same transaction (so do those of every write below that takes them). */
  insertKey(key: KeyRecord, audit: AuditEntry, events?: readonly EventRecord[]): Promise<void>;
  getKeyById(id: string): Promise<KeyRecord | undefined>;
  getKeyByHash(hash: string): Promise<KeyRecord | undefined>;
  /**
   * Newest first (createdAt desc, id desc), rows strictly after `after`.
   * Status filters are computed from times against `now`.
   */
  listKeys(filter: KeyFilter, now: number, limit: number, after?: KeyCursor): Promise<KeyRecord[]>;
  countKeys(filter: KeyFilter, now: number): Promise<number>;
  /**
   * Replaces every mutable column of the key with the given record's values,
   * except the credit balance, which changes only with `writeCredits` (spends
   * race with updates; see spendCredits), and only if the stored row is still
   * at `key.version - 1` (the record carries the version it writes). Rejects
   * with NotFoundError when the key is gone and ConflictError when another
   * write landed first: nothing is written then. Every other write that
   * changes a column this one writes (revocation by the sweep, refills) bumps
   * the version too, so no write can undo another.
   */
  updateKey(
    key: KeyRecord,
    audit: AuditEntry,
    options?: { writeCredits?: boolean; events?: readonly EventRecord[] },
  ): Promise<void>;
  /**
   * Writes `previous` (now linked and expiring/revoked) as updateKey does and
   * inserts `created`, in one transaction: a ConflictError inserts nothing.
   */
  rotateKey(previous: KeyRecord, created: KeyRecord, audit: AuditEntry, events?: readonly EventRecord[]): Promise<void>;

  /** Adds counts, moves last-used times forward, appends logs: one transaction. */
  applyUsage(batch: UsageBatch): Promise<void>;
  /** Hourly rows for the key in [from, to), oldest first. */
  getUsage(keyId: string, from: number, to: number): Promise<UsageRow[]>;
  /** Newest first; rows with id < beforeId when given. */
  listKeyLogs(keyId: string, filter: KeyLogFilter, limit: number, beforeId?: number): Promise<KeyLogRow[]>;

  /**
   * Atomically spends `cost` credits if at least that many remain; returns the
   * balance after, or null when there were too few (nothing is spent). A key
   * with unlimited credits returns Infinity. Durable once it resolves.
   */
  spendCredits(keyId: string, cost: number): Promise<number | null>;
  /** Many spends, each as spendCredits, in order, committed together (group commit). */
  spendCreditsBatch(spends: readonly { keyId: string; cost: number }[]): Promise<(number | null)[]>;
  /**
   * key.credits_low for a key a spend just took below its line, unless it was
   * told since its last refill: marks it as told and records the event in one
   * transaction (so replicas crossing together tell it once). False when there
   * is nothing to tell. The sweep does the same for every key, as a backstop.
   */
  noteCreditsLow(keyId: string, options: { now: number; inactiveDays: number }): Promise<boolean>;
  /**
   * Sets the balance to `amount` and the last refill to `at`, only if the
   * last refill is still `expected` (so two refills cannot both happen).
   */
  refillCredits(keyId: string, amount: number, at: number, expected: number | null): Promise<boolean>;
  /**
   * Refills, in one statement, every live key whose last refill is before its
   * latest refill moment: `dailyMoment` for daily refills, and
   * `monthlyMoments[dayOfMonth - 1]` for monthly ones. Returns their ids.
   */
  refillDueCredits(at: number, dailyMoment: number, monthlyMoments: readonly number[]): Promise<string[]>;

  /** Newest first; rows with id < beforeId when given. */
  listAuditEvents(filter: AuditFilter, limit: number, beforeId?: number): Promise<AuditRow[]>;

  insertExport(record: ExportRecord, audit: AuditEntry): Promise<void>;
  getExport(id: string): Promise<ExportRecord | undefined>;
  /** Newest first; rows created before the cursor export's creation. */
  listExports(state: ExportState | undefined, limit: number, after?: KeyCursor): Promise<ExportRecord[]>;
  updateExport(record: ExportRecord, events?: readonly EventRecord[]): Promise<void>;
  /** Log rows matching an export's filters, newest first, id < beforeId. */
  listLogsForExport(filter: KeyLogFilter & { keyId?: string }, limit: number, beforeId?: number): Promise<KeyLogRow[]>;
  countLogsForExport(filter: KeyLogFilter & { keyId?: string }): Promise<number>;

  /**
   * One maintenance pass; each step is one set-based statement in one
   * transaction, which also records the events of what it found (key.inactive,
   * key.revoked, key.expiring, key.expired, key.credits_low) and prunes the
   * outbox, deliveries and attempts past their retention.
   */
  sweep(options: SweepOptions, audit: Omit<AuditEntry, "keyId">): Promise<SweepResult>;

  /**
   * Changes with id > afterId, oldest first, at most `limit`. Every write
   * that moves a key's version records one in its own transaction, and ids
   * grow in commit order, so a reader that remembers the last id it saw
   * misses nothing.
   */
  readChanges(afterId: number, limit: number): Promise<KeyChange[]>;
  /** The newest change's id; 0 when there is none. */
  latestChangeId(): Promise<number>;
  /**
   * Wakes a follower when changes commit (PostgreSQL's LISTEN). `onConnected`
   * says when the listening connection drops and when it is back. Stores
   * without push (SQLite) leave it out and their followers poll.
   */
  watchChanges?(onWake: () => void, onConnected: (connected: boolean) => void): () => Promise<void>;

  insertWebhookEndpoint(endpoint: WebhookEndpointRecord, audit: AuditEntry): Promise<void>;
  getWebhookEndpoint(id: string): Promise<WebhookEndpointRecord | undefined>;
  /** Newest first (createdAt desc, id desc), rows strictly after `after`. */
  listWebhookEndpoints(limit: number, after?: KeyCursor): Promise<WebhookEndpointRecord[]>;
  /**
   * Writes the endpoint if the stored row is still at `endpoint.version - 1`
   * (NotFoundError, ConflictError otherwise). A disabled endpoint's pending
   * deliveries end as failed, in the same transaction.
   */
  updateWebhookEndpoint(endpoint: WebhookEndpointRecord, audit: AuditEntry): Promise<void>;
  /** Deletes the endpoint and its pending deliveries (NotFoundError when gone); attempts stay. */
  deleteWebhookEndpoint(id: string, audit: AuditEntry): Promise<void>;
  /**
   * One transaction: each endpoint's secret becomes `to` where it still is
   * `from` (another replica may have sealed it first); the number changed.
   * The only write of a secret after its endpoint's creation.
   */
  replaceWebhookSecrets(changes: readonly WebhookSecretChange[]): Promise<number>;
  getEvent(id: string): Promise<StoredEvent | undefined>;
  getEventBySeq(seq: number): Promise<StoredEvent | undefined>;
  /** A new delivery of the event to the endpoint, in a chain of its own; returns its id. */
  resendWebhookEvent(endpointId: string, eventSeq: number, at: number, audit: AuditEntry): Promise<number>;
  /**
   * One transaction: records the deliveries and mails the relay queued,
   * hands every event not yet relayed to the enabled endpoints that want it
   * (one delivery each, in event order), and answers the deliveries to queue
   * (the first pending of each endpoint and key not queued yet; every first
   * one with `resync`) and the mail events not queued yet.
   */
  relayWebhooks(input: RelayInput): Promise<RelayResult>;
  getWebhookDelivery(id: number): Promise<WebhookDeliveryRecord | undefined>;
  /** Ends a pending delivery without an attempt (its endpoint is gone or disabled). */
  finishWebhookDelivery(id: number, state: "succeeded" | "failed", at: number): Promise<void>;
  /**
   * Writes the attempt and, in the same transaction, the delivery's state,
   * the endpoint's failing-since (and its disabling when it has failed long
   * enough). Answers the next pending delivery of the same endpoint and key.
   */
  recordWebhookAttempt(
    attempt: Omit<WebhookAttemptRecord, "id">,
    outcome: AttemptOutcome,
  ): Promise<{ nextDeliveryId: number | null; endpointDisabled: boolean }>;
  /** Newest first; rows with id < beforeId when given. */
  listWebhookAttempts(
    filter: { endpointId: string; eventId?: string },
    limit: number,
    beforeId?: number,
  ): Promise<WebhookAttemptRecord[]>;

  /** Flushes and closes; later calls fail. */
  close(): Promise<void>;
}
