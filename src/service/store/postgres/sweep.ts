import { sweepEvents } from "../../events/sweep-events.js";
import type { AuditEntry, SweepOptions, SweepResult } from "../../keys/model.js";
import { DAY_MS } from "../../keys/status.js";
import { KEY_CHANGES_RETENTION_MS, POSTGRES_NOW_MS, WEBHOOK_RETENTION_MS } from "../migrations.js";
import { type ExportColumns, exportFromColumns, newestFirst } from "../sqlite/rows.js";
import { MARK_CREDITS_LOW, REARM_CREDITS_LOW, REMIND_CREDITS_LOW } from "./credits-low.js";
import type { PgDatabase } from "./database.js";
import { NOT_EXPIRED, NOT_REVOKED } from "./filters.js";
import { insertEvents } from "./outbox-writes.js";
import { type KeyRow, keyFromRow } from "./rows.js";

/** Usage buckets are kept this long, past any chart the console draws. */
const USAGE_RETENTION_DAYS = 400;

/** Replicas that sweep at the same moment take turns. */
const SWEEP_LOCK = 7_202_504_002;

const IDLE_SINCE = "coalesce(last_used_at, created_at)";
const NOW = "$1::bigint";

/**
 * One maintenance pass as one transaction of set-based statements, the same
 * steps and results as sqlite/sweep.ts. A step whose `*Days` option is 0 or
 * less is switched off.
 */
