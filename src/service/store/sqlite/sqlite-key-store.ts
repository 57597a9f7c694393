import type Database from "better-sqlite3";
import type { Logger } from "../../../shared/logger.js";
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
  VerifyCode,
  WebhookAttemptRecord,
  WebhookDeliveryRecord,
  WebhookEndpointRecord,
} from "../../keys/model.js";
import type { KeyChange, KeyStore, WebhookSecretChange } from "../key-store.js";
import { auditWhere, exportWhere, keyWhere, logWhere } from "./filters.js";
import { openDatabase } from "./open-database.js";
import {
  type AttemptColumns,
  attemptFromColumns,
  type DeliveryColumns,
  deliveryFromColumns,
  type EndpointColumns,
  type EventColumns,
  endpointFromColumns,
  eventFromColumns,
} from "./outbox-rows.js";
import {
  type AuditColumns,
  auditFromColumns,
  type ExportColumns,
  exportFromColumns,
  KEY_COLUMN_NAMES,
  type KeyColumns,
  type KeyLogColumns,
  keyColumnsFromValues,
  keyFromColumns,
  logFromColumns,
} from "./rows.js";
import { StatementCache } from "./statement-cache.js";
import { WriterThread } from "./writer-client.js";

export interface SqliteKeyStoreOptions {
  /** The database file; its directory is created when missing. */
  path: string;
  /** Days without use after which a key's status is inactive (list/count filters). */
  inactiveDays: number;
  logger?: Logger;
  /** How often the WAL is checkpointed and truncated; default 30 s. */
  checkpointIntervalMs?: number;
}

const DEFAULT_CHECKPOINT_INTERVAL_MS = 30_000;

/**
 * The KeyStore on one SQLite file (WAL). Reads run on this connection, on
 * the calling thread; every write runs on the writer thread's connection
 * (store-writes.ts), and a write's promise resolves once its transaction has
 * committed there (synchronous=FULL, except credit spends: see credits.ts).
 */
export class SqliteKeyStore implements KeyStore {
  private readonly db: Database.Database;
  private readonly inactiveDays: number;
  private readonly logger: Logger | undefined;
  /**
   * Every write and the checkpoints run on this thread's own connection, so
   * the event loop that answers VerifyKey never waits on an fsync (~5 ms
   * here), on a big transaction (a 16k-row usage flush holds a thread
   * ~150 ms) or on another connection's write lock (SQLite's busy wait
   * sleeps the waiting thread).
   */
  private readonly writer: WriterThread;
  private readonly shapes: StatementCache;
  private closed = false;

  private readonly keyById: Database.Statement<[string], KeyColumns>;
  private readonly keyByHash: Database.Statement<[string], unknown[]>;
  private readonly usageRows: Database.Statement<
    [string, number, number],
    { hour_start: number; code: string; count: number }
  >;
  private readonly exportById: Database.Statement<[string], ExportColumns>;
  private readonly changesAfter: Database.Statement<[number, number], KeyChange>;
  private readonly latestChange: Database.Statement<[], number>;

  constructor(options: SqliteKeyStoreOptions) {
    this.db = openDatabase(options.path);
    this.inactiveDays = options.inactiveDays;
    this.logger = options.logger;
    const db = this.db;
    this.shapes = new StatementCache(db);

    this.keyById = db.prepare<[string], KeyColumns>("SELECT * FROM keys WHERE id = ?");
    // The verification cache's miss path: raw rows (see keyColumnsFromValues).
    this.keyByHash = db
      .prepare<[string], unknown[]>(`SELECT ${KEY_COLUMN_NAMES.join(", ")} FROM keys WHERE hash = ?`)
      .raw(true);
    this.usageRows = db.prepare(
      `SELECT hour_start, code, count FROM usage_hourly
        WHERE key_id = ? AND hour_start >= ? AND hour_start < ?
        ORDER BY hour_start, code`,
    );
    this.exportById = db.prepare<[string], ExportColumns>("SELECT * FROM exports WHERE id = ?");
    this.changesAfter = db.prepare<[number, number], KeyChange>(
      "SELECT id, key_id AS keyId, hash, version FROM key_changes WHERE id > ? ORDER BY id LIMIT ?",
    );
    this.latestChange = db.prepare<[], number>("SELECT coalesce(max(id), 0) FROM key_changes").pluck();

    // Under steady writes the WAL never finds a quiet moment to reset itself;
    // the writer thread's periodic TRUNCATE checkpoint keeps it bounded.
    this.writer = new WriterThread(options.path, options.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS);
  }

