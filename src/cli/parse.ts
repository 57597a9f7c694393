import { InvalidArgumentError } from "commander";

/**
 * Option parsers for commander: each turns a flag's text into the gateway's
 * value or throws InvalidArgumentError (commander prints it, exit 2).
 */

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 };

/** "30d", "12h", "90m", "45s", "2w", "1y" or plain seconds ("3600") -> seconds. */
export function parseDurationSeconds(text: string): number {
  const match = /^(\d+)([smhdwy]?)$/.exec(text.trim());
  if (!match) throw new InvalidArgumentError("must be a duration such as 30d, 12h, 90m or 3600 (seconds).");
  const seconds = Number(match[1]) * (UNIT_SECONDS[match[2] || "s"] as number);
  if (!Number.isSafeInteger(seconds)) throw new InvalidArgumentError("is too long.");
  return seconds;
}

/** A JSON object, as --claims takes it. */
export function parseClaims(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidArgumentError(`must be a JSON object, e.g. '{"email":"ops@example.com"}'.`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new InvalidArgumentError(`must be a JSON object, e.g. '{"email":"ops@example.com"}'.`);
  }
  return value as Record<string, unknown>;
}

/** For repeatable flags: --scope a --scope b -> ["a", "b"]. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function parsePositiveInt(text: string): number {
  if (!/^\d+$/.test(text.trim())) throw new InvalidArgumentError("must be a whole number.");
  return Number(text);
}

/** An ISO-8601 time, or a duration into the past ("24h" = 24 hours ago). */
export function parseTime(text: string, now = Date.now()): string {
  if (/^\d+[smhdwy]$/.test(text.trim())) return new Date(now - parseDurationSeconds(text) * 1000).toISOString();
  const ms = Date.parse(text);
  if (Number.isNaN(ms))
    throw new InvalidArgumentError("must be an ISO-8601 time (2030-01-31T12:00:00Z) or a duration ago (24h, 7d).");
  return new Date(ms).toISOString();
}
