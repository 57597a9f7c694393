import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { KeyRecord, KeyStatus } from "../../../src/service/keys/model.js";
import { deriveStatus } from "../../../src/service/keys/status.js";
import { DAY_MS, INACTIVE_DAYS, insertKeys, makeKey, NOW, storeBackends, type TempStore } from "./store-fixtures.js";

const STATUSES: KeyStatus[] = ["active", "inactive", "expired", "revoked", "disabled"];
const CUTOFF = NOW - INACTIVE_DAYS * DAY_MS;

/** Every combination of the times deriveStatus looks at, on and either side of each boundary. */
function boundaryKeys(): KeyRecord[] {
  const keys: KeyRecord[] = [];
  for (const revokedAt of [null, NOW - 1, NOW, NOW + 1]) {
    for (const expiresAt of [null, NOW - 1, NOW, NOW + 1]) {
      for (const enabled of [true, false]) {
        for (const createdAt of [CUTOFF - DAY_MS, CUTOFF, CUTOFF + 1]) {
          for (const lastUsedAt of [null, CUTOFF - 1, CUTOFF, CUTOFF + 1, NOW]) {
            keys.push(makeKey({ revokedAt, expiresAt, enabled, createdAt, lastUsedAt }));
          }
        }
      }
    }
  }
  return keys;
}

describe.each(storeBackends())("$name store", (backend) => {
  let temp: TempStore;
  let keys: KeyRecord[];

  let failure: unknown;

  beforeAll(async () => {
    try {
      temp = await backend.open(INACTIVE_DAYS);
      keys = boundaryKeys();
      await insertKeys(temp.store, keys);
    } catch (error) {
      failure = error;
    }
  });

  // A store that cannot be opened fails each test (a failing beforeAll would only skip them).
  beforeEach(() => {
    if (failure !== undefined) throw failure;
  });

  afterAll(async () => {
    await temp?.cleanup();
  });

  describe("status filter", () => {
    it.each(STATUSES)("selects exactly the keys deriveStatus calls %s", async (status) => {
      const expected = keys
        .filter((key) => deriveStatus(key, NOW, INACTIVE_DAYS) === status)
        .map((key) => key.id)
        .sort();
      expect(expected.length).toBeGreaterThan(0);

      const listed = await temp.store.listKeys({ status }, NOW, 1_000);
      expect(listed.map((key) => key.id).sort()).toEqual(expected);
      await expect(temp.store.countKeys({ status }, NOW)).resolves.toBe(expected.length);
    });

    it("partitions all keys: every key has exactly one status", async () => {
      let total = 0;
      for (const status of STATUSES) total += await temp.store.countKeys({ status }, NOW);
      expect(total).toBe(keys.length);
      await expect(temp.store.countKeys({}, NOW)).resolves.toBe(keys.length);
    });

    it("judges status at the `now` it is given", async () => {
      const later = NOW + 2;
      const expected = keys.filter((key) => deriveStatus(key, later, INACTIVE_DAYS) === "revoked").length;
      await expect(temp.store.countKeys({ status: "revoked" }, later)).resolves.toBe(expected);
      expect(expected).toBeGreaterThan(await temp.store.countKeys({ status: "revoked" }, NOW));
    });

    it("combines status with another filter", async () => {
      const sample = keys.find((key) => deriveStatus(key, NOW, INACTIVE_DAYS) === "active") as KeyRecord;
      const page = await temp.store.listKeys({ status: "active", nameContains: sample.name }, NOW, 10);
      expect(page.map((key) => key.id)).toEqual([sample.id]);
    });
  });
});