  async insertKey(key: KeyRecord, audit: AuditEntry, events: readonly EventRecord[] = []): Promise<void> {
    await this.writer.write("insertKey", key, audit, events);
  }

  async getKeyById(id: string): Promise<KeyRecord | undefined> {
    const row = this.keyById.get(id);
    return row === undefined ? undefined : keyFromColumns(row);
  }

  async getKeyByHash(hash: string): Promise<KeyRecord | undefined> {
    const row = this.keyByHash.get(hash);
    return row === undefined ? undefined : keyFromColumns(keyColumnsFromValues(row));
  }

  async listKeys(filter: KeyFilter, now: number, limit: number, after?: KeyCursor): Promise<KeyRecord[]> {
    const where = keyWhere(filter, now, this.inactiveDays, after);
    const rows = this.shapes
      .get(`SELECT * FROM keys ${where.sql} ORDER BY created_at DESC, id DESC LIMIT @limit`)
      .all({ ...where.params, limit }) as KeyColumns[];
    return rows.map(keyFromColumns);
  }

  async countKeys(filter: KeyFilter, now: number): Promise<number> {
    const where = keyWhere(filter, now, this.inactiveDays);
    return this.shapes.get(`SELECT count(*) FROM keys ${where.sql}`).pluck().get(where.params) as number;
  }

  /**
   * Writes every column the domain manages from `key`. Identity, hash,
   * provenance and the usage counters (last used, request count, inactive
   * since) are left alone: applyUsage and the sweep own those.
   */
  async updateKey(
    key: KeyRecord,
    audit: AuditEntry,
    options?: { writeCredits?: boolean; events?: readonly EventRecord[] },
  ): Promise<void> {
    await this.writer.write("updateKey", key, audit, options?.writeCredits ?? false, options?.events ?? []);
  }

  async rotateKey(
    previous: KeyRecord,
    created: KeyRecord,
    audit: AuditEntry,
    events: readonly EventRecord[] = [],
  ): Promise<void> {
    await this.writer.write("rotateKey", previous, created, audit, events);
  }

  async applyUsage(batch: UsageBatch): Promise<void> {
    if (batch.keys.size === 0 && batch.buckets.length === 0 && batch.logs.length === 0) return;
    // Packed and transferred rather than cloned: a flush can hold 16k log rows.
    await this.writer.applyUsage(batch);
  }

  async getUsage(keyId: string, from: number, to: number): Promise<UsageRow[]> {
    return this.usageRows.all(keyId, from, to).map((row) => ({
      bucketStart: row.hour_start,
      code: row.code as VerifyCode,
      count: row.count,
    }));
  }

  async listKeyLogs(keyId: string, filter: KeyLogFilter, limit: number, beforeId?: number): Promise<KeyLogRow[]> {
    return this.selectLogs({ code: filter.code, from: filter.from, to: filter.to, keyId }, limit, beforeId);
  }

  /**
   * Returns the balance after spending, Infinity for a key without a credit
   * limit, or null when too few credits remain or the key does not exist.
   */
  async spendCredits(keyId: string, cost: number): Promise<number | null> {
    return (await this.spendCreditsBatch([{ keyId, cost }]))[0] ?? null;
  }

  async spendCreditsBatch(spends: readonly { keyId: string; cost: number }[]): Promise<(number | null)[]> {
    for (const { cost } of spends) {
      if (!Number.isInteger(cost) || cost < 0) throw new RangeError(`cost must be a non-negative integer, got ${cost}`);
    }
    return this.writer.write("spendCredits", spends);
  }

  async noteCreditsLow(keyId: string, options: { now: number; inactiveDays: number }): Promise<boolean> {
    return this.writer.write("noteCreditsLow", keyId, options.now, options.inactiveDays);
  }

