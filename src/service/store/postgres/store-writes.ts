import { ConflictError, NotFoundError } from "../../keys/errors.js";
import type { AuditEntry, EventRecord, ExportRecord, KeyRecord } from "../../keys/model.js";
import { auditToColumns, exportToColumns } from "../sqlite/rows.js";
import type { PgDatabase, Queryable } from "./database.js";
import { insertEvents } from "./outbox-writes.js";
import { insertSql, KEY_COLUMN_NAMES, keyToRow, updateStatement, valuesOf } from "./rows.js";

/**
 * The admin writes: keys and exports, each with its audit row in the same
 * transaction. Same columns and rules as sqlite/store-writes.ts.
 */

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

const AUDIT_COLUMNS = [
  "at",
  "actor",
  "actor_key_id",
  "action",
  "key_id",
  "export_id",
  "summary",
  "changed_fields",
] as const;

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

/** A key write lands only on the version it was decided against (the record carries the next one). */
const IF_UNCHANGED = " AND version = $version - 1";

const INSERT_KEY = insertSql("keys", KEY_COLUMN_NAMES);
// `remaining` is written only when an update names it: otherwise a record
// read before a concurrent spend would give the spent credits back.
const UPDATE_KEY = updateStatement(
  "keys",
  KEY_COLUMN_NAMES,
  new Set([...KEY_COLUMNS_NOT_UPDATED, "remaining"]),
  IF_UNCHANGED,
);
const UPDATE_KEY_WITH_CREDITS = updateStatement("keys", KEY_COLUMN_NAMES, KEY_COLUMNS_NOT_UPDATED, IF_UNCHANGED);
const INSERT_AUDIT = insertSql("audit_events", AUDIT_COLUMNS);
const INSERT_EXPORT = insertSql("exports", EXPORT_COLUMNS);
const UPDATE_EXPORT = updateStatement("exports", EXPORT_COLUMNS, EXPORT_COLUMNS_NOT_UPDATED);

async function insertKeyRow(tx: Queryable, key: KeyRecord): Promise<void> {
  await tx.run(INSERT_KEY, valuesOf(keyToRow(key), KEY_COLUMN_NAMES));
}

async function insertAuditRow(tx: Queryable, audit: AuditEntry): Promise<void> {
  await tx.run(INSERT_AUDIT, valuesOf(auditToColumns(audit), AUDIT_COLUMNS));
}

async function updateExisting(tx: Queryable, key: KeyRecord, writeCredits: boolean): Promise<void> {
  const update = writeCredits ? UPDATE_KEY_WITH_CREDITS : UPDATE_KEY;
  if ((await tx.run(update.sql, valuesOf(keyToRow(key), update.columns))) === 1) return;
  const found = await tx.query("SELECT 1 FROM keys WHERE id = $1", [key.id]);
  if (found.length === 0) throw new NotFoundError("key", key.id);
  throw new ConflictError(`key ${key.id} was changed by another write; read it again`);
}

export function insertKey(
  db: PgDatabase,
  key: KeyRecord,
  audit: AuditEntry,
  events: readonly EventRecord[] = [],
): Promise<void> {
  return db.transaction(async (tx) => {
    await insertKeyRow(tx, key);
    await insertAuditRow(tx, audit);
    await insertEvents(tx, events);
  });
}

/**
 * Writes `key` if the stored row is still at `key.version - 1`. Rejects with
 * NotFoundError when the key does not exist, ConflictError when it moved on.
 * Two writers on the same version: the second waits for the first's row
 * lock, then finds the version changed (READ COMMITTED re-checks the row).
 */
export function updateKey(
  db: PgDatabase,
  key: KeyRecord,
  audit: AuditEntry,
  writeCredits: boolean,
  events: readonly EventRecord[] = [],
): Promise<void> {
  return db.transaction(async (tx) => {
    await updateExisting(tx, key, writeCredits);
    await insertAuditRow(tx, audit);
    await insertEvents(tx, events);
  });
}

/** As updateKey for `previous`; `created` is inserted only if that write succeeds. */
export function rotateKey(
  db: PgDatabase,
  previous: KeyRecord,
  created: KeyRecord,
  audit: AuditEntry,
  events: readonly EventRecord[] = [],
): Promise<void> {
  return db.transaction(async (tx) => {
    await updateExisting(tx, previous, false);
    await insertKeyRow(tx, created);
    await insertAuditRow(tx, audit);
    await insertEvents(tx, events);
  });
}

export function insertExport(db: PgDatabase, record: ExportRecord, audit: AuditEntry): Promise<void> {
  return db.transaction(async (tx) => {
    await tx.run(INSERT_EXPORT, valuesOf(exportToColumns(record), EXPORT_COLUMNS));
    await insertAuditRow(tx, audit);
  });
}

/** Rejects with NotFoundError when the export does not exist. */
export function updateExport(db: PgDatabase, record: ExportRecord, events: readonly EventRecord[] = []): Promise<void> {
  return db.transaction(async (tx) => {
    if ((await tx.run(UPDATE_EXPORT.sql, valuesOf(exportToColumns(record), UPDATE_EXPORT.columns))) === 0) {
      throw new NotFoundError("export", record.id);
    }
    await insertEvents(tx, events);
  });
}
