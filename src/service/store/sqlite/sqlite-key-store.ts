import type Database from "better-sqlite3";
import type { Logger } from "../../../shared/logger.js";
import { NotFoundError } from "../../keys/errors.js";
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
  VerifyCode,
} from "../../keys/model.js";
import type { KeyStore } from "../key-store.js";
import { type CreditStatements, createCreditStatements } from "./credits.js";
import { auditWhere, exportWhere, keyWhere, logWhere } from "./filters.js";
import { openDatabase } from "./open-database.js";
import {
  type AuditColumns,
  auditFromColumns,
  auditToColumns,
  type ExportColumns,
  exportFromColumns,
  exportToColumns,
  KEY_COLUMN_NAMES as KEY_COLUMNS,
  type KeyColumns,
  type KeyLogColumns,
  keyColumnsFromValues,
  keyFromColumns,
  keyToColumns,
  logFromColumns,
} from "./rows.js";
import { StatementCache } from "./statement-cache.js";
import { createSweep } from "./sweep.js";
import { createUsageWriter } from "./usage-writer.js";
import { WriterThread } from "./writer-client.js";

export interface SqliteKeyStoreOptions {
  /** The database file; its directory is created when missing. */
  path: string;
  /** Days without use after which a key's status is inactive (list/count filters). */
  inactiveDays: number;
  logger?: Logger;
  /** How often the WAL is checkpointed and truncated; default 30 s. */
  checkpointIntervalMs?: number;
  /**
   * Run usage flushes, credit spends and checkpoints on a writer thread with
   * its own connection (default true), so the event loop that answers
   * VerifyKey never waits on them. A 16k-row flush holds a thread ~150 ms.
   */
  writerThread?: boolean;
}

const DEFAULT_CHECKPOINT_INTERVAL_MS = 30_000;

// Written once at insert: identity, the token's hash, provenance. The usage
// counters belong to applyUsage (and inactive_since to it and the sweep), so a
// record read before a flush cannot roll them back.
const KEY_COLUMNS_NOT_UPDATED = new Set<string>([
  "id",
  "hash",
  "token_hint",
  "subject",
  "created_by",
  "created_at",
  "last_used_at",
  "request_count",
  "inactive_since",
]);

const EXPORT_COLUMNS = [
  "id",
  "resource",
  "filters",
  "state",
  "requested_by",
  "created_at",
  "updated_at",
  "expires_at",
  "matching_rows",
  "row_count",
  "byte_size",
  "error",
  "attempts",
] as const;

const EXPORT_COLUMNS_NOT_UPDATED = new Set<string>(["id", "resource", "filters", "requested_by", "created_at"]);

function insertSql(table: string, columns: readonly string[]): string {
  return `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map((c) => `@${c}`).join(", ")})`;
}

function updateSql(table: string, columns: readonly string[], skip: Set<string>): string {
  const sets = columns.filter((c) => !skip.has(c)).map((c) => `${c} = @${c}`);
  return `UPDATE ${table} SET ${sets.join(", ")} WHERE id = @id`;
}

/**
 * The KeyStore on one SQLite file (WAL, synchronous FULL). Every statement is
 * prepared once; the async methods run synchronously inside their promise, so
 * a resolved write is already on disk.
 */
export class SqliteKeyStore implements KeyStore {
  private readonly db: Database.Database;
  private readonly inactiveDays: number;
  private readonly logger: Logger | undefined;
  private readonly checkpointTimer: NodeJS.Timeout | undefined;
  private readonly writer: WriterThread | undefined;
  private readonly shapes: StatementCache;
  private closed = false;

  private readonly insertKeyRow: Database.Statement<[KeyColumns]>;
  private readonly updateKeyRow: Database.Statement<[KeyColumns]>;
  private readonly updateKeyRowWithCredits: Database.Statement<[KeyColumns]>;
  private readonly keyById: Database.Statement<[string], KeyColumns>;
  private readonly keyByHash: Database.Statement<[string], unknown[]>;
  private readonly insertAuditRow: Database.Statement<[Omit<AuditColumns, "id">]>;
  private readonly usageRows: Database.Statement<
    [string, number, number],
    { hour_start: number; code: string; count: number }
  >;
  private readonly credits: CreditStatements;
  private readonly insertExportRow: Database.Statement<[ExportColumns]>;
  private readonly updateExportRow: Database.Statement<[ExportColumns]>;
  private readonly exportById: Database.Statement<[string], ExportColumns>;

  private readonly writeUsage: (batch: UsageBatch) => void;
  private readonly runSweep: (options: SweepOptions, audit: Omit<AuditEntry, "keyId">) => SweepResult;
  private readonly insertKeyTx: (key: KeyRecord, audit: AuditEntry) => void;
  private readonly updateKeyTx: (key: KeyRecord, audit: AuditEntry, writeCredits: boolean) => void;
  private readonly rotateKeyTx: (previous: KeyRecord, created: KeyRecord, audit: AuditEntry) => void;
  private readonly insertExportTx: (record: ExportRecord, audit: AuditEntry) => void;

