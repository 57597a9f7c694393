import type { KeyRecord } from "../../keys/model.js";
import { KEY_COLUMN_NAMES, type KeyColumns, keyFromColumns, keyToColumns } from "../sqlite/rows.js";

/**
 * Rows of the PostgreSQL tables. They are SQLite's column shapes (see
 * sqlite/rows.ts, whose mapping both stores share: JSON columns arrive as
 * text, BIGINT as numbers, see database.ts) except `enabled`, a BOOLEAN here.
 */
export type KeyRow = Omit<KeyColumns, "enabled"> & { enabled: boolean };

export { KEY_COLUMN_NAMES };

export function keyFromRow(row: KeyRow): KeyRecord {
  return keyFromColumns({ ...row, enabled: row.enabled ? 1 : 0 });
}

export function keyToRow(key: KeyRecord): KeyRow {
  return { ...keyToColumns(key), enabled: key.enabled };
}

/** `INSERT INTO table (columns) VALUES ($1, ...)`; bind valuesOf(row, columns). */
export function insertSql(table: string, columns: readonly string[]): string {
  return `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(", ")})`;
}

/** A statement and the columns whose values it binds, in order. */
export interface Statement {
  sql: string;
  columns: readonly string[];
}

/**
 * `UPDATE table SET c = $n, ... WHERE id = $m` over `columns` less `skip`,
 * plus `where`, in which `$version` stands for the record's version. Bind
 * valuesOf(row, statement.columns).
 */
export function updateStatement(table: string, columns: readonly string[], skip: Set<string>, where = ""): Statement {
  const bound = columns.filter((c) => !skip.has(c));
  const sets = bound.map((c, i) => `${c} = $${i + 1}`);
  bound.push("id");
  let condition = `id = $${bound.length}`;
  if (where.includes("$version")) {
    bound.push("version");
    condition += where.replaceAll("$version", `$${bound.length}::integer`);
  }
  return { sql: `UPDATE ${table} SET ${sets.join(", ")} WHERE ${condition}`, columns: bound };
}

export function valuesOf<T extends object>(row: T, columns: readonly string[]): unknown[] {
  return columns.map((column) => (row as Record<string, unknown>)[column]);
}
