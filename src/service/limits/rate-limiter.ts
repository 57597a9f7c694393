import type { RateLimitRule } from "../keys/model.js";

/** The state of one named limit, as VerifyKey reports it. Times are ms since the epoch. */
export interface RateLimitState {
  name: string;
  limit: number;
  remaining: number;
  resetAt: number;
}

export interface RateLimitDecision {
  allowed: boolean;
  /** The limit that tripped, or the tightest one applied (fewest units remaining). */
  state?: RateLimitState;
}

/**
 * Per-key rate limiting for VerifyKey. Every rule means "at most `limit`
 * units of cost in any window of `durationSeconds`".
 */
export interface RateLimiter {
  /**
   * Applies `rules` (already narrowed to the names the request asked for) to
   * key `keyId` with `cost` units (a non-negative integer) at time `now` (ms).
   * All-or-nothing: if any rule would be exceeded, nothing is consumed from
   * any rule. The in-memory limiter answers synchronously; only the Redis one
   * returns a Promise.
   */
  check(
    keyId: string,
    rules: readonly RateLimitRule[],
    cost: number,
    now: number,
  ): RateLimitDecision | Promise<RateLimitDecision>;
  /** Forget a key's state (key deleted or its limits changed). */
  reset(keyId: string): void;
  close(): Promise<void>;
}

/** The answer when no rule applies; shared so the common case allocates nothing. */
export const NO_LIMIT: RateLimitDecision = Object.freeze({ allowed: true });

/** Rule durations as whole milliseconds, the unit both limiters count in. */
export function windowMs(rule: RateLimitRule): number {
  return Math.round(rule.durationSeconds * 1000);
}

/** Costs are whole units; anything else is a caller bug, not a rate-limit outcome. */
export function assertCost(cost: number): void {
  if (!Number.isSafeInteger(cost) || cost < 0) {
    throw new RangeError(`rate-limit cost must be a non-negative integer, got ${cost}`);
  }
}
