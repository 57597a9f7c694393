import type Database from "better-sqlite3";
import { MIGRATIONS, SCHEMA_VERSION, schemaTooNewError } from "../migrations.js";

export { SCHEMA_VERSION };

/**
 * Brings the database up to SCHEMA_VERSION (migrations.ts), each step in its
 * own transaction with its `PRAGMA user_version` bump, so a crash never
 * leaves half a step.
 */
export function migrate(db: Database.Database): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > SCHEMA_VERSION) throw schemaTooNewError(current);
  for (let version = current; version < SCHEMA_VERSION; version++) {
    const sql = (MIGRATIONS[version] as (typeof MIGRATIONS)[number]).sqlite;
    // IMMEDIATE takes the write lock first: of several processes opening a new
    // file at once, one migrates each step and the others find it done.
    db.transaction(() => {
      if ((db.pragma("user_version", { simple: true }) as number) !== version) return;
      db.exec(sql);
      // PRAGMA takes no bound parameters; the value is our own integer.
      db.pragma(`user_version = ${version + 1}`);
    }).immediate();
  }
}
