import { CREDITS_LOW_SHARE } from "../../shared/contract/events.js";
import type { EventRecord, KeyRecord, SweepOptions } from "../keys/model.js";
import { DAY_MS } from "../keys/status.js";
import { keyEvent } from "./payloads.js";

/** What a sweep found that owners are told about. */
export interface SweepFindings {
  newlyInactive: readonly KeyRecord[];
  autoRevoked: readonly KeyRecord[];
  expiringSoon: readonly KeyRecord[];
  expired: readonly KeyRecord[];
  creditsLow: readonly KeyRecord[];
}

/** The line below which a key is low on credits: its own threshold, else 10% of its refill amount; null without either. */
export function creditsLowLine(key: Pick<KeyRecord, "refill" | "creditsLowThreshold">): number | null {
  if (key.creditsLowThreshold !== null) return key.creditsLowThreshold;
  return key.refill === null ? null : key.refill.amount * CREDITS_LOW_SHARE;
}

/** Whether spending `cost` took a balance from at or above its line to `left`, below it. */
export function crossedCreditsLowLine(
  key: Pick<KeyRecord, "refill" | "creditsLowThreshold">,
  left: number,
  cost: number,
): boolean {
  const line = creditsLowLine(key);
  return line !== null && left < line && left + cost >= line;
}

/** The days a key.expiring notice speaks of: 1 within a day of the expiry, else 7. */
export function expiryNoticeDays(key: Pick<KeyRecord, "expiresAt">, now: number): 1 | 7 {
  return key.expiresAt !== null && key.expiresAt - now <= DAY_MS ? 1 : 7;
}

/** The outbox events of a sweep's findings, written in the sweep's own transaction. */
export function sweepEvents(found: SweepFindings, options: Pick<SweepOptions, "now" | "inactiveDays">): EventRecord[] {
  const { now, inactiveDays } = options;
  const events: EventRecord[] = [];
  for (const key of found.autoRevoked) events.push(keyEvent("key.revoked", key, now, inactiveDays));
  for (const key of found.newlyInactive) events.push(keyEvent("key.inactive", key, now, inactiveDays));
  for (const key of found.expiringSoon) {
    events.push(keyEvent("key.expiring", key, now, inactiveDays, { expiresInDays: expiryNoticeDays(key, now) }));
  }
  for (const key of found.expired) events.push(keyEvent("key.expired", key, now, inactiveDays));
  for (const key of found.creditsLow) {
    events.push(keyEvent("key.credits_low", key, now, inactiveDays, { threshold: creditsLowLine(key) }));
  }
  return events;
}
