import type Database from "better-sqlite3";
import { sweepEvents } from "../../events/sweep-events.js";
import type { AuditEntry, EventRecord, SweepOptions, SweepResult } from "../../keys/model.js";
import { DAY_MS } from "../../keys/status.js";
import { KEY_CHANGES_RETENTION_MS, SQLITE_NOW_MS, WEBHOOK_RETENTION_MS } from "../migrations.js";
import { MARK_CREDITS_LOW, REARM_CREDITS_LOW, REMIND_CREDITS_LOW } from "./credits-low.js";
import { NOT_EXPIRED, NOT_REVOKED } from "./filters.js";
import { type ExportColumns, exportFromColumns, type KeyColumns, keyFromColumns, newestFirst } from "./rows.js";

/** Usage buckets are kept this long, past any chart the console draws. */
const USAGE_RETENTION_DAYS = 400;

const IDLE_SINCE = "coalesce(last_used_at, created_at)";

/**
 * One maintenance pass as a transaction of set-based statements. Statements
 * are prepared once, when the store opens. A step whose `*Days` option is 0
 * or less is switched off.
 */
export function createSweep(
  db: Database.Database,
  insertEvents: (events: readonly EventRecord[]) => void,
): (options: SweepOptions, audit: Omit<AuditEntry, "keyId">) => SweepResult {
  // A key already scheduled for revocation (rotation grace) keeps its own reason.
  const autoRevoke = db.prepare<[{ now: number; revokeBefore: number }], KeyColumns>(
    `UPDATE keys
        SET revoked_at = @now, revocation_reason = 'inactive', updated_at = @now, version = version + 1
      WHERE revoked_at IS NULL AND ${NOT_EXPIRED} AND ${IDLE_SINCE} <= @revokeBefore
      RETURNING *`,
  );
  const auditAutoRevoke = db.prepare<
    [{ ids: string; at: number; actor: string; exportId: string | null; summary: string; changedFields: string }]
  >(
    `INSERT INTO audit_events (at, actor, actor_key_id, action, key_id, export_id, summary, changed_fields)
     SELECT @at, @actor, NULL, 'key.auto_revoke', value, @exportId, @summary, @changedFields
       FROM json_each(@ids)`,
  );
  // Same rule as the "inactive" status; a disabled key is "disabled", not inactive.
  const markInactive = db.prepare<[{ now: number; inactiveBefore: number }], KeyColumns>(
    `UPDATE keys
        SET inactive_since = @now
      WHERE ${NOT_REVOKED} AND ${NOT_EXPIRED} AND enabled = 1
        AND inactive_since IS NULL AND ${IDLE_SINCE} <= @inactiveBefore
      RETURNING *`,
  );
  // Keys revoked before they expired never become "expired", so they are not counted.
  const countExpiredKeys = db
    .prepare<[{ now: number }], number>(
      `SELECT count(*) FROM keys
        WHERE expires_at IS NOT NULL AND expires_at <= @now
          AND expires_at > coalesce((SELECT value FROM meta WHERE name = 'last_sweep_at'), -1)
          AND (revoked_at IS NULL OR revoked_at > expires_at)`,
    )
    .pluck();
  const recordSweep = db.prepare<[{ now: number }]>(
    `INSERT INTO meta (name, value) VALUES ('last_sweep_at', @now)
     ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)`,
  );
  const expireExports = db.prepare<[{ now: number }], ExportColumns>(
    `UPDATE exports
        SET state = 'expired', updated_at = @now
      WHERE state IN ('pending', 'ready', 'failed') AND expires_at <= @now
      RETURNING *`,
  );
  const pruneLogs = db.prepare<[{ before: number }]>("DELETE FROM key_logs WHERE at < @before");
  const pruneUsage = db.prepare<[{ before: number }]>("DELETE FROM usage_hourly WHERE hour_start < @before");
  // By the database's clock, the one that stamped the rows.
  const pruneChanges = db.prepare(`DELETE FROM key_changes WHERE at < ${SQLITE_NOW_MS} - ${KEY_CHANGES_RETENTION_MS}`);
  const markRotationDue = db.prepare<[{ now: number; createdBefore: number }], KeyColumns>(
    `UPDATE keys
        SET rotation_notified_at = @now
      WHERE ${NOT_REVOKED} AND ${NOT_EXPIRED}
        AND rotated_to_id IS NULL AND rotation_notified_at IS NULL
        AND created_at <= @createdBefore
      RETURNING *`,
  );

  // Each notice once: 1 day before expiry (also when the 7-day one was given),
  // 7 days before (unless the key is already within a day). A new expiry time
  // makes them due again; revoked keys get none.
  const expiringWithinDay = db.prepare<[{ now: number; dayAhead: number }], KeyColumns>(
    `UPDATE keys SET expiry_notice_for = expires_at, expiry_notice_days = 1
      WHERE ${NOT_REVOKED} AND expires_at > @now AND expires_at <= @dayAhead
        AND NOT (expiry_notice_for IS expires_at AND expiry_notice_days = 1)
      RETURNING *`,
  );
  const expiringWithinWeek = db.prepare<[{ now: number; dayAhead: number; weekAhead: number }], KeyColumns>(
    `UPDATE keys SET expiry_notice_for = expires_at, expiry_notice_days = 7
      WHERE ${NOT_REVOKED} AND expires_at > @dayAhead AND expires_at <= @weekAhead
        AND expiry_notice_for IS NOT expires_at
      RETURNING *`,
  );
  // Keys revoked before they expired never become "expired".
  const newlyExpired = db.prepare<[{ now: number }], KeyColumns>(
    `UPDATE keys SET expired_notice_for = expires_at
      WHERE expires_at IS NOT NULL AND expires_at <= @now AND expired_notice_for IS NOT expires_at
        AND (revoked_at IS NULL OR revoked_at > expires_at)
      RETURNING *`,
  );
  const rearmCreditsLow = db.prepare(REARM_CREDITS_LOW);
  const creditsLow = db.prepare<[{ now: number }], KeyColumns>(`${MARK_CREDITS_LOW} RETURNING *`);
  const remindCreditsLow = db.prepare<[{ now: number }], KeyColumns>(REMIND_CREDITS_LOW);
  const pruneAttempts = db.prepare<[{ before: number }]>("DELETE FROM webhook_attempts WHERE at < @before");
  const pruneDeliveries = db.prepare<[{ before: number }]>(
    "DELETE FROM webhook_deliveries WHERE state <> 'pending' AND updated_at < @before",
  );
  const pruneEvents = db.prepare<[{ before: number }]>(
    `DELETE FROM events
      WHERE relayed_at IS NOT NULL AND mail_state <> 'pending' AND at < @before
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_seq = events.seq AND d.state = 'pending')`,
  );

  return db.transaction((options: SweepOptions, audit: Omit<AuditEntry, "keyId">): SweepResult => {
    const { now } = options;

    let autoRevoked: SweepResult["autoRevoked"] = [];
    if (options.autoRevokeDays > 0) {
      autoRevoked = autoRevoke
        .all({ now, revokeBefore: now - options.autoRevokeDays * DAY_MS })
        .map(keyFromColumns)
        .sort(newestFirst);
      if (autoRevoked.length > 0) {
        auditAutoRevoke.run({
          ids: JSON.stringify(autoRevoked.map((key) => key.id)),
          at: audit.at,
          actor: audit.actor,
          exportId: audit.exportId,
          summary: audit.summary,
          changedFields: JSON.stringify(audit.changedFields),
        });
      }
    }

    const newlyInactive = markInactive
      .all({ now, inactiveBefore: now - options.inactiveDays * DAY_MS })
      .map(keyFromColumns)
      .sort(newestFirst);

    const expiredKeys = countExpiredKeys.get({ now }) ?? 0;
    recordSweep.run({ now });

    const expiredExports = expireExports.all({ now }).map(exportFromColumns).sort(newestFirst);

    let prunedLogs = 0;
    if (options.logRetentionDays > 0) {
      prunedLogs = pruneLogs.run({ before: now - options.logRetentionDays * DAY_MS }).changes;
    }
    pruneUsage.run({ before: now - USAGE_RETENTION_DAYS * DAY_MS });
    pruneChanges.run();

    let rotationDue: SweepResult["rotationDue"] = [];
    if (options.rotationDays > 0) {
      rotationDue = markRotationDue
        .all({ now, createdBefore: now - options.rotationDays * DAY_MS })
        .map(keyFromColumns)
        .sort(newestFirst);
    }

    const expiringSoon = [
      ...expiringWithinDay.all({ now, dayAhead: now + DAY_MS }),
      ...expiringWithinWeek.all({ now, dayAhead: now + DAY_MS, weekAhead: now + 7 * DAY_MS }),
    ]
      .map(keyFromColumns)
      .sort(newestFirst);
    const expired = newlyExpired.all({ now }).map(keyFromColumns).sort(newestFirst);
    rearmCreditsLow.run();
    // Told now (webhooks): those no spend took below their line (a line raised, a spend that failed to tell).
    const toldNow = creditsLow.all({ now }).map(keyFromColumns).sort(newestFirst);
    // Reminded (digest, owners): every key told since its last reminder, by a spend or just now.
    const lowOnCredits = remindCreditsLow.all({ now }).map(keyFromColumns).sort(newestFirst);

    const found = { newlyInactive, autoRevoked, expiringSoon, expired, creditsLow: lowOnCredits };
    insertEvents(sweepEvents({ ...found, creditsLow: toldNow }, options));
    const before = now - WEBHOOK_RETENTION_MS;
    pruneAttempts.run({ before });
    pruneDeliveries.run({ before });
    pruneEvents.run({ before });

    return { ...found, expiredKeys, expiredExports, prunedLogs, rotationDue };
  });
}
