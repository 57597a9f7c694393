import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AuditEntry, KeyRecord, SweepOptions } from "../../../src/service/keys/model.js";
import type { KeyStore } from "../../../src/service/store/key-store.js";
import {
  DAY_MS,
  insertKeys,
  makeAudit,
  makeExport,
  makeKey,
  NOW,
  storeBackends,
  type TempStore,
} from "./store-fixtures.js";

const HOUR = 3_600_000;

const OPTIONS: SweepOptions = {
  now: NOW,
  inactiveDays: 30,
  autoRevokeDays: 90,
  logRetentionDays: 30,
  rotationDays: 90,
};

const SWEEP_AUDIT: Omit<AuditEntry, "keyId"> = {
  at: NOW,
  actor: "sweeper",
  actorKeyId: null,
  action: "key.auto_revoke",
  exportId: null,
  summary: "revoked after 90 days without use",
  changedFields: ["revoke_time", "revocation_reason"],
};

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

  /** Keys whose times put each of them on one side of each sweep rule. */
  function scenario() {
    const ago = (days: number) => NOW - days * DAY_MS;
    return {
      fresh: makeKey({ name: "fresh", createdAt: ago(1) }),
      idle40: makeKey({ name: "idle40", createdAt: ago(100), lastUsedAt: ago(40) }),
      idle100: makeKey({ name: "idle100", createdAt: ago(200), lastUsedAt: ago(100) }),
      neverUsed31: makeKey({ name: "neverUsed31", createdAt: ago(31) }),
      exactlyAtCutoff: makeKey({ name: "exactlyAtCutoff", createdAt: ago(60), lastUsedAt: ago(30) }),
      alreadyInactive: makeKey({ name: "alreadyInactive", createdAt: ago(50), inactiveSince: ago(20) }),
      disabledIdle: makeKey({ name: "disabledIdle", createdAt: ago(40), enabled: false }),
      revokedIdle: makeKey({ name: "revokedIdle", createdAt: ago(200), revokedAt: ago(10) }),
      expired: makeKey({ name: "expired", createdAt: ago(60), lastUsedAt: ago(1), expiresAt: NOW - HOUR }),
      revokedThenExpired: makeKey({
        name: "revokedThenExpired",
        createdAt: ago(20),
        revokedAt: ago(2),
        expiresAt: ago(1),
      }),
      expiresSoon: makeKey({ name: "expiresSoon", createdAt: ago(5), lastUsedAt: ago(1), expiresAt: NOW + HOUR / 2 }),
      rotatedOld: makeKey({ name: "rotatedOld", createdAt: ago(100), lastUsedAt: ago(1), rotatedToId: "successor" }),
      usedOld: makeKey({ name: "usedOld", createdAt: ago(120), lastUsedAt: ago(1) }),
      // Rotated with a grace period: revocation already scheduled, so not auto-revoked.
      inGrace: makeKey({
        name: "inGrace",
        createdAt: ago(200),
        lastUsedAt: ago(100),
        revokedAt: NOW + DAY_MS,
        rotatedToId: "successor2",
      }),
    };
  }

  const names = (keys: KeyRecord[]) => keys.map((k) => k.name).sort();

  describe("sweep", () => {
    it("revokes, marks inactive, counts expiries and flags rotation exactly as the rules say", async () => {
      const keys = scenario();
      await insertKeys(store, Object.values(keys));

      const result = await store.sweep(OPTIONS, SWEEP_AUDIT);

      expect(names(result.autoRevoked)).toEqual(["idle100"]);
      expect(result.autoRevoked[0]).toMatchObject({ revokedAt: NOW, revocationReason: "inactive", updatedAt: NOW });
      expect(names(result.newlyInactive)).toEqual(["exactlyAtCutoff", "idle40", "inGrace", "neverUsed31"]);
      expect(result.newlyInactive.every((k) => k.inactiveSince === NOW)).toBe(true);
      expect(result.expiredKeys).toBe(1);
      expect(names(result.rotationDue)).toEqual(["idle40", "usedOld"]);
      expect(result.rotationDue.every((k) => k.rotationNotifiedAt === NOW)).toBe(true);

      // The returned records are what is now stored.
      await expect(store.getKeyById(keys.idle100.id)).resolves.toEqual(result.autoRevoked[0]);
      await expect(store.getKeyById(keys.alreadyInactive.id)).resolves.toEqual(keys.alreadyInactive);
      await expect(store.getKeyById(keys.fresh.id)).resolves.toEqual(keys.fresh);
    });

    it("writes one audit row per auto-revoked key, with the sweep's actor and summary", async () => {
      const keys = scenario();
      await insertKeys(store, Object.values(keys));
      await store.sweep(OPTIONS, SWEEP_AUDIT);

      const events = await store.listAuditEvents({ action: "key.auto_revoke" }, 10);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        at: NOW,
        actor: "sweeper",
        actorKeyId: null,
        keyId: keys.idle100.id,
        exportId: null,
        summary: "revoked after 90 days without use",
        changedFields: ["revoke_time", "revocation_reason"],
      });
    });

    it("revokes nothing when autoRevokeDays is 0", async () => {
      const keys = scenario();
      await insertKeys(store, Object.values(keys));
      const result = await store.sweep({ ...OPTIONS, autoRevokeDays: 0 }, SWEEP_AUDIT);

      expect(result.autoRevoked).toEqual([]);
      expect(names(result.newlyInactive)).toContain("idle100");
      expect((await store.getKeyById(keys.idle100.id))?.revokedAt).toBeNull();
      await expect(store.listAuditEvents({ action: "key.auto_revoke" }, 10)).resolves.toEqual([]);
    });

    it("reports each key once: a second sweep finds nothing new", async () => {
      await insertKeys(store, Object.values(scenario()));
      await store.sweep(OPTIONS, SWEEP_AUDIT);

      const second = await store.sweep({ ...OPTIONS, now: NOW + HOUR }, { ...SWEEP_AUDIT, at: NOW + HOUR });
      expect(second.autoRevoked).toEqual([]);
      expect(second.newlyInactive).toEqual([]);
      expect(second.rotationDue).toEqual([]);
      // Only the key that expired between the two sweeps.
      expect(second.expiredKeys).toBe(1);
      expect(second.expiredExports).toEqual([]);
      expect(second.prunedLogs).toBe(0);
    });

    it("reports a key as inactive again after it was used and went idle again", async () => {
      const key = makeKey({ createdAt: NOW - 100 * DAY_MS, lastUsedAt: NOW - 40 * DAY_MS });
      await insertKeys(store, [key]);
      expect((await store.sweep(OPTIONS, SWEEP_AUDIT)).newlyInactive).toHaveLength(1);

      await store.applyUsage({ keys: new Map([[key.id, { count: 1, lastUsedAt: NOW }]]), buckets: [], logs: [] });
      const later = NOW + 31 * DAY_MS;
      const again = await store.sweep({ ...OPTIONS, now: later, autoRevokeDays: 0 }, { ...SWEEP_AUDIT, at: later });
      expect(again.newlyInactive.map((k) => k.id)).toEqual([key.id]);
    });

    it("prunes logs past retention and usage past 400 days", async () => {
      const key = makeKey({ createdAt: NOW - 500 * DAY_MS, lastUsedAt: NOW });
      await insertKeys(store, [key]);
      const logAt = (daysAgo: number) => ({
        keyId: key.id,
        at: NOW - daysAgo * DAY_MS,
        code: "VALID" as const,
        context: null,
      });
      await store.applyUsage({
        keys: new Map(),
        buckets: [
          { keyId: key.id, hourStart: NOW - 401 * DAY_MS, code: "VALID", count: 1 },
          { keyId: key.id, hourStart: NOW - 399 * DAY_MS, code: "VALID", count: 2 },
        ],
        logs: [logAt(31), logAt(30.5), logAt(30), logAt(1)],
      });

      const result = await store.sweep(OPTIONS, SWEEP_AUDIT);
      expect(result.prunedLogs).toBe(2);
      expect((await store.listKeyLogs(key.id, {}, 10)).map((r) => r.at)).toEqual([NOW - DAY_MS, NOW - 30 * DAY_MS]);
      await expect(store.getUsage(key.id, 0, NOW)).resolves.toEqual([
        { bucketStart: NOW - 399 * DAY_MS, code: "VALID", count: 2 },
      ]);
    });

    it("expires exports past their expiry that are not expired yet", async () => {
      const due = [
        makeExport({ state: "pending", createdAt: NOW - 8 * DAY_MS, expiresAt: NOW - 1 }),
        makeExport({ state: "ready", createdAt: NOW - 7 * DAY_MS, expiresAt: NOW }),
        makeExport({ state: "failed", createdAt: NOW - 9 * DAY_MS, expiresAt: NOW - DAY_MS }),
      ];
      const notDue = [
        makeExport({ state: "expired", createdAt: NOW - 20 * DAY_MS, expiresAt: NOW - 13 * DAY_MS, updatedAt: 5 }),
        makeExport({ state: "ready", createdAt: NOW - DAY_MS, expiresAt: NOW + 1 }),
      ];
      for (const record of [...due, ...notDue]) {
        await store.insertExport(record, makeAudit({ action: "export.create", exportId: record.id }));
      }

      const result = await store.sweep(OPTIONS, SWEEP_AUDIT);
      expect(result.expiredExports.map((e) => e.id).sort()).toEqual(due.map((e) => e.id).sort());
      expect(result.expiredExports.every((e) => e.state === "expired" && e.updatedAt === NOW)).toBe(true);
      await expect(store.getExport(notDue[0]?.id as string)).resolves.toEqual(notDue[0]);
      await expect(store.getExport(notDue[1]?.id as string)).resolves.toEqual(notDue[1]);
    });
  });
});
