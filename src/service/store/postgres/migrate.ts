import type pg from "pg";
import { MIGRATIONS, SCHEMA_VERSION, schemaTooNewError } from "../migrations.js";
import type { PgDatabase } from "./database.js";
import { toStoreError } from "./errors.js";

/** The session lock replicas take while they migrate, so that only one does. */
const MIGRATION_LOCK = 7_202_504_000;

/**
 * Brings the database up to SCHEMA_VERSION (migrations.ts). Replicas that
 * start together queue on a session advisory lock; the first applies the
 * missing steps, the others then find nothing to do. Each step commits with
 * its row in `schema_migrations`, so a crash never leaves half a step. A
 * database migrated by a newer build is refused.
 */
export async function migrate(db: PgDatabase): Promise<void> {
  let client: pg.PoolClient;
  try {
    client = await db.pool.connect();
  } catch (error) {
    throw toStoreError(error);
  }
  let locked = false;
  let broken: Error | undefined;
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
    locked = true;
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version    INTEGER PRIMARY KEY,
         applied_at BIGINT NOT NULL
       )`,
    );
    const [row] = (
      await client.query<{ version: number }>("SELECT coalesce(max(version), 0) AS version FROM schema_migrations")
    ).rows;
    const current = row?.version ?? 0;
    if (current > SCHEMA_VERSION) throw schemaTooNewError(current);
    for (let version = current; version < SCHEMA_VERSION; version++) {
      const sql = (MIGRATIONS[version] as (typeof MIGRATIONS)[number]).postgres;
      await client.query("BEGIN");
      try {
        await client.query(sql);
        await client.query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", [
          version + 1,
          Date.now(),
        ]);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {});
        throw error;
      }
    }
  } catch (error) {
    broken = error as Error;
    throw toStoreError(error);
  } finally {
    if (locked) {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => {});
    }
    // A session lock dies with its connection; a connection in doubt is not reused.
    client.release(broken);
  }
}
