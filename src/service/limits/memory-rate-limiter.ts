import { LRUCache } from "lru-cache";
import type { RateLimitRule } from "../keys/model.js";
import { assertCost, NO_LIMIT, type RateLimitDecision, type RateLimiter, windowMs } from "./rate-limiter.js";
import { SlidingLog } from "./sliding-log.js";

export interface MemoryRateLimiterOptions {
  /** Keys whose state is kept; the least recently used are forgotten first. Default 200,000. */
  maxEntries?: number;
  /**
   * Log entries held across all keys (16 bytes each, plus a small fixed cost
   * per rule). Bounds memory when keys have large limits. Default 4,194,304
   * (64 MiB of buffers).
   */
  maxLogEntries?: number;
}

/** Per rule, what an empty log costs in the memory budget besides its buffer. */
const LOG_OVERHEAD = 4;

/**
 * Exact rate limiting in one process, with no I/O.
 *
 * Algorithm: a sliding-window log. A request passes when the units logged in
 * the last `durationSeconds` plus its cost stay within `limit`, so no window
 * of that length ever holds more than `limit` units, and nothing is refused
 * that would fit. GCRA (O(1) memory) was rejected: it enforces a smooth rate
 * with a burst of `limit`, which lets up to ~2x `limit` through some windows
 * (a burst, then the steady rate). A fixed window has the same flaw at its
 * edges. The log costs one entry per allowed request that is still in the
 * window (requests in the same millisecond share one), bounded per key by
 * min(limit, window in ms) and in total by `maxLogEntries`.
 *
 * State lives in an LRU keyed by key id (each value holds that key's rule
 * logs): one lookup per call, no string building, and `reset` is one delete.
 * A key evicted by the bound loses its history, which can only let more
 * through, never fewer.
 */
export class MemoryRateLimiter implements RateLimiter {
  private readonly cache: LRUCache<string, SlidingLog[]>;
  /** The logs of the call in progress; reused because `check` is synchronous. */
  private readonly scratch: SlidingLog[] = [];

  constructor(options: MemoryRateLimiterOptions = {}) {
    this.cache = new LRUCache<string, SlidingLog[]>({
      max: options.maxEntries ?? 200_000,
      maxSize: options.maxLogEntries ?? 4_194_304,
      sizeCalculation: (logs) => {
        let size = 0;
        for (const log of logs) size += log.capacity + LOG_OVERHEAD;
        return Math.max(size, 1);
      },
    });
  }

  /** Keys whose state is held (for metrics and tests). */
  get size(): number {
    return this.cache.size;
  }

  /** Memory budget in use, in log entries (for metrics and tests). */
  get heldLogEntries(): number {
    return this.cache.calculatedSize;
  }

  check(keyId: string, rules: readonly RateLimitRule[], cost: number, now: number): RateLimitDecision {
    if (rules.length === 0) return NO_LIMIT;
    assertCost(cost);

    let logs = this.cache.get(keyId);
    // Re-`set` when the key is new or its memory grew, so the LRU's budget stays true.
    let resized = logs === undefined;
    if (logs === undefined) logs = [];
    const scratch = this.scratch;

    // First pass: bring every window up to `now` and find the first refusal.
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i] as RateLimitRule;
      let log = findLog(logs, rule.name);
      if (log === undefined) {
        log = new SlidingLog(rule.name);
        logs.push(log);
        resized = true;
      }
      const window = windowMs(rule);
      log.trim(now, window);
      scratch[i] = log;
      if (log.used + cost > rule.limit) {
        if (resized) this.remember(keyId, logs);
        const resetAt =
          cost > rule.limit ? log.emptyAt(now, window) : log.freedAt(log.used + cost - rule.limit, now, window);
        return {
          allowed: false,
          state: { name: rule.name, limit: rule.limit, remaining: Math.max(rule.limit - log.used, 0), resetAt },
        };
      }
    }

    // Second pass: every rule has room, so consume from all and report the tightest.
    let tightest = 0;
    let tightestRemaining = Number.POSITIVE_INFINITY;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i] as RateLimitRule;
      const log = scratch[i] as SlidingLog;
      if (log.add(now, cost)) resized = true;
      const remaining = rule.limit - log.used;
      if (remaining < tightestRemaining) {
        tightest = i;
        tightestRemaining = remaining;
      }
    }
    if (resized) this.remember(keyId, logs);

    const rule = rules[tightest] as RateLimitRule;
    const log = scratch[tightest] as SlidingLog;
    return {
      allowed: true,
      state: {
        name: rule.name,
        limit: rule.limit,
        remaining: tightestRemaining,
        resetAt: log.emptyAt(now, windowMs(rule)),
      },
    };
  }

  /** (Re)stores a key's logs so the LRU measures them again and evicts others to fit. */
  private remember(keyId: string, logs: SlidingLog[]): void {
    // lru-cache re-measures only a value that changed identity, so drop the old entry first.
    this.cache.delete(keyId);
    this.cache.set(keyId, logs);
  }

  reset(keyId: string): void {
    this.cache.delete(keyId);
  }

  close(): Promise<void> {
    this.cache.clear();
    return Promise.resolve();
  }
}

/** At most 10 rules per key: a scan beats a map, and allocates nothing. */
function findLog(logs: SlidingLog[], name: string): SlidingLog | undefined {
  for (const log of logs) if (log.name === name) return log;
  return undefined;
}
