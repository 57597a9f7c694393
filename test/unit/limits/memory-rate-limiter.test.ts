import { describe, expect, it } from "vitest";
import type { RateLimitRule } from "../../../src/service/keys/model.js";
import { MemoryRateLimiter } from "../../../src/service/limits/memory-rate-limiter.js";
import type { RateLimitDecision } from "../../../src/service/limits/rate-limiter.js";

const T0 = 1_700_000_000_000;
const perTenSeconds: RateLimitRule = { name: "api", limit: 5, durationSeconds: 10 };

function check(
  limiter: MemoryRateLimiter,
  rules: readonly RateLimitRule[],
  now: number,
  cost = 1,
  keyId = "key_1",
): RateLimitDecision {
  return limiter.check(keyId, rules, cost, now);
}

describe("MemoryRateLimiter", () => {
  it("answers synchronously, and allows anything when no rule applies", () => {
    const limiter = new MemoryRateLimiter();
    const decision = limiter.check("key_1", [perTenSeconds], 1, T0);
    expect(decision).not.toBeInstanceOf(Promise);
    expect(limiter.check("key_1", [], 1_000, T0)).toEqual({ allowed: true });
  });

  it("allows a burst up to the limit, then refuses until the oldest request leaves the window", () => {
    const limiter = new MemoryRateLimiter();
    for (let i = 0; i < 5; i++) {
      expect(check(limiter, [perTenSeconds], T0 + i)).toEqual({
        allowed: true,
        state: { name: "api", limit: 5, remaining: 4 - i, resetAt: T0 + i + 10_000 },
      });
    }
    expect(check(limiter, [perTenSeconds], T0 + 100)).toEqual({
      allowed: false,
      state: { name: "api", limit: 5, remaining: 0, resetAt: T0 + 10_000 },
    });
    // The window is [t, t + 10 s): one millisecond before resetAt is still refused.
    expect(check(limiter, [perTenSeconds], T0 + 9_999).allowed).toBe(false);
    expect(check(limiter, [perTenSeconds], T0 + 10_000)).toEqual({
      allowed: true,
      state: { name: "api", limit: 5, remaining: 0, resetAt: T0 + 20_000 },
    });
  });

  it("refused calls consume nothing", () => {
    const limiter = new MemoryRateLimiter();
    for (let i = 0; i < 5; i++) check(limiter, [perTenSeconds], T0 + i);
    for (let i = 0; i < 50; i++) expect(check(limiter, [perTenSeconds], T0 + 1_000 + i).allowed).toBe(false);
    // Exactly the five original entries leave at T0+10_000..T0+10_004; the refusals left no trace.
    expect(check(limiter, [perTenSeconds], T0 + 10_004)).toEqual({
      allowed: true,
      state: { name: "api", limit: 5, remaining: 4, resetAt: T0 + 20_004 },
    });
  });

  it("refills completely once a whole window has passed", () => {
    const limiter = new MemoryRateLimiter();
    for (let i = 0; i < 5; i++) check(limiter, [perTenSeconds], T0);
    expect(check(limiter, [perTenSeconds], T0 + 10_000, 5)).toEqual({
      allowed: true,
      state: { name: "api", limit: 5, remaining: 0, resetAt: T0 + 20_000 },
    });
  });

  it("counts costs above one as that many units", () => {
    const limiter = new MemoryRateLimiter();
    const rule: RateLimitRule = { name: "units", limit: 10, durationSeconds: 60 };
    expect(check(limiter, [rule], T0, 4).state?.remaining).toBe(6);
    expect(check(limiter, [rule], T0 + 1_000, 4).state?.remaining).toBe(2);
    // 4 more need 2 units freed: the first request (4 units) leaves at T0 + 60 s.
    expect(check(limiter, [rule], T0 + 2_000, 4)).toEqual({
      allowed: false,
      state: { name: "units", limit: 10, remaining: 2, resetAt: T0 + 60_000 },
    });
    expect(check(limiter, [rule], T0 + 2_000, 2).state?.remaining).toBe(0);
    // Needing 8 units back means waiting for the first two requests.
    expect(check(limiter, [rule], T0 + 3_000, 8).state?.resetAt).toBe(T0 + 61_000);
  });

  it("cost 0 reports the state without consuming, even when exhausted", () => {
    const limiter = new MemoryRateLimiter();
    expect(check(limiter, [perTenSeconds], T0, 0)).toEqual({
      allowed: true,
      state: { name: "api", limit: 5, remaining: 5, resetAt: T0 },
    });
    check(limiter, [perTenSeconds], T0 + 1, 5);
    expect(check(limiter, [perTenSeconds], T0 + 2, 0)).toEqual({
      allowed: true,
      state: { name: "api", limit: 5, remaining: 0, resetAt: T0 + 10_001 },
    });
    expect(check(limiter, [perTenSeconds], T0 + 3).allowed).toBe(false);
  });

  it("never allows a cost above the limit, and says when the window is empty", () => {
    const limiter = new MemoryRateLimiter();
    expect(check(limiter, [perTenSeconds], T0, 6)).toEqual({
      allowed: false,
      state: { name: "api", limit: 5, remaining: 5, resetAt: T0 },
    });
    check(limiter, [perTenSeconds], T0 + 10, 1);
    expect(check(limiter, [perTenSeconds], T0 + 20, 6).state).toEqual({
      name: "api",
      limit: 5,
      remaining: 4,
      resetAt: T0 + 10_010,
    });
  });

  it("applies several limits all-or-nothing: a refusal by one consumes nothing from the others", () => {
    const limiter = new MemoryRateLimiter();
    const perSecond: RateLimitRule = { name: "per-second", limit: 5, durationSeconds: 1 };
    const perMinute: RateLimitRule = { name: "per-minute", limit: 2, durationSeconds: 60 };
    const both = [perSecond, perMinute];
    // The tightest limit (fewest remaining) is the one reported.
    expect(check(limiter, both, T0)).toEqual({
      allowed: true,
      state: { name: "per-minute", limit: 2, remaining: 1, resetAt: T0 + 60_000 },
    });
    expect(check(limiter, both, T0 + 1).state?.remaining).toBe(0);
    for (let i = 0; i < 10; i++) {
      expect(check(limiter, both, T0 + 2 + i)).toEqual({
        allowed: false,
        state: { name: "per-minute", limit: 2, remaining: 0, resetAt: T0 + 60_000 },
      });
    }
    // per-second saw two units, not twelve: three more fit.
    expect(check(limiter, [perSecond], T0 + 20, 3)).toEqual({
      allowed: true,
      state: { name: "per-second", limit: 5, remaining: 0, resetAt: T0 + 1_020 },
    });
  });

  it("reports the first limit that trips when several would", () => {
    const limiter = new MemoryRateLimiter();
    const a: RateLimitRule = { name: "a", limit: 1, durationSeconds: 1 };
    const b: RateLimitRule = { name: "b", limit: 1, durationSeconds: 5 };
    check(limiter, [a, b], T0);
    expect(check(limiter, [a, b], T0 + 1).state?.name).toBe("a");
    expect(check(limiter, [b, a], T0 + 1).state?.name).toBe("b");
  });

  it("keeps keys and limit names apart", () => {
    const limiter = new MemoryRateLimiter();
    const other: RateLimitRule = { ...perTenSeconds, name: "other" };
    check(limiter, [perTenSeconds], T0, 5, "key_a");
    expect(check(limiter, [perTenSeconds], T0, 1, "key_a").allowed).toBe(false);
    expect(check(limiter, [perTenSeconds], T0, 5, "key_b").allowed).toBe(true);
    expect(check(limiter, [other], T0, 5, "key_a").allowed).toBe(true);
  });

  it("reset(keyId) forgets that key's state and only that key's", () => {
    const limiter = new MemoryRateLimiter();
    check(limiter, [perTenSeconds], T0, 5, "key_a");
    check(limiter, [perTenSeconds], T0, 5, "key_b");
    limiter.reset("key_a");
    expect(check(limiter, [perTenSeconds], T0 + 1, 5, "key_a").allowed).toBe(true);
    expect(check(limiter, [perTenSeconds], T0 + 1, 1, "key_b").allowed).toBe(false);
  });

  it("holds at most maxEntries keys, forgetting the least recently used", () => {
    const limiter = new MemoryRateLimiter({ maxEntries: 100 });
    for (let k = 0; k < 1_000; k++) check(limiter, [perTenSeconds], T0, 5, `key_${k}`);
    expect(limiter.size).toBe(100);
    expect(check(limiter, [perTenSeconds], T0 + 1, 1, "key_999").allowed).toBe(false);
    expect(check(limiter, [perTenSeconds], T0 + 1, 5, "key_0").allowed).toBe(true);
  });

  it("holds at most maxLogEntries log entries however large the limits", () => {
    const limiter = new MemoryRateLimiter({ maxLogEntries: 1_000 });
    const generous: RateLimitRule = { name: "generous", limit: 1_000_000, durationSeconds: 3_600 };
    for (let k = 0; k < 20; k++) {
      for (let i = 0; i < 200; i++) check(limiter, [generous], T0 + i, 1, `key_${k}`);
      expect(limiter.heldLogEntries).toBeLessThanOrEqual(1_000);
    }
    // 200 entries need a 256-entry buffer: the budget holds three such keys, the newest ones.
    expect(limiter.heldLogEntries).toBeGreaterThanOrEqual(3 * 256);
    expect(limiter.size).toBe(3);
    expect(check(limiter, [generous], T0 + 500, 0, "key_19").state?.remaining).toBe(1_000_000 - 200);
    expect(check(limiter, [generous], T0 + 500, 0, "key_0").state?.remaining).toBe(1_000_000);
  });

  it("rejects a cost that is not a non-negative integer", () => {
    const limiter = new MemoryRateLimiter();
    expect(() => limiter.check("key_1", [perTenSeconds], -1, T0)).toThrow(RangeError);
    expect(() => limiter.check("key_1", [perTenSeconds], 1.5, T0)).toThrow(RangeError);
    expect(() => limiter.check("key_1", [perTenSeconds], Number.NaN, T0)).toThrow(RangeError);
  });

  it("still holds the limit when the clock steps back", () => {
    const limiter = new MemoryRateLimiter();
    check(limiter, [perTenSeconds], T0 + 5_000, 5);
    expect(check(limiter, [perTenSeconds], T0, 1).allowed).toBe(false);
    // The entries were made at T0+5 s: they leave at T0+15 s, not earlier.
    expect(check(limiter, [perTenSeconds], T0 + 14_999, 1).allowed).toBe(false);
    expect(check(limiter, [perTenSeconds], T0 + 15_000, 5).allowed).toBe(true);
  });
});

