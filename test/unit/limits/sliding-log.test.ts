import { describe, expect, it } from "vitest";
import { SlidingLog } from "../../../src/service/limits/sliding-log.js";

/** The obvious model: every entry in a plain array. */
class NaiveLog {
  entries: { at: number; cost: number }[] = [];
  trim(now: number, windowMs: number) {
    this.entries = this.entries.filter((e) => e.at > now - windowMs);
  }
  add(now: number, cost: number) {
    if (cost === 0) return;
    const newest = this.entries.at(-1)?.at ?? Number.NEGATIVE_INFINITY;
    this.entries.push({ at: Math.max(now, newest), cost });
  }
  get used() {
    return this.entries.reduce((sum, e) => sum + e.cost, 0);
  }
  freedAt(units: number, now: number, windowMs: number) {
    let freed = 0;
    for (const e of this.entries) {
      freed += e.cost;
      if (freed >= units) return e.at + windowMs;
    }
    return (this.entries.at(-1)?.at ?? now - windowMs) + windowMs;
  }
}

describe("SlidingLog", () => {
  it("matches a plain array through growth, wrap-around and trimming", () => {
    const log = new SlidingLog("api");
    const naive = new NaiveLog();
    const windowMs = 100;
    let now = 0;
    let seed = 7;
    const next = () => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return seed / 4_294_967_296;
    };
    for (let i = 0; i < 5_000; i++) {
      // Bursts then pauses, so the head wraps before the buffer has to grow again.
      now += next() < 0.05 ? 60 : Math.floor(next() * 3);
      log.trim(now, windowMs);
      naive.trim(now, windowMs);
      const cost = Math.floor(next() * 3);
      log.add(now, cost);
      naive.add(now, cost);
      expect(log.used).toBe(naive.used);
      const units = 1 + Math.floor(next() * (naive.used + 2));
      expect(log.freedAt(units, now, windowMs)).toBe(naive.freedAt(units, now, windowMs));
      expect(log.emptyAt(now, windowMs)).toBe(naive.freedAt(Number.POSITIVE_INFINITY, now, windowMs));
    }
    expect(log.capacity).toBeGreaterThanOrEqual(64);
  });

  it("keeps requests of the same millisecond in one entry", () => {
    const log = new SlidingLog("api");
    for (let i = 0; i < 1_000; i++) log.add(5, 1);
    expect(log.used).toBe(1_000);
    expect(log.capacity).toBe(2);
  });
});
