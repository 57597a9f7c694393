import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConflictError } from "../../../src/service/keys/errors.js";
import type { KeyRecord } from "../../../src/service/keys/model.js";
import type { KeyChange, KeyStore } from "../../../src/service/store/key-store.js";
import { DAY_MS, insertKeys, makeAudit, makeKey, NOW, storeBackends, type TempStore } from "./store-fixtures.js";

const SWEEP = { now: NOW, inactiveDays: 30, autoRevokeDays: 0, logRetentionDays: 30, rotationDays: 90 };

describe.each(storeBackends())("$name store: the change record", (backend) => {
  let temp: TempStore;
  let store: KeyStore;

  beforeEach(async () => {
    temp = await backend.open();
    store = temp.store;
  });

  afterEach(async () => {
    await temp.cleanup();
  });

  /** The changes recorded since `after`, without their ids. */
  async function changesSince(after: number): Promise<Omit<KeyChange, "id">[]> {
    return (await store.readChanges(after, 1_000)).map(({ keyId, hash, version }) => ({ keyId, hash, version }));
  }

  const change = (key: KeyRecord, version = key.version) => ({ keyId: key.id, hash: key.hash, version });

  it("starts empty: latestChangeId is 0 and there is nothing to read", async () => {
    await expect(store.latestChangeId()).resolves.toBe(0);
    await expect(store.readChanges(0, 10)).resolves.toEqual([]);
  });

  it("records an insert, an update and a revocation, each once, with the version written", async () => {
    const key = makeKey();
    await insertKeys(store, [key]);
    expect(await changesSince(0)).toEqual([change(key, 1)]);

    let last = await store.latestChangeId();
    const renamed = { ...key, name: "Renamed", version: 2 };
    await store.updateKey(renamed, makeAudit({ action: "key.update", keyId: key.id }));
    expect(await changesSince(last)).toEqual([change(key, 2)]);

    last = await store.latestChangeId();
    const revoked = { ...renamed, revokedAt: NOW, revocationReason: "leaked", version: 3 };
    await store.updateKey(revoked, makeAudit({ action: "key.delete", keyId: key.id }));
    expect(await changesSince(last)).toEqual([change(key, 3)]);
  });

  it("records nothing for a write that lost the race (ConflictError)", async () => {
    const key = makeKey();
    await insertKeys(store, [key]);
    await store.updateKey({ ...key, name: "first", version: 2 }, makeAudit({ keyId: key.id }));
    const last = await store.latestChangeId();
    await expect(
      store.updateKey({ ...key, name: "second", version: 2 }, makeAudit({ keyId: key.id })),
    ).rejects.toBeInstanceOf(ConflictError);
    await expect(store.readChanges(last, 10)).resolves.toEqual([]);
    await expect(store.latestChangeId()).resolves.toBe(last);
  });

  it("records both rows of a rotation: the previous key's new version, then the new key", async () => {
    const previous = makeKey({ createdAt: NOW - 100 * DAY_MS });
    await insertKeys(store, [previous]);
    const last = await store.latestChangeId();
    const created = makeKey({ createdAt: NOW, rotatedFromId: previous.id });
    const linked = { ...previous, rotatedToId: created.id, expiresAt: NOW + DAY_MS, version: 2 };
    await store.rotateKey(linked, created, makeAudit({ action: "key.rotate", keyId: previous.id }));
    expect(await changesSince(last)).toEqual([change(previous, 2), change(created, 1)]);
  });

  it("records refills (one by one and all due) and the sweep's auto-revocation", async () => {
    const daily = { interval: "daily" as const, amount: 10, dayOfMonth: 1, lastRefillAt: NOW - 2 * DAY_MS };
    const one = makeKey({ remaining: 1, refill: daily });
    const due = makeKey({ remaining: 1, refill: daily });
    const idle = makeKey({ createdAt: NOW - 200 * DAY_MS });
    await insertKeys(store, [one, due, idle]);

    let last = await store.latestChangeId();
    await expect(store.refillCredits(one.id, 10, NOW, NOW - 2 * DAY_MS)).resolves.toBe(true);
    expect(await changesSince(last)).toEqual([change(one, 2)]);

    last = await store.latestChangeId();
    const refilled = await store.refillDueCredits(
      NOW,
      NOW - DAY_MS,
      Array.from({ length: 31 }, () => NOW),
    );
    expect(refilled).toEqual([due.id]);
    expect(await changesSince(last)).toEqual([change(due, 2)]);

    last = await store.latestChangeId();
    const swept = await store.sweep({ ...SWEEP, autoRevokeDays: 90 }, makeAudit({ action: "key.auto_revoke" }));
    expect(swept.autoRevoked.map((k) => k.id)).toEqual([idle.id]);
    expect(await changesSince(last)).toEqual([change(idle, 2)]);
  });

  it("records nothing for what does not change a version: spends, usage, marks of the sweep, a refill that lost", async () => {
    const key = makeKey({ remaining: 5, createdAt: NOW - 100 * DAY_MS, lastUsedAt: NOW - 40 * DAY_MS });
    await insertKeys(store, [key]);
    const last = await store.latestChangeId();

    await store.spendCredits(key.id, 2);
    await store.spendCreditsBatch([
      { keyId: key.id, cost: 1 },
      { keyId: "ghost", cost: 1 },
    ]);
    await store.applyUsage({
      keys: new Map([[key.id, { count: 1, lastUsedAt: NOW - 40 * DAY_MS }]]),
      buckets: [{ keyId: key.id, hourStart: NOW, code: "VALID", count: 1 }],
      logs: [{ keyId: key.id, at: NOW, code: "VALID", context: null }],
    });
    // Marks the key inactive and due for rotation: neither is a new version.
    const swept = await store.sweep(SWEEP, makeAudit({ action: "key.auto_revoke" }));
    expect(swept.newlyInactive.map((k) => k.id)).toEqual([key.id]);
    expect(swept.rotationDue.map((k) => k.id)).toEqual([key.id]);
    await expect(store.refillCredits(key.id, 10, NOW, null)).resolves.toBe(false);

    await expect(store.readChanges(last, 10)).resolves.toEqual([]);
  });

  it("records a removed row with a version above its last one", async () => {
    const key = makeKey();
    await insertKeys(store, [key]);
    const last = await store.latestChangeId();
    await temp.exec(`DELETE FROM keys WHERE id = '${key.id}'`);
    expect(await changesSince(last)).toEqual([change(key, 2)]);
  });

  it("hands out growing ids, pages oldest first with afterId and limit, and reports the newest", async () => {
    const keys = Array.from({ length: 7 }, () => makeKey());
    await insertKeys(store, keys);
    const all = await store.readChanges(0, 100);
    expect(all.map((c) => c.keyId)).toEqual(keys.map((k) => k.id));
    const ids = all.map((c) => c.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(7);
    await expect(store.latestChangeId()).resolves.toBe(ids[6]);

    const pages: KeyChange[][] = [];
    let after = 0;
    for (;;) {
      const page = await store.readChanges(after, 3);
      if (page.length === 0) break;
      pages.push(page);
      after = (page[page.length - 1] as KeyChange).id;
    }
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(pages.flat()).toEqual(all);
    await expect(store.readChanges(ids[6] as number, 10)).resolves.toEqual([]);
  });

  it("is pruned by the sweep after 24 hours of the database's clock, newer rows kept", async () => {
    const keys = Array.from({ length: 4 }, () => makeKey());
    await insertKeys(store, keys);
    const all = await store.readChanges(0, 100);
    const cutoff = (all[1] as KeyChange).id;
    // Two rows 25 hours old, one 23 hours old: only the first two go.
    await temp.exec(`UPDATE key_changes SET at = at - ${25 * 3_600_000} WHERE id <= ${cutoff}`);
    await temp.exec(`UPDATE key_changes SET at = at - ${23 * 3_600_000} WHERE id = ${(all[2] as KeyChange).id}`);

    await store.sweep({ ...SWEEP, rotationDays: 0 }, makeAudit({ action: "key.auto_revoke" }));
    await expect(store.readChanges(0, 100)).resolves.toEqual(all.slice(2));
    await expect(store.latestChangeId()).resolves.toBe((all[3] as KeyChange).id);

    // Ids keep growing after a prune.
    const next = makeKey();
    await insertKeys(store, [next]);
    const [added] = await store.readChanges((all[3] as KeyChange).id, 10);
    expect(added?.keyId).toBe(next.id);
  });
});
