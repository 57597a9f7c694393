import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { migrate } from "./schema.js";

const JOURNAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;
const BUSY_TIMEOUT_MS = 5_000;

/**
 * Opens (creating if needed) the service's database file with the settings
 * every acknowledged write relies on, and migrates it.
 */
export function openDatabase(file: string): Database.Database {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
  try {
    db.pragma("journal_mode = WAL");
    // FULL syncs the WAL on every commit: an acknowledged write survives kill -9
    // and power loss. Usage is flushed in batches, so the cost is one fsync a second.
    db.pragma("synchronous = FULL");
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma("foreign_keys = ON");
    db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`);
    // SQLite's lower() folds ASCII only; names are Unicode.
    db.function("unicode_lower", { deterministic: true }, (value: unknown) =>
      typeof value === "string" ? value.toLowerCase() : value,
    );
    migrate(db);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}