  async refillCredits(keyId: string, amount: number, at: number, expected: number | null): Promise<boolean> {
    return this.writer.write("refillCredits", keyId, amount, at, expected);
  }

  async refillDueCredits(at: number, dailyMoment: number, monthlyMoments: readonly number[]): Promise<string[]> {
    return this.writer.write("refillDueCredits", at, dailyMoment, monthlyMoments);
  }

  async listAuditEvents(filter: AuditFilter, limit: number, beforeId?: number): Promise<AuditRow[]> {
    const where = auditWhere(filter, beforeId);
    const rows = this.shapes
      .get(`SELECT * FROM audit_events ${where.sql} ORDER BY id DESC LIMIT @limit`)
      .all({ ...where.params, limit }) as AuditColumns[];
    return rows.map(auditFromColumns);
  }

  async insertExport(record: ExportRecord, audit: AuditEntry): Promise<void> {
    await this.writer.write("insertExport", record, audit);
  }

  async getExport(id: string): Promise<ExportRecord | undefined> {
    const row = this.exportById.get(id);
    return row === undefined ? undefined : exportFromColumns(row);
  }

  async listExports(state: ExportState | undefined, limit: number, after?: KeyCursor): Promise<ExportRecord[]> {
    const where = exportWhere(state, after);
    const rows = this.shapes
      .get(`SELECT * FROM exports ${where.sql} ORDER BY created_at DESC, id DESC LIMIT @limit`)
      .all({ ...where.params, limit }) as ExportColumns[];
    return rows.map(exportFromColumns);
  }

  /** Writes the export's progress; what was asked for (resource, filters, who, when) never changes. */
  async updateExport(record: ExportRecord, events: readonly EventRecord[] = []): Promise<void> {
    await this.writer.write("updateExport", record, events);
  }

  async listLogsForExport(
    filter: KeyLogFilter & { keyId?: string },
    limit: number,
    beforeId?: number,
  ): Promise<KeyLogRow[]> {
    return this.selectLogs(filter, limit, beforeId);
  }

  async countLogsForExport(filter: KeyLogFilter & { keyId?: string }): Promise<number> {
    const where = logWhere(filter);
    return this.shapes.get(`SELECT count(*) FROM key_logs ${where.sql}`).pluck().get(where.params) as number;
  }

  async sweep(options: SweepOptions, audit: Omit<AuditEntry, "keyId">): Promise<SweepResult> {
    return this.writer.write("sweep", options, audit);
  }

  /** One writer commits in id order (AUTOINCREMENT never reuses an id, even after pruning). */
  async readChanges(afterId: number, limit: number): Promise<KeyChange[]> {
    return this.changesAfter.all(afterId, limit);
  }

  async latestChangeId(): Promise<number> {
    return this.latestChange.get() ?? 0;
  }

  async insertWebhookEndpoint(endpoint: WebhookEndpointRecord, audit: AuditEntry): Promise<void> {
    await this.writer.write("insertWebhookEndpoint", endpoint, audit);
  }

  async getWebhookEndpoint(id: string): Promise<WebhookEndpointRecord | undefined> {
    const row = this.shapes.get("SELECT * FROM webhook_endpoints WHERE id = @id").get({ id }) as
      | EndpointColumns
      | undefined;
    return row === undefined ? undefined : endpointFromColumns(row);
  }

  async listWebhookEndpoints(limit: number, after?: KeyCursor): Promise<WebhookEndpointRecord[]> {
    const rows = (
      after === undefined
        ? this.shapes
            .get("SELECT * FROM webhook_endpoints ORDER BY created_at DESC, id DESC LIMIT @limit")
            .all({ limit })
        : this.shapes
            .get(
              `SELECT * FROM webhook_endpoints WHERE (created_at < @t OR (created_at = @t AND id < @i))
                ORDER BY created_at DESC, id DESC LIMIT @limit`,
            )
            .all({ limit, t: after.createdAt, i: after.id })
    ) as EndpointColumns[];
    return rows.map(endpointFromColumns);
  }

