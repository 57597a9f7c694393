import type { KeyStatusWord, PermissionWord, VerifyCodeWord } from "../shared/contract/words.js";

/** What the console shows for the gateway's words and numbers. */

export const PERMISSION_LABELS: Record<PermissionWord, string> = {
  full_access: "Full access",
  sending_access: "Sending access",
};

export const STATUS_LABELS: Record<KeyStatusWord, string> = {
  active: "Active",
  inactive: "Inactive",
  expired: "Expired",
  disabled: "Disabled",
  revoked: "Revoked",
};

export const OUTCOME_LABELS: Record<VerifyCodeWord, string> = {
  valid: "Valid",
  malformed: "Malformed",
  not_found: "Not found",
  revoked: "Revoked",
  expired: "Expired",
  disabled: "Disabled",
  ip_not_allowed: "IP not allowed",
  insufficient_permission: "Insufficient permission",
  domain_mismatch: "Domain mismatch",
  missing_scopes: "Missing scopes",
  rate_limited: "Rate limited",
  usage_exceeded: "Usage exceeded",
};

const UNITS: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ["year", 365 * 86_400_000],
  ["month", 30 * 86_400_000],
  ["day", 86_400_000],
  ["hour", 3_600_000],
  ["minute", 60_000],
  ["second", 1_000],
];

const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

/** "3 minutes ago", "in 5 days"; `fallback` when there is no time. */
export function relativeTime(iso: string | null, fallback = "—", now = Date.now()): string {
  if (!iso) return fallback;
  const diff = Date.parse(iso) - now;
  const abs = Math.abs(diff);
  if (abs < 10_000) return "just now";
  for (const [unit, ms] of UNITS) {
    if (abs >= ms || unit === "second") return relative.format(Math.round(diff / ms), unit);
  }
  return fallback;
}

const absolute = new Intl.DateTimeFormat("en-GB", {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  timeZoneName: "short",
});

export function absoluteTime(iso: string | null, fallback = "—"): string {
  return iso ? absolute.format(new Date(iso)) : fallback;
}

export function count(n: number): string {
  return n.toLocaleString("en-US");
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

/** Whole days from now until a time (negative once past). */
export function daysUntil(iso: string | null, now = Date.now()): number | undefined {
  return iso ? (Date.parse(iso) - now) / 86_400_000 : undefined;
}

export function duration(seconds: number): string {
  if (seconds % 86_400 === 0) return plural(seconds / 86_400, "day");
  if (seconds % 3_600 === 0) return plural(seconds / 3_600, "hour");
  if (seconds % 60 === 0) return plural(seconds / 60, "minute");
  return plural(seconds, "second");
}
