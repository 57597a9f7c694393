import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { KeyLogEntry, UsageBatch, VerifyCode } from "../../../src/service/keys/model.js";
import type { KeyStore } from "../../../src/service/store/key-store.js";
import { insertKeys, makeKey, NOW, storeBackends, type TempStore } from "./store-fixtures.js";

const HOUR = 3_600_000;

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

  function batch(parts: Partial<UsageBatch>): UsageBatch {
    return { keys: new Map(), buckets: [], logs: [], ...parts };
  }

  function log(keyId: string, at: number, code: VerifyCode = "VALID", ip = ""): KeyLogEntry {
    return {
      keyId,
      at,
      code,
      context: ip === "" ? null : { ip, method: "POST", path: "/emails", userAgent: "curl/8", tags: { env: "prod" } },
    };
  }

  describe("applyUsage", () => {
    it("adds counts across batches, moves last-used forward only and clears inactive_since", async () => {
      const key = makeKey({ inactiveSince: NOW - HOUR });
      await insertKeys(store, [key]);

      await store.applyUsage(batch({ keys: new Map([[key.id, { count: 3, lastUsedAt: NOW }]]) }));
      await store.applyUsage(batch({ keys: new Map([[key.id, { count: 4, lastUsedAt: NOW - HOUR }]]) }));

      const stored = await store.getKeyById(key.id);
      expect(stored?.requestCount).toBe(7);
      expect(stored?.lastUsedAt).toBe(NOW);
      expect(stored?.inactiveSince).toBeNull();
      // Usage is not an edit of the key.
      expect(stored?.updatedAt).toBe(key.updatedAt);
    });

    it("adds bucket counts for the same key, hour and outcome", async () => {
      const key = makeKey();
      await insertKeys(store, [key]);
      const hour = NOW - 2 * HOUR;
      await store.applyUsage(
        batch({
          buckets: [
            { keyId: key.id, hourStart: hour, code: "VALID", count: 5 },
            { keyId: key.id, hourStart: hour, code: "RATE_LIMITED", count: 1 },
          ],
        }),
      );
      await store.applyUsage(batch({ buckets: [{ keyId: key.id, hourStart: hour, code: "VALID", count: 2 }] }));

      await expect(store.getUsage(key.id, hour, hour + HOUR)).resolves.toEqual([
        { bucketStart: hour, code: "RATE_LIMITED", count: 1 },
        { bucketStart: hour, code: "VALID", count: 7 },
      ]);
    });

    it("ignores rows of a key that does not exist and keeps the rest of the batch", async () => {
      const key = makeKey();
      await insertKeys(store, [key]);
      await store.applyUsage(
        batch({
          keys: new Map([
            ["ghost", { count: 9, lastUsedAt: NOW }],
            [key.id, { count: 1, lastUsedAt: NOW }],
          ]),
          buckets: [
            { keyId: "ghost", hourStart: NOW, code: "VALID", count: 9 },
            { keyId: key.id, hourStart: NOW, code: "VALID", count: 1 },
          ],
          logs: [log("ghost", NOW), log(key.id, NOW)],
        }),
      );
      expect((await store.getKeyById(key.id))?.requestCount).toBe(1);
      await expect(store.getUsage("ghost", 0, NOW + HOUR)).resolves.toEqual([]);
      await expect(store.getUsage(key.id, 0, NOW + HOUR)).resolves.toHaveLength(1);
      await expect(store.countLogsForExport({})).resolves.toBe(1);
    });

    it("writes thousands of keys and logs in one flush quickly", async () => {
      const keys = Array.from({ length: 2_000 }, () => makeKey());
      await insertKeys(store, keys);
      const logs = keys.flatMap((key) => [log(key.id, NOW - 1), log(key.id, NOW, "DISABLED", "10.0.0.1")]);
      const started = performance.now();
      await store.applyUsage(
        batch({
          keys: new Map(keys.map((key) => [key.id, { count: 2, lastUsedAt: NOW }])),
          buckets: keys.map((key) => ({ keyId: key.id, hourStart: NOW, code: "VALID" as const, count: 2 })),
          logs,
        }),
      );
      const elapsed = performance.now() - started;
      await expect(store.countLogsForExport({})).resolves.toBe(4_000);
      expect(elapsed).toBeLessThan(2_000);
    });
  });

  describe("getUsage", () => {
    it("returns hourly rows in [from, to), oldest first", async () => {
      const key = makeKey();
      const other = makeKey();
      await insertKeys(store, [key, other]);
      const hours = [0, 1, 2, 3].map((i) => NOW - 4 * HOUR + i * HOUR);
      await store.applyUsage(
        batch({
          buckets: [
            ...hours.map((hourStart, i) => ({ keyId: key.id, hourStart, code: "VALID" as const, count: i + 1 })),
            { keyId: other.id, hourStart: hours[1] as number, code: "VALID", count: 100 },
          ],
        }),
      );
      await expect(store.getUsage(key.id, hours[1] as number, hours[3] as number)).resolves.toEqual([
        { bucketStart: hours[1], code: "VALID", count: 2 },
        { bucketStart: hours[2], code: "VALID", count: 3 },
      ]);
    });
  });

  describe("key logs", () => {
    async function seedLogs(): Promise<{ keyId: string; otherId: string }> {
      const key = makeKey();
      const other = makeKey();
      await insertKeys(store, [key, other]);
      const logs: KeyLogEntry[] = [];
      for (let i = 0; i < 10; i++) {
        logs.push(log(key.id, NOW + i * 1000, i % 2 === 0 ? "VALID" : "RATE_LIMITED", `10.0.0.${i}`));
      }
      logs.push(log(other.id, NOW + 500, "VALID"));
      await store.applyUsage(batch({ logs }));
      return { keyId: key.id, otherId: other.id };
    }

    it("lists a key's logs newest first, with context as written or null", async () => {
      const { keyId, otherId } = await seedLogs();
      const rows = await store.listKeyLogs(keyId, {}, 100);
      expect(rows.map((r) => r.at)).toEqual(Array.from({ length: 10 }, (_, i) => NOW + (9 - i) * 1000));
      expect(rows[0]).toMatchObject({
        keyId,
        code: "RATE_LIMITED",
        context: { ip: "10.0.0.9", method: "POST", path: "/emails", userAgent: "curl/8", tags: { env: "prod" } },
      });
      const [otherLog] = await store.listKeyLogs(otherId, {}, 100);
      expect(otherLog?.context).toBeNull();
    });

    it("stores an all-empty context as null", async () => {
      const key = makeKey();
      await insertKeys(store, [key]);
      await store.applyUsage(
        batch({
          logs: [
            {
              keyId: key.id,
              at: NOW,
              code: "VALID",
              context: { ip: "", method: "", path: "", userAgent: "", tags: {} },
            },
          ],
        }),
      );
      const [row] = await store.listKeyLogs(key.id, {}, 10);
      expect(row?.context).toBeNull();
    });

    it("writes a flush whose context holds U+0000 (PostgreSQL keeps it as U+FFFD)", async () => {
      const key = makeKey();
      await insertKeys(store, [key]);
      const context = {
        ip: "10.0.0.1",
        method: "GET",
        path: "/a\u0000b",
        userAgent: "curl\u0000x",
        tags: { t: "\u0000" },
      };
      await store.applyUsage(batch({ logs: [{ keyId: key.id, at: NOW, code: "VALID", context }] }));
      const [row] = await store.listKeyLogs(key.id, {}, 10);
      const nul = backend.name === "postgres" ? "\uFFFD" : "\u0000";
      expect(row?.context).toEqual({ ...context, path: `/a${nul}b`, userAgent: `curl${nul}x` });
    });

    it("pages with beforeId without duplicates or gaps", async () => {
      const { keyId } = await seedLogs();
      const first = await store.listKeyLogs(keyId, {}, 4);
      const second = await store.listKeyLogs(keyId, {}, 4, first[3]?.id);
      const third = await store.listKeyLogs(keyId, {}, 4, second[3]?.id);
      const all = [...first, ...second, ...third].map((r) => r.id);
      expect([first.length, second.length, third.length]).toEqual([4, 4, 2]);
      expect(all).toEqual((await store.listKeyLogs(keyId, {}, 100)).map((r) => r.id));
      expect(new Set(all).size).toBe(10);
    });

    it("filters by code, from (inclusive) and to (exclusive)", async () => {
      const { keyId } = await seedLogs();
      const limited = await store.listKeyLogs(keyId, { code: "RATE_LIMITED" }, 100);
      expect(limited.map((r) => r.at)).toEqual([9, 7, 5, 3, 1].map((i) => NOW + i * 1000));

      const window = await store.listKeyLogs(keyId, { from: NOW + 2000, to: NOW + 5000 }, 100);
      expect(window.map((r) => r.at)).toEqual([NOW + 4000, NOW + 3000, NOW + 2000]);

      const both = await store.listKeyLogs(keyId, { code: "VALID", from: NOW + 2000, to: NOW + 5000 }, 100);
      expect(both.map((r) => r.at)).toEqual([NOW + 4000, NOW + 2000]);
    });

    it("lists and counts logs for an export across keys or for one key", async () => {
      const { keyId, otherId } = await seedLogs();
      await expect(store.countLogsForExport({})).resolves.toBe(11);
      await expect(store.countLogsForExport({ keyId })).resolves.toBe(10);
      await expect(store.countLogsForExport({ code: "VALID" })).resolves.toBe(6);
      await expect(store.countLogsForExport({ keyId: otherId, from: NOW, to: NOW + 1000 })).resolves.toBe(1);

      const all = await store.listLogsForExport({}, 100);
      expect(all).toHaveLength(11);
      expect(all.map((r) => r.id)).toEqual([...all.map((r) => r.id)].sort((a, b) => b - a));

      const page1 = await store.listLogsForExport({ code: "VALID" }, 4);
      const page2 = await store.listLogsForExport({ code: "VALID" }, 4, page1[3]?.id);
      expect(page1.length + page2.length).toBe(6);
      expect(new Set([...page1, ...page2].map((r) => r.id)).size).toBe(6);
    });
  });
});
