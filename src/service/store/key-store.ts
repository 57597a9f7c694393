import type {
  AuditEntry,
  AuditFilter,
  AuditRow,
  ExportRecord,
  ExportState,
  KeyCursor,
  KeyFilter,
  KeyLogFilter,
  KeyLogRow,
  KeyRecord,
  SweepOptions,
  SweepResult,
  UsageBatch,
  UsageRow,
} from "../keys/model.js";

/** One write that gave a key a new version (or removed it), from the change record. */
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
export interface KeyStore {
  insertKey(key: KeyRecord, audit: AuditEntry): Promise<void>;
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
  updateKey(key: KeyRecord, audit: AuditEntry, options?: { writeCredits?: boolean }): Promise<void>;
  /**
   * Writes `previous` (now linked and expiring/revoked) as updateKey does and
   * inserts `created`, in one transaction: a ConflictError inserts nothing.
   */
  rotateKey(previous: KeyRecord, created: KeyRecord, audit: AuditEntry): Promise<void>;

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
  updateExport(record: ExportRecord): Promise<void>;
  /** Log rows matching an export's filters, newest first, id < beforeId. */
  listLogsForExport(filter: KeyLogFilter & { keyId?: string }, limit: number, beforeId?: number): Promise<KeyLogRow[]>;
  countLogsForExport(filter: KeyLogFilter & { keyId?: string }): Promise<number>;

  /** One maintenance pass; each step is one set-based statement in one transaction. */
  sweep(options: SweepOptions, audit: Omit<AuditEntry, "keyId">): Promise<SweepResult>;

  /** Changes with id > afterId, oldest first, at most `limit`. Ids grow in commit order. */
  readChanges(afterId: number, limit: number): Promise<KeyChange[]>;
  /** The newest change's id; 0 when there is none. */
  latestChangeId(): Promise<number>;
  /** PostgreSQL only: calls onWake when changes were committed (LISTEN), onConnected(false/true) when the listening connection drops / is back. Returns a stop function. SQLite leaves it undefined (followers poll). */
  watchChanges?(onWake: () => void, onConnected: (connected: boolean) => void): () => Promise<void>;

  /** Flushes and closes; later calls fail. */
  close(): Promise<void>;
}
