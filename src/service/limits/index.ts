import type { Logger } from "pino";
import { MemoryRateLimiter } from "./memory-rate-limiter.js";
import type { RateLimiter } from "./rate-limiter.js";
import { RedisRateLimiter } from "./redis-rate-limiter.js";

export { MemoryRateLimiter, type MemoryRateLimiterOptions } from "./memory-rate-limiter.js";
export type { RateLimitDecision, RateLimiter, RateLimitState } from "./rate-limiter.js";
export { RedisRateLimiter, type RedisRateLimiterOptions } from "./redis-rate-limiter.js";

export interface RateLimiterOptions {
  /** Required when `shared`. */
  redisUrl?: string;
  /** True when several service replicas must share one count (through Redis). */
  shared: boolean;
  onRedisDown: "open" | "closed";
  logger?: Logger;
  /** Shared only: how long a check may wait for Redis before the fallback answers. */
  redisTimeoutMs?: number;
  /** In-memory only: keys whose state is kept (LRU). Default 200,000. */
  maxEntries?: number;
}

/** The limiter VerifyKey uses: in memory for one replica, in Redis when shared. */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  if (!options.shared) {
    return new MemoryRateLimiter({ maxEntries: options.maxEntries });
  }
  if (options.redisUrl === undefined) throw new TypeError("shared rate limits need redisUrl");
  return new RedisRateLimiter({
    url: options.redisUrl,
    onRedisDown: options.onRedisDown,
    logger: options.logger,
    commandTimeoutMs: options.redisTimeoutMs,
  });
}
