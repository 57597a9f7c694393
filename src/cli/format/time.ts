const UNITS: [string, number][] = [
  ["year", 31_536_000],
  ["month", 2_592_000],
  ["week", 604_800],
  ["day", 86_400],
  ["hour", 3600],
  ["minute", 60],
];

/** "3 days ago", "in 2 hours", "just now"; "never" for null. */
export function relativeTime(iso: string | null, now = Date.now(), never = "never"): string {
  if (!iso) return never;
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return "just now";
  for (const [unit, size] of UNITS) {
    const n = Math.floor(abs / size);
    if (n >= 1) {
      const phrase = `${n} ${unit}${n === 1 ? "" : "s"}`;
      return seconds < 0 ? `${phrase} ago` : `in ${phrase}`;
    }
  }
  return seconds < 0 ? "1 minute ago" : "in 1 minute";
}

/** "2030-01-31 12:00 UTC (in 3 days)"; `none` for null. */
export function timeWithRelative(iso: string | null, none: string, now = Date.now()): string {
  if (!iso) return none;
  return `${iso.slice(0, 16).replace("T", " ")} UTC (${relativeTime(iso, now)})`;
}
