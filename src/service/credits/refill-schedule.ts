import type { RefillRule } from "../keys/model.js";

const DAY_MS = 86_400_000;

/** 00:00 UTC of the day holding `now`. */
export function dailyRefillMoment(now: number): number {
  return now - (now % DAY_MS);
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
}

/**
 * The latest monthly refill moment at or before `now` for a refill on
 * `dayOfMonth` (clamped to the month's last day, so the 31st means the last
 * day of short months), at 00:00 UTC.
 */
export function monthlyRefillMoment(now: number, dayOfMonth: number): number {
  const date = new Date(now);
  let year = date.getUTCFullYear();
  let month = date.getUTCMonth();
  let moment = Date.UTC(year, month, Math.min(dayOfMonth, daysInMonth(year, month)));
  if (moment > now) {
    month -= 1;
    if (month < 0) {
      month = 11;
      year -= 1;
    }
    moment = Date.UTC(year, month, Math.min(dayOfMonth, daysInMonth(year, month)));
  }
  return moment;
}

/** The monthly moments for days 1 to 31, for the set-based refill in the sweep. */
export function monthlyRefillMoments(now: number): number[] {
  return Array.from({ length: 31 }, (_, i) => monthlyRefillMoment(now, i + 1));
}

/** True when the key's credits are due to be set back to the refill amount. */
export function refillDue(refill: RefillRule, now: number): boolean {
  const moment = refill.interval === "daily" ? dailyRefillMoment(now) : monthlyRefillMoment(now, refill.dayOfMonth);
  return (refill.lastRefillAt ?? 0) < moment;
}
