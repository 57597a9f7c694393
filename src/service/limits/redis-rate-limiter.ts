import { Redis } from "ioredis";
import type { Logger } from "pino";
import type { RateLimitRule } from "../keys/model.js";
import { assertCost, NO_LIMIT, type RateLimitDecision, type RateLimiter, windowMs } from "./rate-limiter.js";
import { CHECK_SCRIPT, RESET_SCRIPT } from "./redis-scripts.js";
import { ThrottledWarning } from "./throttled-warning.js";

export interface RedisRateLimiterOptions {
  url: string;
  /** The answer while Redis cannot be reached or is too slow: let requests through, or refuse them. */
  onRedisDown: "open" | "closed";
  logger?: Logger;
  /** Prefix of every Redis key this limiter writes. Default "keyward:rl:". */
  keyPrefix?: string;
  /** Longest wait for a Redis reply before the `onRedisDown` answer is given. Default 50. */
  commandTimeoutMs?: number;
}

/** How far ahead a fail-closed refusal tells the caller to retry; the true state is unknown. */
const FAIL_CLOSED_RETRY_MS = 1_000;

interface ScriptedRedis extends Redis {
  keywardRateLimitCheck(...keysThenArgs: (string | number)[]): Promise<[number, number, number, number]>;
  keywardRateLimitReset(meta: string): Promise<number>;
}

/**
 * The in-memory limiter's sliding-window log, shared by every replica through
 * Redis: one Lua script checks all of a key's rules and consumes from all or
 * none, atomically.
 *
 * Time: the script uses the `now` the caller passes, not Redis's clock, so
 * both limiters behave the same and tests can drive time. Replicas' clocks
 * must agree (NTP); a skew of s ms moves a window's edges by up to s ms.
 *
 * Redis down or slow: commands fail at once while disconnected (no offline
 * queue, so nothing is replayed later) and after `commandTimeoutMs` when
 * Redis does not answer; the answer is then `onRedisDown`, with one warn line
 * per 10 s. ioredis keeps reconnecting by itself. A script that timed out on
 * our side may still have run on Redis and consumed its units.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly redis: ScriptedRedis;
  private readonly prefix: string;
  private readonly commandTimeoutMs: number;
  private readonly failOpen: boolean;
  private readonly warning: ThrottledWarning;
  private readonly logger: Logger | undefined;
  /** Settles when the first connection attempt ends; until then a call waits for it briefly. */
  private firstConnection: Promise<void> | null;
  private readonly connected: Promise<void>;

  constructor(options: RedisRateLimiterOptions) {
    this.prefix = options.keyPrefix ?? "keyward:rl:";
    this.commandTimeoutMs = options.commandTimeoutMs ?? 50;
    this.failOpen = options.onRedisDown === "open";
    this.logger = options.logger;
    this.warning = new ThrottledWarning(options.logger, `rate-limit Redis unavailable; failing ${options.onRedisDown}`);
    this.redis = new Redis(options.url, {
      // A check is answered within commandTimeoutMs, by Redis or by the fallback. Nothing may
      // be queued or replayed after that, or units would be spent for requests already decided.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout: this.commandTimeoutMs,
      connectTimeout: 1_000,
      // Keep trying forever, at most one attempt a second.
      retryStrategy: (times) => Math.min(times * 100, 1_000),
      scripts: {
        keywardRateLimitCheck: { lua: CHECK_SCRIPT },
        keywardRateLimitReset: { lua: RESET_SCRIPT, numberOfKeys: 1 },
      },
    }) as ScriptedRedis;

    this.connected = new Promise<void>((resolve) => this.redis.once("ready", resolve));
    this.firstConnection = new Promise<void>((resolve) => {
      const settle = () => {
        this.firstConnection = null;
        resolve();
      };
      this.redis.once("ready", settle);
      this.redis.once("error", settle);
      this.redis.once("end", settle);
    });
    // Without a listener ioredis prints every failed attempt to the console.
    this.redis.on("error", (err) => this.warning.note(err, { onRedisDown: options.onRedisDown }));
    this.redis.on("ready", () => {
      if (this.warning.recovered()) this.logger?.info("rate-limit Redis reachable again");
    });
  }

  async check(keyId: string, rules: readonly RateLimitRule[], cost: number, now: number): Promise<RateLimitDecision> {
    if (rules.length === 0) return NO_LIMIT;
    assertCost(cost);
    // Right after start the connection may not be up yet; wait for it, but never longer than a command may take.
    if (this.firstConnection !== null) await within(this.firstConnection, this.commandTimeoutMs);

    const meta = this.metaKey(keyId);
    const keys: string[] = [meta];
    const args: (string | number)[] = [Math.floor(now), cost];
    for (const rule of rules) {
      keys.push(`${meta}:r:${rule.name}`);
      args.push(rule.name, rule.limit, windowMs(rule));
    }
    try {
      const [allowed, index, remaining, resetAt] = await this.redis.keywardRateLimitCheck(
        keys.length,
        ...keys,
        ...args,
      );
      const rule = rules[index - 1] as RateLimitRule;
      return { allowed: allowed === 1, state: { name: rule.name, limit: rule.limit, remaining, resetAt } };
    } catch (err) {
      this.warning.note(err, { onRedisDown: this.failOpen ? "open" : "closed" });
      return this.fallback(rules, now);
    }
  }

  /**
   * Resolves once Redis has been reached (never rejects; it may wait for ever).
   * For start-up and tests: `check` does not need it.
   */
  ready(): Promise<void> {
    return this.connected;
  }

  /** Fire-and-forget: the caller (a key update or delete) must not wait on Redis. */
  reset(keyId: string): void {
    this.redis.keywardRateLimitReset(this.metaKey(keyId)).catch((err: unknown) => {
      this.warning.note(err, { during: "reset" });
    });
  }

  async close(): Promise<void> {
    if (this.redis.status === "ready") {
      try {
        await this.redis.quit();
        return;
      } catch {
        // Fall through: drop the connection instead.
      }
    }
    this.redis.disconnect();
  }

  private metaKey(keyId: string): string {
    // The braces make the key id a hash tag: all of a key's state lives in one slot.
    return `${this.prefix}{${keyId}}`;
  }

  private fallback(rules: readonly RateLimitRule[], now: number): RateLimitDecision {
    if (this.failOpen) return NO_LIMIT;
    const rule = rules[0] as RateLimitRule;
    return {
      allowed: false,
      state: { name: rule.name, limit: rule.limit, remaining: 0, resetAt: now + FAIL_CLOSED_RETRY_MS },
    };
  }
}

/** Resolves when `promise` settles or after `ms`, whichever comes first. */
function within(promise: Promise<void>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    promise.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
