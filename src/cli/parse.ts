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

/** 0 or more: a count such as --credits. */
export function parseWholeNumber(text: string): number {
  if (!/^\d+$/.test(text.trim())) throw new InvalidArgumentError("must be a whole number, 0 or more.");
  return Number(text);
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

/**
 * A word from a fixed list, case-insensitive (`--code VALID`, `--status Active`);
 * `aliases` adds other spellings of a word (`rotate` for `key.rotate`). An
 * unknown word is an error listing the allowed ones.
 */
export function wordParser<W extends string>(
  words: readonly W[],
  aliases: Readonly<Record<string, W>> = {},
): (text: string) => W {
  return (text) => {
    const word = text.trim().toLowerCase();
    const found = words.find((w) => w === word) ?? aliases[word];
    if (found === undefined) throw new InvalidArgumentError(`must be one of: ${words.join(", ")}.`);
    return found;
  };
}

export interface RateLimitFlag {
  name: string;
  limit: number;
  durationSeconds: number;
}

/** --ratelimit NAME:LIMIT/DURATION, repeatable: `api:100/1m` is 100 per minute. */
export function collectRatelimit(text: string, previous: RateLimitFlag[] | undefined): RateLimitFlag[] {
  const match = /^([^:]+):(\d+)\/(\d+[smhdwy]?)$/.exec(text.trim());
  if (!match) throw new InvalidArgumentError("must be NAME:LIMIT/DURATION, e.g. api:100/1m (100 a minute).");
  const limit = Number(match[2]);
  return [
    ...(previous ?? []),
    { name: match[1] as string, limit, durationSeconds: parseDurationSeconds(match[3] as string) },
  ];
}

export interface RefillFlag {
  interval: "daily" | "monthly";
  amount: number;
  dayOfMonth?: number;
}

/** --refill daily:N, or monthly:N@DAY (DAY 1-31, clamped to the month's length). */
export function parseRefill(text: string): RefillFlag {
  const daily = /^daily:(\d+)$/i.exec(text.trim());
  if (daily) return { interval: "daily", amount: Number(daily[1]) };
  const monthly = /^monthly:(\d+)(?:@(\d+))?$/i.exec(text.trim());
  if (monthly) {
    return { interval: "monthly", amount: Number(monthly[1]), dayOfMonth: Number(monthly[2] ?? 1) };
  }
  throw new InvalidArgumentError("must be daily:N or monthly:N@DAY, e.g. monthly:1000@1.");
}
