import type Database from "better-sqlite3";
import { ConflictError, NotFoundError } from "../../keys/errors.js";
import type {
  AuditEntry,
  EventRecord,
  ExportRecord,
  KeyRecord,
  SweepOptions,
  SweepResult,
  UsageBatch,
} from "../../keys/model.js";
import { createCreditStatements } from "./credits.js";
import { createNoteCreditsLow } from "./credits-low.js";
import { createOutboxWrites, type OutboxWrites } from "./outbox-writes.js";
import {
  type AuditColumns,
  auditToColumns,
  type ExportColumns,
  exportToColumns,
  KEY_COLUMN_NAMES,
  type KeyColumns,
  keyToColumns,
} from "./rows.js";
import { createSweep } from "./sweep.js";
import { createUsageWriter } from "./usage-writer.js";

/**
 * Every write the store makes, on one connection. The store runs them on its
 * writer thread (or, without one, on its own connection): one writer means
 * no transaction ever waits for another's lock, and no fsync or busy wait
 * ever runs on the event loop that answers VerifyKey. Arguments and results
 * are plain data, so they cross the thread boundary by structured clone.
 */
export interface StoreWrites extends Omit<OutboxWrites, "insertEvents"> {
  /** `events` go to the outbox in the same transaction, after the key's row (as in every write below). */
  insertKey(key: KeyRecord, audit: AuditEntry, events: readonly EventRecord[]): void;
  /**
   * Writes `key` if the stored row is still at `key.version - 1`. Throws
   * NotFoundError when the key does not exist, ConflictError when it moved on.
   */
  updateKey(key: KeyRecord, audit: AuditEntry, writeCredits: boolean, events: readonly EventRecord[]): void;
  /** As updateKey for `previous`; `created` is inserted only if that write succeeds. */
  rotateKey(previous: KeyRecord, created: KeyRecord, audit: AuditEntry, events: readonly EventRecord[]): void;
  insertExport(record: ExportRecord, audit: AuditEntry): void;
  /** Throws NotFoundError when the export does not exist. */
  updateExport(record: ExportRecord, events: readonly EventRecord[]): void;
  applyUsage(batch: UsageBatch): void;
  spendCredits(spends: readonly { keyId: string; cost: number }[]): (number | null)[];
  refillCredits(keyId: string, amount: number, at: number, expected: number | null): boolean;
  refillDueCredits(at: number, dailyMoment: number, monthlyMoments: readonly number[]): string[];
  sweep(options: SweepOptions, audit: Omit<AuditEntry, "keyId">): SweepResult;
  /** Marks one key as told it is low on credits and records key.credits_low; false when there is nothing to tell. */
  noteCreditsLow(keyId: string, now: number, inactiveDays: number): boolean;
}

export type WriteOp = keyof StoreWrites;

// Written once at insert: identity, the token's hash, provenance. The usage
// counters belong to applyUsage (and inactive_since to it and the sweep), and
// the rotation reminder to the sweep, so a record read before a flush or a
// sweep cannot roll them back.
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
  "rotation_notified_at",
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
  "mail_state",
  "mail_error",
  "mail_at",
] as const;

const EXPORT_COLUMNS_NOT_UPDATED = new Set<string>(["id", "resource", "filters", "requested_by", "created_at"]);

function insertSql(table: string, columns: readonly string[]): string {
  return `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map((c) => `@${c}`).join(", ")})`;
}

function updateSql(table: string, columns: readonly string[], skip: Set<string>, where = ""): string {
  const sets = columns.filter((c) => !skip.has(c)).map((c) => `${c} = @${c}`);
  return `UPDATE ${table} SET ${sets.join(", ")} WHERE id = @id${where}`;
}

/** A key write lands only on the version it was decided against (the record carries the next one). */
const IF_UNCHANGED = " AND version = @version - 1";

/** Prepares every write statement once on `db`. */
export function createStoreWrites(db: Database.Database): StoreWrites {
  const insertKeyRow = db.prepare<[KeyColumns]>(insertSql("keys", KEY_COLUMN_NAMES));
  // `remaining` is written only when an update names it: otherwise a record
  // read before a concurrent spend would give the spent credits back.
  const updateKeyRow = db.prepare<[KeyColumns]>(
    updateSql("keys", KEY_COLUMN_NAMES, new Set([...KEY_COLUMNS_NOT_UPDATED, "remaining"]), IF_UNCHANGED),
  );
  const updateKeyRowWithCredits = db.prepare<[KeyColumns]>(
    updateSql("keys", KEY_COLUMN_NAMES, KEY_COLUMNS_NOT_UPDATED, IF_UNCHANGED),
  );
  const keyExists = db.prepare<[string], number>("SELECT 1 FROM keys WHERE id = ?").pluck();
  const insertAuditRow = db.prepare<[Omit<AuditColumns, "id">]>(
    insertSql("audit_events", [
      "at",
      "actor",
      "actor_key_id",
      "action",
      "key_id",
      "export_id",
      "summary",
      "changed_fields",
    ]),
  );
  const insertExportRow = db.prepare<[ExportColumns]>(insertSql("exports", EXPORT_COLUMNS));
  const updateExportRow = db.prepare<[ExportColumns]>(updateSql("exports", EXPORT_COLUMNS, EXPORT_COLUMNS_NOT_UPDATED));
  const credits = createCreditStatements(db);
  const outbox = createOutboxWrites(db);
  const { insertEvents, ...webhooks } = outbox;

  function updateExisting(key: KeyRecord, writeCredits: boolean): void {
    const statement = writeCredits ? updateKeyRowWithCredits : updateKeyRow;
    if (statement.run(keyToColumns(key)).changes === 1) return;
    if (keyExists.get(key.id) === undefined) throw new NotFoundError("key", key.id);
    throw new ConflictError(`key ${key.id} was changed by another write; read it again`);
  }

  return {
    ...webhooks,
    insertKey: db.transaction((key: KeyRecord, audit: AuditEntry, events: readonly EventRecord[]) => {
      insertKeyRow.run(keyToColumns(key));
      insertAuditRow.run(auditToColumns(audit));
      insertEvents(events);
    }),
    updateKey: db.transaction(
      (key: KeyRecord, audit: AuditEntry, writeCredits: boolean, events: readonly EventRecord[]) => {
        updateExisting(key, writeCredits);
        insertAuditRow.run(auditToColumns(audit));
        insertEvents(events);
      },
    ),
    rotateKey: db.transaction(
      (previous: KeyRecord, created: KeyRecord, audit: AuditEntry, events: readonly EventRecord[]) => {
        updateExisting(previous, false);
        insertKeyRow.run(keyToColumns(created));
        insertAuditRow.run(auditToColumns(audit));
        insertEvents(events);
      },
    ),
    insertExport: db.transaction((record: ExportRecord, audit: AuditEntry) => {
      insertExportRow.run(exportToColumns(record));
      insertAuditRow.run(auditToColumns(audit));
    }),
    updateExport: db.transaction((record: ExportRecord, events: readonly EventRecord[]) => {
      if (updateExportRow.run(exportToColumns(record)).changes === 0) throw new NotFoundError("export", record.id);
      insertEvents(events);
    }),
    applyUsage: createUsageWriter(db),
    spendCredits: (spends) => credits.spendMany(spends),
    refillCredits: (keyId, amount, at, expected) => credits.refill(keyId, amount, at, expected),
    refillDueCredits: (at, dailyMoment, monthlyMoments) => credits.refillDue(at, dailyMoment, monthlyMoments),
    sweep: createSweep(db, insertEvents),
    noteCreditsLow: createNoteCreditsLow(db, insertEvents),
  };
}
