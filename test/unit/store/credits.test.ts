import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DAY_MS } from "../../../src/service/keys/status.js";
import type { KeyStore } from "../../../src/service/store/key-store.js";
import { insertKeys, makeKey, NOW, storeBackends, type TempStore } from "./store-fixtures.js";

describe.each(storeBackends())("$name store", (backend) => {
  let temp: TempStore;
  let store: KeyStore;

  beforeEach(async () => {
    temp = await backend.open();
    store = temp.store;
  });

  afterEach(async () => {
    await temp.cleanup();
  });

  describe("spendCredits", () => {
    it("spends and returns the exact balance after", async () => {
      const key = makeKey({ remaining: 10 });
      await insertKeys(store, [key]);
      await expect(store.spendCredits(key.id, 3)).resolves.toBe(7);
      await expect(store.spendCredits(key.id, 7)).resolves.toBe(0);
      expect((await store.getKeyById(key.id))?.remaining).toBe(0);
    });

    it("refuses a spend larger than the balance and spends nothing", async () => {
      const key = makeKey({ remaining: 2 });
      await insertKeys(store, [key]);
      await expect(store.spendCredits(key.id, 3)).resolves.toBeNull();
      expect((await store.getKeyById(key.id))?.remaining).toBe(2);
    });

    it("answers Infinity for a key without a credit limit and stores nothing", async () => {
      const key = makeKey({ remaining: null });
      await insertKeys(store, [key]);
      await expect(store.spendCredits(key.id, 5)).resolves.toBe(Number.POSITIVE_INFINITY);
      expect((await store.getKeyById(key.id))?.remaining).toBeNull();
    });

    it("returns the balance unchanged for a cost of 0, even when it is 0", async () => {
      const key = makeKey({ remaining: 0 });
      await insertKeys(store, [key]);
      await expect(store.spendCredits(key.id, 0)).resolves.toBe(0);
    });

    it("answers null for an unknown key", async () => {
      await expect(store.spendCredits("ghost", 1)).resolves.toBeNull();
    });

    it("rejects a negative or fractional cost", async () => {
      const key = makeKey({ remaining: 5 });
      await insertKeys(store, [key]);
      await expect(store.spendCredits(key.id, -1)).rejects.toThrow(RangeError);
      await expect(store.spendCredits(key.id, 0.5)).rejects.toThrow(RangeError);
      expect((await store.getKeyById(key.id))?.remaining).toBe(5);
    });

    it("never spends a credit twice: 200 concurrent spends of 1 against 50 credits", async () => {
      const key = makeKey({ remaining: 50 });
      await insertKeys(store, [key]);
      const results = await Promise.all(Array.from({ length: 200 }, () => store.spendCredits(key.id, 1)));
      const granted = results.filter((r) => r !== null);
      expect(granted).toHaveLength(50);
      expect([...granted].sort((a, b) => (a as number) - (b as number))).toEqual(
        Array.from({ length: 50 }, (_, i) => i),
      );
      expect((await store.getKeyById(key.id))?.remaining).toBe(0);
    });
  });

  describe("noteCreditsLow", () => {
    const refill = (lastRefillAt: number) => ({ interval: "daily" as const, amount: 100, dayOfMonth: 1, lastRefillAt });
    const options = { now: NOW, inactiveDays: 30 };

    it("marks a key below its line and records key.credits_low with it, once per refill period", async () => {
      const key = makeKey({ remaining: 9, refill: refill(NOW - 1_000) });
      await insertKeys(store, [key]);
      await expect(store.noteCreditsLow(key.id, options)).resolves.toBe(true);
      const event = await store.getEventBySeq(1);
      expect(event).toMatchObject({ type: "key.credits_low", keyId: key.id, at: NOW });
      expect(event?.data).toMatchObject({ threshold: 10, key: { id: key.id, remaining: 9 } });
      // Told: not again in this period, by a spend or by the sweep.
      await expect(store.noteCreditsLow(key.id, { ...options, now: NOW + 1 })).resolves.toBe(false);
      expect(await store.getEventBySeq(2)).toBeUndefined();
      // Refilled, then below the line again: told again.
      expect(await store.refillCredits(key.id, 100, NOW + 2, NOW - 1_000)).toBe(true);
      expect(await store.spendCredits(key.id, 95)).toBe(5);
      await expect(store.noteCreditsLow(key.id, { ...options, now: NOW + 3 })).resolves.toBe(true);
      expect(await store.getEventBySeq(2)).toMatchObject({ type: "key.credits_low", keyId: key.id });
    });

    it("tells nothing for a key at or above its line, without a line, revoked, expired or unknown", async () => {
      const above = makeKey({ remaining: 10, refill: refill(NOW - 1_000) });
      const noLine = makeKey({ remaining: 1 });
      const own = makeKey({ remaining: 30, creditsLowThreshold: 30 });
      const revoked = makeKey({ remaining: 1, refill: refill(NOW - 1_000), revokedAt: NOW - 1 });
      const expired = makeKey({ remaining: 1, refill: refill(NOW - 1_000), expiresAt: NOW - DAY_MS });
      await insertKeys(store, [above, noLine, own, revoked, expired]);
      for (const key of [above, noLine, own, revoked, expired]) {
        await expect(store.noteCreditsLow(key.id, options)).resolves.toBe(false);
      }
      await expect(store.noteCreditsLow("ghost", options)).resolves.toBe(false);
      expect(await store.getEventBySeq(1)).toBeUndefined();
    });

    it("tells a key once when several spends cross its line together", async () => {
      const key = makeKey({ remaining: 3, creditsLowThreshold: 5 });
      await insertKeys(store, [key]);
      const told = await Promise.all(Array.from({ length: 8 }, () => store.noteCreditsLow(key.id, options)));
      expect(told.filter(Boolean)).toHaveLength(1);
      expect(await store.getEventBySeq(2)).toBeUndefined();
    });
  });
});