  async updateWebhookEndpoint(endpoint: WebhookEndpointRecord, audit: AuditEntry): Promise<void> {
    await this.writer.write("updateWebhookEndpoint", endpoint, audit);
  }

  async deleteWebhookEndpoint(id: string, audit: AuditEntry): Promise<void> {
    await this.writer.write("deleteWebhookEndpoint", id, audit);
  }

  async replaceWebhookSecrets(changes: readonly WebhookSecretChange[]): Promise<number> {
    return this.writer.write("replaceWebhookSecrets", changes);
  }

  async getEvent(id: string): Promise<StoredEvent | undefined> {
    const row = this.shapes.get("SELECT * FROM events WHERE id = @id").get({ id }) as EventColumns | undefined;
    return row === undefined ? undefined : eventFromColumns(row);
  }

  async getEventBySeq(seq: number): Promise<StoredEvent | undefined> {
    const row = this.shapes.get("SELECT * FROM events WHERE seq = @seq").get({ seq }) as EventColumns | undefined;
    return row === undefined ? undefined : eventFromColumns(row);
  }

  async resendWebhookEvent(endpointId: string, eventSeq: number, at: number, audit: AuditEntry): Promise<number> {
    return this.writer.write("resendWebhookEvent", endpointId, eventSeq, at, audit);
  }

  async relayWebhooks(input: RelayInput): Promise<RelayResult> {
    return this.writer.write("relayWebhooks", input);
  }

  async getWebhookDelivery(id: number): Promise<WebhookDeliveryRecord | undefined> {
    const row = this.shapes.get("SELECT * FROM webhook_deliveries WHERE id = @id").get({ id }) as
      | DeliveryColumns
      | undefined;
    return row === undefined ? undefined : deliveryFromColumns(row);
  }

  async finishWebhookDelivery(id: number, state: "succeeded" | "failed", at: number): Promise<void> {
    await this.writer.write("finishWebhookDelivery", id, state, at);
  }

  async recordWebhookAttempt(
    attempt: Omit<WebhookAttemptRecord, "id">,
    outcome: AttemptOutcome,
  ): Promise<{ nextDeliveryId: number | null; endpointDisabled: boolean }> {
    return this.writer.write("recordWebhookAttempt", attempt, outcome);
  }

  async listWebhookAttempts(
    filter: { endpointId: string; eventId?: string },
    limit: number,
    beforeId?: number,
  ): Promise<WebhookAttemptRecord[]> {
    const conditions = ["endpoint_id = @endpointId"];
    const params: Record<string, string | number> = { endpointId: filter.endpointId, limit };
    if (filter.eventId !== undefined) {
      conditions.push("event_id = @eventId");
      params.eventId = filter.eventId;
    }
    if (beforeId !== undefined) {
      conditions.push("id < @beforeId");
      params.beforeId = beforeId;
    }
    const rows = this.shapes
      .get(`SELECT * FROM webhook_attempts WHERE ${conditions.join(" AND ")} ORDER BY id DESC LIMIT @limit`)
      .all(params) as AttemptColumns[];
    return rows.map(attemptFromColumns);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writer.close();
    this.checkpoint();
    this.db.close();
  }

  private selectLogs(filter: KeyLogFilter & { keyId?: string }, limit: number, beforeId?: number): KeyLogRow[] {
    const where = logWhere(filter, beforeId);
    const rows = this.shapes
      .get(`SELECT * FROM key_logs ${where.sql} ORDER BY id DESC LIMIT @limit`)
      .all({ ...where.params, limit }) as KeyLogColumns[];
    return rows.map(logFromColumns);
  }

  private checkpoint(): void {
    try {
      this.db.pragma("wal_checkpoint(TRUNCATE)");
    } catch (error) {
      // A failed checkpoint only delays WAL truncation; the next one retries.
      this.logger?.warn({ err: error }, "sqlite WAL checkpoint failed");
    }
  }
}

/** Opens (creating and migrating if needed) the SQLite key store at `options.path`. */
export function createSqliteKeyStore(options: SqliteKeyStoreOptions): KeyStore {
  return new SqliteKeyStore(options);
}
