import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { KeyStore } from "../../../src/service/store/key-store.js";
import { insertKeys, makeKey, storeBackends, type TempStore } from "./store-fixtures.js";

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
});