describe("MemoryRateLimiter exactness", () => {
  interface Event {
    at: number;
    cost: number;
    allowed: boolean;
  }

  /** A small seeded PRNG (mulberry32), so a failing timeline can be replayed. */
  function random(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
    };
  }

  function run(rule: RateLimitRule, times: number[], costs: number[]): Event[] {
    const limiter = new MemoryRateLimiter();
    return times.map((at, i) => {
      const cost = costs[i] ?? 1;
      return { at, cost, allowed: limiter.check("key_1", [rule], cost, at).allowed };
    });
  }

  /** Units allowed in [from, to), among the first `before` events. */
  function allowedIn(events: Event[], from: number, to: number, before = events.length): number {
    let sum = 0;
    for (let i = 0; i < before; i++) {
      const e = events[i] as Event;
      if (e.allowed && e.at >= from && e.at < to) sum += e.cost;
    }
    return sum;
  }

  /**
   * Exact both ways: no window of the rule's length ever holds more than the
   * limit (the fullest window starts at an allowed request, so checking
   * those is enough), and every refusal was needed.
   */
  function expectExact(rule: RateLimitRule, events: Event[]): void {
    const window = rule.durationSeconds * 1000;
    let worst = 0;
    events.forEach((e, i) => {
      if (e.allowed) worst = Math.max(worst, allowedIn(events, e.at, e.at + window));
      // Refused: what was already allowed in the window ending at e.at left no room for e.
      else expect(allowedIn(events, e.at - window + 1, e.at + 1, i) + e.cost).toBeGreaterThan(rule.limit);
    });
    expect(worst).toBeLessThanOrEqual(rule.limit);
  }

  it("never lets more than the limit through any window of a steady stream", () => {
    const rule: RateLimitRule = { name: "api", limit: 50, durationSeconds: 1 };
    // One request every 7 ms is ~143/s against 50/s, for 5 s.
    const times = Array.from({ length: 715 }, (_, i) => T0 + i * 7);
    const events = run(rule, times, []);
    expectExact(rule, events);
    // Saturated from the start, every full window holds exactly the limit.
    expect(allowedIn(events, T0, T0 + 1_000)).toBe(50);
    expect(allowedIn(events, T0 + 2_500, T0 + 3_500)).toBe(50);
  });

  it("is exact for jittered bursts with mixed costs", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const next = random(seed);
      const rule: RateLimitRule = { name: "api", limit: 20, durationSeconds: 2 };
      const times: number[] = [];
      const costs: number[] = [];
      let at = T0;
      for (let i = 0; i < 600; i++) {
        // Mostly dense traffic with occasional pauses longer than the window.
        at += next() < 0.02 ? 2_500 : Math.floor(next() * 40);
        times.push(at);
        costs.push(next() < 0.1 ? 0 : 1 + Math.floor(next() * 4));
      }
      expectExact(rule, run(rule, times, costs));
    }
  });
});