export function sweep(db: PgDatabase, options: SweepOptions, audit: Omit<AuditEntry, "keyId">): Promise<SweepResult> {
  const { now } = options;
  return db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [SWEEP_LOCK]);

    let autoRevoked: SweepResult["autoRevoked"] = [];
    if (options.autoRevokeDays > 0) {
      // A key already scheduled for revocation (rotation grace) keeps its own reason.
      const rows = await tx.query<KeyRow>(
        `UPDATE keys
            SET revoked_at = ${NOW}, revocation_reason = 'inactive', updated_at = ${NOW}, version = version + 1
          WHERE revoked_at IS NULL AND ${NOT_EXPIRED(NOW)} AND ${IDLE_SINCE} <= $2::bigint
          RETURNING *`,
        [now, now - options.autoRevokeDays * DAY_MS],
      );
      autoRevoked = rows.map(keyFromRow).sort(newestFirst);
      if (autoRevoked.length > 0) {
        await tx.run(
          `INSERT INTO audit_events (at, actor, actor_key_id, action, key_id, export_id, summary, changed_fields)
           SELECT $2::bigint, $3, NULL, 'key.auto_revoke', ids.id, $4, $5, $6::json
             FROM unnest($1::text[]) WITH ORDINALITY AS ids (id, n)
            ORDER BY ids.n`,
          [
            autoRevoked.map((key) => key.id),
            audit.at,
            audit.actor,
            audit.exportId,
            audit.summary,
            JSON.stringify(audit.changedFields),
          ],
        );
      }
    }

    // Same rule as the "inactive" status; a disabled key is "disabled", not inactive.
    const inactiveRows = await tx.query<KeyRow>(
      `UPDATE keys
          SET inactive_since = ${NOW}
        WHERE ${NOT_REVOKED(NOW)} AND ${NOT_EXPIRED(NOW)} AND enabled
          AND inactive_since IS NULL AND ${IDLE_SINCE} <= $2::bigint
        RETURNING *`,
      [now, now - options.inactiveDays * DAY_MS],
    );
    const newlyInactive = inactiveRows.map(keyFromRow).sort(newestFirst);

    // Keys revoked before they expired never become "expired", so they are not counted.
    const [expired] = await tx.query<{ count: number }>(
      `SELECT count(*) AS count FROM keys
        WHERE expires_at IS NOT NULL AND expires_at <= ${NOW}
          AND expires_at > coalesce((SELECT value FROM meta WHERE name = 'last_sweep_at'), -1)
          AND (revoked_at IS NULL OR revoked_at > expires_at)`,
      [now],
    );
    await tx.run(
      `INSERT INTO meta (name, value) VALUES ('last_sweep_at', ${NOW})
       ON CONFLICT (name) DO UPDATE SET value = greatest(meta.value, excluded.value)`,
      [now],
    );

    const exportRows = await tx.query<ExportColumns>(
      `UPDATE exports
          SET state = 'expired', updated_at = ${NOW}
        WHERE state IN ('pending', 'ready', 'failed') AND expires_at <= ${NOW}
        RETURNING *`,
      [now],
    );
    const expiredExports = exportRows.map(exportFromColumns).sort(newestFirst);

    let prunedLogs = 0;
    if (options.logRetentionDays > 0) {
      prunedLogs = await tx.run("DELETE FROM key_logs WHERE at < $1::bigint", [
        now - options.logRetentionDays * DAY_MS,
      ]);
    }
    await tx.run("DELETE FROM usage_hourly WHERE hour_start < $1::bigint", [now - USAGE_RETENTION_DAYS * DAY_MS]);
    // By the database's clock, the one that stamped the rows.
    await tx.run(`DELETE FROM key_changes WHERE at < ${POSTGRES_NOW_MS} - ${KEY_CHANGES_RETENTION_MS}`);

    let rotationDue: SweepResult["rotationDue"] = [];
    if (options.rotationDays > 0) {
      const rows = await tx.query<KeyRow>(
        `UPDATE keys
            SET rotation_notified_at = ${NOW}
          WHERE ${NOT_REVOKED(NOW)} AND ${NOT_EXPIRED(NOW)}
            AND rotated_to_id IS NULL AND rotation_notified_at IS NULL
            AND created_at <= $2::bigint
          RETURNING *`,
        [now, now - options.rotationDays * DAY_MS],
      );
      rotationDue = rows.map(keyFromRow).sort(newestFirst);
    }

    // Each notice once (see sqlite/sweep.ts): 1 day before expiry, 7 days before, expired, low on credits.
    const withinDay = await tx.query<KeyRow>(
      `UPDATE keys SET expiry_notice_for = expires_at, expiry_notice_days = 1
        WHERE ${NOT_REVOKED(NOW)} AND expires_at > ${NOW} AND expires_at <= $2::bigint
          AND NOT (expiry_notice_for IS NOT DISTINCT FROM expires_at AND expiry_notice_days = 1)
        RETURNING *`,
      [now, now + DAY_MS],
    );
    const withinWeek = await tx.query<KeyRow>(
      `UPDATE keys SET expiry_notice_for = expires_at, expiry_notice_days = 7
        WHERE ${NOT_REVOKED(NOW)} AND expires_at > $2::bigint AND expires_at <= $3::bigint
          AND expiry_notice_for IS DISTINCT FROM expires_at
        RETURNING *`,
      [now, now + DAY_MS, now + 7 * DAY_MS],
    );
    const expiringSoon = [...withinDay, ...withinWeek].map(keyFromRow).sort(newestFirst);
    const expiredRows = await tx.query<KeyRow>(
      `UPDATE keys SET expired_notice_for = expires_at
        WHERE expires_at IS NOT NULL AND expires_at <= ${NOW} AND expired_notice_for IS DISTINCT FROM expires_at
          AND (revoked_at IS NULL OR revoked_at > expires_at)
        RETURNING *`,
      [now],
    );
    const newlyExpired = expiredRows.map(keyFromRow).sort(newestFirst);
    await tx.run(REARM_CREDITS_LOW);
    // Told now (webhooks): those no spend took below their line (a line raised, a spend that failed to tell).
    const toldNow = (await tx.query<KeyRow>(`${MARK_CREDITS_LOW} RETURNING *`, [now])).map(keyFromRow);
    // Reminded (digest, owners): every key told since its last reminder, by a spend or just now.
    const creditsLow = (await tx.query<KeyRow>(REMIND_CREDITS_LOW, [now])).map(keyFromRow).sort(newestFirst);

    const found = { newlyInactive, autoRevoked, expiringSoon, expired: newlyExpired, creditsLow };
    await insertEvents(tx, sweepEvents({ ...found, creditsLow: toldNow.sort(newestFirst) }, options));
    const before = now - WEBHOOK_RETENTION_MS;
    await tx.run("DELETE FROM webhook_attempts WHERE at < $1::bigint", [before]);
    await tx.run("DELETE FROM webhook_deliveries WHERE state <> 'pending' AND updated_at < $1::bigint", [before]);
    await tx.run(
      `DELETE FROM events
        WHERE relayed_at IS NOT NULL AND mail_state <> 'pending' AND at < $1::bigint
          AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_seq = events.seq AND d.state = 'pending')`,
      [before],
    );

    return {
      ...found,
      expiredKeys: expired?.count ?? 0,
      expiredExports,
      prunedLogs,
      rotationDue,
    };
  });
}