  constructor(options: SqliteKeyStoreOptions) {
    this.db = openDatabase(options.path);
    this.inactiveDays = options.inactiveDays;
    this.logger = options.logger;
    const db = this.db;
    this.shapes = new StatementCache(db);

    this.insertKeyRow = db.prepare<[KeyColumns]>(insertSql("keys", KEY_COLUMNS));
    // `remaining` is written only when an update names it: otherwise a record
    // read before a concurrent spend would give the spent credits back.
    this.updateKeyRow = db.prepare<[KeyColumns]>(
      updateSql("keys", KEY_COLUMNS, new Set([...KEY_COLUMNS_NOT_UPDATED, "remaining"])),
    );
    this.updateKeyRowWithCredits = db.prepare<[KeyColumns]>(updateSql("keys", KEY_COLUMNS, KEY_COLUMNS_NOT_UPDATED));
    this.keyById = db.prepare<[string], KeyColumns>("SELECT * FROM keys WHERE id = ?");
    // The verification cache's miss path: raw rows (see keyColumnsFromValues).
    this.keyByHash = db
      .prepare<[string], unknown[]>(`SELECT ${KEY_COLUMNS.join(", ")} FROM keys WHERE hash = ?`)
      .raw(true);
    this.insertAuditRow = db.prepare<[Omit<AuditColumns, "id">]>(
      insertSql("audit_events", ["at", "actor", "action", "key_id", "export_id", "summary", "changed_fields"]),
    );
    this.usageRows = db.prepare(
      `SELECT hour_start, code, count FROM usage_hourly
        WHERE key_id = ? AND hour_start >= ? AND hour_start < ?
        ORDER BY hour_start, code`,
    );
    this.credits = createCreditStatements(db);
    this.insertExportRow = db.prepare<[ExportColumns]>(insertSql("exports", EXPORT_COLUMNS));
    this.updateExportRow = db.prepare<[ExportColumns]>(
      updateSql("exports", EXPORT_COLUMNS, EXPORT_COLUMNS_NOT_UPDATED),
    );
    this.exportById = db.prepare<[string], ExportColumns>("SELECT * FROM exports WHERE id = ?");

    this.writeUsage = createUsageWriter(db);
    this.runSweep = createSweep(db);

    this.insertKeyTx = db.transaction((key: KeyRecord, audit: AuditEntry) => {
      this.insertKeyRow.run(keyToColumns(key));
      this.insertAuditRow.run(auditToColumns(audit));
    });
    this.updateKeyTx = db.transaction((key: KeyRecord, audit: AuditEntry, writeCredits: boolean) => {
      this.updateExisting(key, writeCredits);
      this.insertAuditRow.run(auditToColumns(audit));
    });
    this.rotateKeyTx = db.transaction((previous: KeyRecord, created: KeyRecord, audit: AuditEntry) => {
      this.insertKeyRow.run(keyToColumns(created));
      this.updateExisting(previous, false);
      this.insertAuditRow.run(auditToColumns(audit));
    });
    this.insertExportTx = db.transaction((record: ExportRecord, audit: AuditEntry) => {
      this.insertExportRow.run(exportToColumns(record));
      this.insertAuditRow.run(auditToColumns(audit));
    });

    // Under steady writes the WAL never finds a quiet moment to reset itself;
    // a periodic TRUNCATE checkpoint keeps it bounded.
    const checkpointEvery = options.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
    if (options.writerThread ?? true) {
      this.writer = new WriterThread(options.path, checkpointEvery);
    } else {
      this.checkpointTimer = setInterval(() => this.checkpoint(), checkpointEvery);
      this.checkpointTimer.unref();
    }
  }

  async insertKey(key: KeyRecord, audit: AuditEntry): Promise<void> {
    this.insertKeyTx(key, audit);
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
  async updateKey(key: KeyRecord, audit: AuditEntry, options?: { writeCredits?: boolean }): Promise<void> {
    this.updateKeyTx(key, audit, options?.writeCredits ?? false);
  }

  async rotateKey(previous: KeyRecord, created: KeyRecord, audit: AuditEntry): Promise<void> {
    this.rotateKeyTx(previous, created, audit);
  }

  async applyUsage(batch: UsageBatch): Promise<void> {
    if (batch.keys.size === 0 && batch.buckets.length === 0 && batch.logs.length === 0) return;
    if (this.writer) return this.writer.applyUsage(batch);
    this.writeUsage(batch);
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
    if (this.writer) return this.writer.spendMany(spends);
    return this.credits.spendMany(spends);
  }

  async refillCredits(keyId: string, amount: number, at: number, expected: number | null): Promise<boolean> {
    return this.credits.refill(keyId, amount, at, expected);
  }

  async refillDueCredits(at: number, dailyMoment: number, monthlyMoments: readonly number[]): Promise<string[]> {
    return this.credits.refillDue(at, dailyMoment, monthlyMoments);
  }

  async listAuditEvents(filter: AuditFilter, limit: number, beforeId?: number): Promise<AuditRow[]> {
    const where = auditWhere(filter, beforeId);
    const rows = this.shapes
      .get(`SELECT * FROM audit_events ${where.sql} ORDER BY id DESC LIMIT @limit`)
      .all({ ...where.params, limit }) as AuditColumns[];
    return rows.map(auditFromColumns);
  }

  async insertExport(record: ExportRecord, audit: AuditEntry): Promise<void> {
    this.insertExportTx(record, audit);
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
  async updateExport(record: ExportRecord): Promise<void> {
    if (this.updateExportRow.run(exportToColumns(record)).changes === 0) {
      throw new NotFoundError("export", record.id);
    }
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
    return this.runSweep(options, audit);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.checkpointTimer);
    await this.writer?.close();
    this.checkpoint();
    this.db.close();
  }

  private updateExisting(key: KeyRecord, writeCredits: boolean): void {
    const statement = writeCredits ? this.updateKeyRowWithCredits : this.updateKeyRow;
    if (statement.run(keyToColumns(key)).changes === 0) {
      throw new NotFoundError("key", key.id);
    }
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
