import type Database from "better-sqlite3";
import type { UsageBatch } from "../../keys/model.js";
import { logEntryToColumns } from "./rows.js";

/**
 * Writes one flush of usage (counters, hourly buckets, request logs) in one
 * transaction. Statements are prepared once; rows of a key that no longer
 * exists are skipped rather than failing the whole batch.
 */
export function createUsageWriter(db: Database.Database): (batch: UsageBatch) => void {
  const touchKey = db.prepare<[number, number, number, string]>(
    `UPDATE keys
        SET request_count = request_count + ?,
            last_used_at = max(coalesce(last_used_at, ?), ?),
            inactive_since = NULL
      WHERE id = ?`,
  );
  const addBucket = db.prepare<[string, number, string, number, string]>(
    `INSERT INTO usage_hourly (key_id, hour_start, code, count)
     SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM keys WHERE id = ?)
     ON CONFLICT (key_id, hour_start, code) DO UPDATE SET count = count + excluded.count`,
  );
  const appendLog = db.prepare<
    [string, number, string, string | null, string | null, string | null, string | null, string | null, string]
  >(
    `INSERT INTO key_logs (key_id, at, code, ip, method, path, user_agent, tags)
     SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM keys WHERE id = ?)`,
  );

  return db.transaction((batch: UsageBatch) => {
    for (const [keyId, { count, lastUsedAt }] of batch.keys) {
      touchKey.run(count, lastUsedAt, lastUsedAt, keyId);
    }
    for (const bucket of batch.buckets) {
      addBucket.run(bucket.keyId, bucket.hourStart, bucket.code, bucket.count, bucket.keyId);
    }
    for (const entry of batch.logs) {
      const c = logEntryToColumns(entry);
      appendLog.run(c.key_id, c.at, c.code, c.ip, c.method, c.path, c.user_agent, c.tags, c.key_id);
    }
  });
}
