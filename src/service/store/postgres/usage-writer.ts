import type { UsageBatch } from "../../keys/model.js";
import { logEntryToColumns } from "../sqlite/rows.js";
import type { PgDatabase } from "./database.js";

/**
 * PostgreSQL's TEXT cannot hold U+0000, which a caller may send in a request's
 * context (user agent, path...): one such row would fail every retry of the
 * flush. It is stored as U+FFFD instead.
 */
function storable(value: string | null): string | null {
  return value?.includes("\u0000") ? value.replaceAll("\u0000", "\uFFFD") : value;
}

/**
 * Writes one flush of usage (counters, hourly buckets, request logs) in one
 * transaction, as sqlite/usage-writer.ts: counts are added, last-used times
 * only move forward, rows of a key that no longer exists are skipped. Each
 * part is one set-based statement over arrays, whatever the batch's size.
 */
export function applyUsage(db: PgDatabase, batch: UsageBatch): Promise<void> {
  const keyIds = [...batch.keys.keys()].sort();
  return db.transaction(async (tx) => {
    if (keyIds.length > 0) {
      // In id order, so that two replicas' flushes over the same keys queue
      // instead of deadlocking.
      await tx.run("SELECT 1 FROM keys WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE", [keyIds]);
      await tx.run(
        `UPDATE keys
            SET request_count = keys.request_count + u.count,
                last_used_at = greatest(keys.last_used_at, u.last_used_at),
                inactive_since = NULL
           FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u (id, count, last_used_at)
          WHERE keys.id = u.id`,
        [keyIds, keyIds.map((id) => batch.keys.get(id)?.count), keyIds.map((id) => batch.keys.get(id)?.lastUsedAt)],
      );
    }
    if (batch.buckets.length > 0) {
      // One row per (key, hour, code): ON CONFLICT may touch a row only once a statement.
      await tx.run(
        `INSERT INTO usage_hourly (key_id, hour_start, code, count)
         SELECT u.key_id, u.hour_start, u.code, sum(u.count)::bigint
           FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[]) AS u (key_id, hour_start, code, count)
          WHERE EXISTS (SELECT 1 FROM keys WHERE keys.id = u.key_id)
          GROUP BY u.key_id, u.hour_start, u.code
          ORDER BY u.key_id, u.hour_start, u.code
         ON CONFLICT (key_id, hour_start, code) DO UPDATE SET count = usage_hourly.count + excluded.count`,
        [
          batch.buckets.map((b) => b.keyId),
          batch.buckets.map((b) => b.hourStart),
          batch.buckets.map((b) => b.code),
          batch.buckets.map((b) => b.count),
        ],
      );
    }
    if (batch.logs.length > 0) {
      const rows = batch.logs.map(logEntryToColumns);
      // In the batch's order, so that ids follow it.
      await tx.run(
        `INSERT INTO key_logs (key_id, at, code, ip, method, path, user_agent, tags)
         SELECT u.key_id, u.at, u.code, u.ip, u.method, u.path, u.user_agent, u.tags::json
           FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
                WITH ORDINALITY AS u (key_id, at, code, ip, method, path, user_agent, tags, n)
          WHERE EXISTS (SELECT 1 FROM keys WHERE keys.id = u.key_id)
          ORDER BY u.n`,
        [
          rows.map((r) => r.key_id),
          rows.map((r) => r.at),
          rows.map((r) => r.code),
          rows.map((r) => storable(r.ip)),
          rows.map((r) => storable(r.method)),
          rows.map((r) => storable(r.path)),
          rows.map((r) => storable(r.user_agent)),
          rows.map((r) => r.tags),
        ],
      );
    }
  });
}
