import type Database from "better-sqlite3";
import { keyEvent } from "../../events/payloads.js";
import { creditsLowLine } from "../../events/sweep-events.js";
import type { EventRecord } from "../../keys/model.js";
import { NOT_EXPIRED, NOT_REVOKED } from "./filters.js";
import { type KeyColumns, keyFromColumns } from "./rows.js";

/** The line below which a key is low on credits (events/sweep-events.ts, creditsLowLine), as SQL. */
const LOW_LINE = "coalesce(credits_low_threshold, json_extract(refill, '$.amount') * 0.1)";

/** Back above the line (a refill, a top-up): the next fall is told again. */
export const REARM_CREDITS_LOW = `UPDATE keys SET credits_low_notified_at = NULL
  WHERE credits_low_notified_at IS NOT NULL AND remaining IS NOT NULL AND remaining >= ${LOW_LINE}`;

/**
 * Live keys below their line and not told since their last refill (once per
 * refill period), marked as told at @now. The sweep runs it over every key;
 * a verification whose spend crossed the line runs it for its key alone.
 */
export const MARK_CREDITS_LOW = `UPDATE keys SET credits_low_notified_at = @now
  WHERE ${NOT_REVOKED} AND ${NOT_EXPIRED} AND remaining IS NOT NULL AND remaining < ${LOW_LINE}
    AND (credits_low_notified_at IS NULL
         OR credits_low_notified_at < coalesce(json_extract(refill, '$.lastRefillAt'), 0))`;

/**
 * Live keys told they are low on credits since they were last reminded,
 * marked as reminded at @now: what the sweep's digest and owner reminders list.
 */
export const REMIND_CREDITS_LOW = `UPDATE keys SET credits_low_reminded_at = @now
  WHERE ${NOT_REVOKED} AND ${NOT_EXPIRED} AND credits_low_notified_at IS NOT NULL
    AND (credits_low_reminded_at IS NULL OR credits_low_reminded_at < credits_low_notified_at)
  RETURNING *`;

/** key.credits_low for one key as soon as a spend took it below its line: marked and recorded in one transaction. */
export function createNoteCreditsLow(
  db: Database.Database,
  insertEvents: (events: readonly EventRecord[]) => void,
): (keyId: string, now: number, inactiveDays: number) => boolean {
  const markOne = db.prepare<[{ now: number; id: string }], KeyColumns>(`${MARK_CREDITS_LOW} AND id = @id RETURNING *`);
  return db.transaction((keyId: string, now: number, inactiveDays: number) => {
    const row = markOne.get({ now, id: keyId });
    if (row === undefined) return false;
    const key = keyFromColumns(row);
    insertEvents([keyEvent("key.credits_low", key, now, inactiveDays, { threshold: creditsLowLine(key) })]);
    return true;
  });
}
