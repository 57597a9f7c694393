import { keyEvent } from "../../events/payloads.js";
import { creditsLowLine } from "../../events/sweep-events.js";
import type { PgDatabase } from "./database.js";
import { NOT_EXPIRED, NOT_REVOKED } from "./filters.js";
import { insertEvents } from "./outbox-writes.js";
import { type KeyRow, keyFromRow } from "./rows.js";

/** The line below which a key is low on credits (events/sweep-events.ts, creditsLowLine), as SQL. */
const LOW_LINE = "coalesce(credits_low_threshold, (refill->>'amount')::numeric * 0.1)";

/** Back above the line (a refill, a top-up): the next fall is told again. */
export const REARM_CREDITS_LOW = `UPDATE keys SET credits_low_notified_at = NULL
  WHERE credits_low_notified_at IS NOT NULL AND remaining IS NOT NULL AND remaining >= ${LOW_LINE}`;

/**
 * Live keys below their line and not told since their last refill (once per
 * refill period), marked as told at $1 (the time). The sweep runs it over
 * every key; a verification whose spend crossed the line, for its key alone.
 */
export const MARK_CREDITS_LOW = `UPDATE keys SET credits_low_notified_at = $1::bigint
  WHERE ${NOT_REVOKED("$1::bigint")} AND ${NOT_EXPIRED("$1::bigint")} AND remaining IS NOT NULL AND remaining < ${LOW_LINE}
    AND (credits_low_notified_at IS NULL
         OR credits_low_notified_at < coalesce((refill->>'lastRefillAt')::bigint, 0))`;

/**
 * Live keys told they are low on credits since they were last reminded,
 * marked as reminded at $1::bigint: what the sweep's digest and owner reminders list.
 */
export const REMIND_CREDITS_LOW = `UPDATE keys SET credits_low_reminded_at = $1::bigint
  WHERE ${NOT_REVOKED("$1::bigint")} AND ${NOT_EXPIRED("$1::bigint")} AND credits_low_notified_at IS NOT NULL
    AND (credits_low_reminded_at IS NULL OR credits_low_reminded_at < credits_low_notified_at)
  RETURNING *`;

/** key.credits_low for one key as soon as a spend took it below its line: marked and recorded in one transaction. */
export function noteCreditsLow(db: PgDatabase, keyId: string, now: number, inactiveDays: number): Promise<boolean> {
  return db.transaction(async (tx) => {
    const [row] = await tx.query<KeyRow>(`${MARK_CREDITS_LOW} AND id = $2::text RETURNING *`, [now, keyId]);
    if (row === undefined) return false;
    const key = keyFromRow(row);
    await insertEvents(tx, [keyEvent("key.credits_low", key, now, inactiveDays, { threshold: creditsLowLine(key) })]);
    return true;
  });
}
