import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConflictError, NotFoundError } from "../../../src/service/keys/errors.js";
import type { KeyRecord } from "../../../src/service/keys/model.js";
import type { KeyStore } from "../../../src/service/store/key-store.js";
import { DAY_MS, insertKeys, makeAudit, makeKey, NOW, storeBackends, type TempStore } from "./store-fixtures.js";

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

  describe("insertKey and lookups", () => {
    it("returns exactly the inserted record by id and by hash", async () => {
      const key = makeKey({
        name: "Production",
        description: "the main key",
        permission: "sending_access",
        domainId: "dom_1",
        subject: "org_456",
        scopes: ["read:users", "write:mail"],
        claims: { email: "a@example.com", nested: { n: 1, list: [true, null] } },
        expiresAt: NOW + 10 * DAY_MS,
        enabled: false,
        allowedCidrs: ["10.0.0.0/8", "::1/128"],
        ratelimits: [{ name: "default", limit: 10, durationSeconds: 60 }],
        remaining: 42,
        refill: { interval: "monthly", amount: 100, dayOfMonth: 15, lastRefillAt: null },
      });
      await store.insertKey(key, makeAudit({ keyId: key.id }));

      await expect(store.getKeyById(key.id)).resolves.toEqual(key);
      await expect(store.getKeyByHash(key.hash)).resolves.toEqual(key);
    });

    it("keeps empty arrays empty and nulls null", async () => {
      const key = makeKey();
      await insertKeys(store, [key]);
      const stored = await store.getKeyById(key.id);
      expect(stored?.scopes).toEqual([]);
      expect(stored?.allowedCidrs).toEqual([]);
      expect(stored?.ratelimits).toEqual([]);
      expect(stored?.claims).toBeNull();
      expect(stored?.refill).toBeNull();
      expect(stored?.remaining).toBeNull();
    });

    it("answers undefined for an unknown id or hash", async () => {
      await expect(store.getKeyById("nope")).resolves.toBeUndefined();
      await expect(store.getKeyByHash("nope")).resolves.toBeUndefined();
    });

    it("refuses a second key with the same hash and writes no audit row for it", async () => {
      const first = makeKey();
      await insertKeys(store, [first]);
      const clash = makeKey({ hash: first.hash });
      await expect(store.insertKey(clash, makeAudit({ keyId: clash.id }))).rejects.toThrow(/unique/i);
      await expect(store.getKeyById(clash.id)).resolves.toBeUndefined();
      await expect(store.listAuditEvents({ keyId: clash.id }, 10)).resolves.toEqual([]);
    });

    it("writes the audit row with the key", async () => {
      const key = makeKey();
      await store.insertKey(key, makeAudit({ keyId: key.id, summary: "created Production", changedFields: ["name"] }));
      const events = await store.listAuditEvents({ keyId: key.id }, 10);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        actor: "admin@example.com",
        action: "key.create",
        keyId: key.id,
        exportId: null,
        summary: "created Production",
        changedFields: ["name"],
        at: NOW,
      });
    });
  });

  describe("listKeys and countKeys filters", () => {
    it("filters by permission, subject and domain", async () => {
      const a = makeKey({ permission: "sending_access", domainId: "dom_1", subject: "org_1" });
      const b = makeKey({ permission: "sending_access", domainId: "dom_2", subject: "org_1" });
      const c = makeKey({ permission: "full_access", subject: "org_2" });
      await insertKeys(store, [a, b, c]);
      const ids = async (filter: Parameters<KeyStore["listKeys"]>[0]) =>
        (await store.listKeys(filter, NOW, 100)).map((k) => k.id).sort();

      expect(await ids({ permission: "sending_access" })).toEqual([a.id, b.id].sort());
      expect(await ids({ permission: "full_access" })).toEqual([c.id]);
      expect(await ids({ subject: "org_1" })).toEqual([a.id, b.id].sort());
      expect(await ids({ domainId: "dom_2" })).toEqual([b.id]);
      expect(await ids({ subject: "org_1", domainId: "dom_1" })).toEqual([a.id]);
      expect(await ids({ subject: "nobody" })).toEqual([]);
      await expect(store.countKeys({ subject: "org_1" }, NOW)).resolves.toBe(2);
      await expect(store.countKeys({}, NOW)).resolves.toBe(3);
    });

    it("matches a name substring case-insensitively, with % and _ taken literally", async () => {
      const percent = makeKey({ name: "Billing 100% Prod" });
      const underscore = makeKey({ name: "my_key" });
      const plain = makeKey({ name: "mykey PRODUCTION" });
      const accented = makeKey({ name: "Élan Clé" });
      await insertKeys(store, [percent, underscore, plain, accented]);
      const names = async (nameContains: string) =>
        (await store.listKeys({ nameContains }, NOW, 100)).map((k) => k.name).sort();

      expect(await names("prod")).toEqual(["Billing 100% Prod", "mykey PRODUCTION"]);
      expect(await names("0% p")).toEqual(["Billing 100% Prod"]);
      expect(await names("%")).toEqual(["Billing 100% Prod"]);
      expect(await names("_")).toEqual(["my_key"]);
      expect(await names("MY_K")).toEqual(["my_key"]);
      expect(await names("élan")).toEqual(["Élan Clé"]);
      expect(await names("CLÉ")).toEqual(["Élan Clé"]);
      await expect(store.countKeys({ nameContains: "%" }, NOW)).resolves.toBe(1);
    });

    it("filters by one scope, matching whole scopes only", async () => {
      const reader = makeKey({ scopes: ["read:users", "read:mail"] });
      const writer = makeKey({ scopes: ["write:users"] });
      const none = makeKey();
      await insertKeys(store, [reader, writer, none]);

      expect((await store.listKeys({ scope: "read:users" }, NOW, 100)).map((k) => k.id)).toEqual([reader.id]);
      expect((await store.listKeys({ scope: "read" }, NOW, 100)).map((k) => k.id)).toEqual([]);
      await expect(store.countKeys({ scope: "write:users" }, NOW)).resolves.toBe(1);
    });

    it("lists newest first and pages through 3 pages with no duplicates or gaps", async () => {
      // Two keys share each creation time so that the id breaks ties.
      const keys: KeyRecord[] = [];
      for (let i = 0; i < 25; i++) {
        keys.push(makeKey({ createdAt: NOW - 10 * DAY_MS + Math.floor(i / 2) * 1000 }));
      }
      await insertKeys(store, keys);
      const expected = [...keys].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1)).map((k) => k.id);

      const seen: string[] = [];
      const pages: number[] = [];
      let after: { createdAt: number; id: string } | undefined;
      for (;;) {
        const page = await store.listKeys({}, NOW, 10, after);
        if (page.length === 0) break;
        pages.push(page.length);
        seen.push(...page.map((k) => k.id));
        const last = page[page.length - 1] as KeyRecord;
        after = { createdAt: last.createdAt, id: last.id };
      }
      expect(pages).toEqual([10, 10, 5]);
      expect(seen).toEqual(expected);
    });

    it("pages with a filter applied", async () => {
      const keys = Array.from({ length: 9 }, (_, i) =>
        makeKey({ createdAt: NOW - DAY_MS + i, subject: i % 3 === 0 ? "org_x" : "org_y" }),
      );
      await insertKeys(store, keys);
      const first = await store.listKeys({ subject: "org_y" }, NOW, 4);
      const last = first[3] as KeyRecord;
      const second = await store.listKeys({ subject: "org_y" }, NOW, 4, { createdAt: last.createdAt, id: last.id });
      expect(first.map((k) => k.createdAt)).toEqual([
        NOW - DAY_MS + 8,
        NOW - DAY_MS + 7,
        NOW - DAY_MS + 5,
        NOW - DAY_MS + 4,
      ]);
      expect(second.map((k) => k.createdAt)).toEqual([NOW - DAY_MS + 2, NOW - DAY_MS + 1]);
    });
  });

  describe("updateKey", () => {
    it("replaces every domain-managed column and writes an audit row", async () => {
      const key = makeKey({ remaining: 10 });
      await insertKeys(store, [key]);
      const updated: KeyRecord = {
        ...key,
        name: "Renamed",
        description: "now described",
        permission: "sending_access",
        domainId: "dom_9",
        scopes: ["a:b"],
        claims: { team: "core" },
        expiresAt: NOW + DAY_MS,
        enabled: false,
        allowedCidrs: ["192.168.0.0/16"],
        updatedAt: NOW,
        revokedAt: NOW + 5,
        revocationReason: "leaked",
        rotatedToId: "other",
        ratelimits: [{ name: "burst", limit: 5, durationSeconds: 1 }],
        remaining: 99,
        refill: { interval: "daily", amount: 99, dayOfMonth: 1, lastRefillAt: NOW },
        version: 2,
      };
      await store.updateKey(updated, makeAudit({ action: "key.update", keyId: key.id, changedFields: ["name"] }), {
        writeCredits: true,
      });

      await expect(store.getKeyById(key.id)).resolves.toEqual(updated);
      const events = await store.listAuditEvents({ keyId: key.id, action: "key.update" }, 10);
      expect(events.map((e) => e.changedFields)).toEqual([["name"]]);
    });

    it("clears nullable columns", async () => {
      const key = makeKey({ domainId: "d", claims: { a: 1 }, expiresAt: NOW + DAY_MS, remaining: 5 });
      await insertKeys(store, [key]);
      const cleared = { ...key, domainId: null, claims: null, expiresAt: null, remaining: null, version: 2 };
      await store.updateKey(cleared, makeAudit({ action: "key.update", keyId: key.id }), { writeCredits: true });
      await expect(store.getKeyById(key.id)).resolves.toEqual(cleared);
    });

    it("does not give back credits spent since the record was read, unless the update sets them", async () => {
      const key = makeKey({ remaining: 10 });
      await insertKeys(store, [key]);
      const stale = (await store.getKeyById(key.id)) as KeyRecord;
      await expect(store.spendCredits(key.id, 4)).resolves.toBe(6);
      await store.updateKey(
        { ...stale, name: "Renamed", version: 2 },
        makeAudit({ action: "key.update", keyId: key.id }),
      );
      await expect(store.getKeyById(key.id)).resolves.toMatchObject({ name: "Renamed", remaining: 6 });
      await store.updateKey(
        { ...stale, remaining: 50, version: 3 },
        makeAudit({ action: "key.update", keyId: key.id }),
        {
          writeCredits: true,
        },
      );
      await expect(store.getKeyById(key.id)).resolves.toMatchObject({ remaining: 50 });
    });

    it("does not roll back usage recorded since the record was read", async () => {
      const key = makeKey();
      await insertKeys(store, [key]);
      const stale = (await store.getKeyById(key.id)) as KeyRecord;
      await store.applyUsage({ keys: new Map([[key.id, { count: 3, lastUsedAt: NOW }]]), buckets: [], logs: [] });
      await store.updateKey(
        { ...stale, name: "Renamed", version: 2 },
        makeAudit({ action: "key.update", keyId: key.id }),
      );
      const stored = await store.getKeyById(key.id);
      expect(stored).toMatchObject({ name: "Renamed", requestCount: 3, lastUsedAt: NOW });
    });

    it("rejects an unknown key with NotFoundError (across the writer thread) and writes no audit row", async () => {
      const ghost = makeKey();
      const failure = store.updateKey(ghost, makeAudit({ action: "key.update", keyId: ghost.id }));
      await expect(failure).rejects.toBeInstanceOf(NotFoundError);
      await expect(failure).rejects.toThrow(`key "${ghost.id}" not found`);
      await expect(store.listAuditEvents({ keyId: ghost.id }, 10)).resolves.toEqual([]);
    });

    it("refuses a write decided against a version that is no longer current, and writes nothing", async () => {
      const key = makeKey();
      await insertKeys(store, [key]);
      const revoked = { ...key, revokedAt: NOW, revocationReason: "leaked", version: 2 };
      await store.updateKey(revoked, makeAudit({ action: "key.delete", keyId: key.id }));
      // An edit that read the key before the revocation must not un-revoke it.
      const staleEdit = { ...key, description: "edited", version: 2 };
      const failure = store.updateKey(staleEdit, makeAudit({ action: "key.update", keyId: key.id }));
      await expect(failure).rejects.toBeInstanceOf(ConflictError);
      await expect(store.getKeyById(key.id)).resolves.toEqual(revoked);
      const actions = (await store.listAuditEvents({ keyId: key.id }, 10)).map((e) => e.action);
      expect(actions).toEqual(["key.delete", "key.create"]);
    });

    it("keeps the sweep's rotation reminder when an update read the key before it", async () => {
      const key = makeKey({ createdAt: NOW - 100 * DAY_MS });
      await insertKeys(store, [key]);
      const stale = (await store.getKeyById(key.id)) as KeyRecord;
      await store.sweep(
        { now: NOW, inactiveDays: 30, autoRevokeDays: 0, logRetentionDays: 30, rotationDays: 90 },
        makeAudit({ action: "key.auto_revoke" }),
      );
      await store.updateKey(
        { ...stale, name: "Renamed", version: 2 },
        makeAudit({ action: "key.update", keyId: key.id }),
      );
      await expect(store.getKeyById(key.id)).resolves.toMatchObject({ name: "Renamed", rotationNotifiedAt: NOW });
    });

    it("moves the version with every write an update could undo: auto-revocation and refills", async () => {
      const idle = makeKey({ createdAt: NOW - 200 * DAY_MS });
      const refilled = makeKey({
        remaining: 1,
        refill: { interval: "daily", amount: 10, dayOfMonth: 1, lastRefillAt: NOW - 2 * DAY_MS },
      });
      await insertKeys(store, [idle, refilled]);
      await store.sweep(
        { now: NOW, inactiveDays: 30, autoRevokeDays: 90, logRetentionDays: 30, rotationDays: 0 },
        makeAudit({ action: "key.auto_revoke" }),
      );
      await expect(store.refillCredits(refilled.id, 10, NOW, NOW - 2 * DAY_MS)).resolves.toBe(true);
      await expect(store.getKeyById(idle.id)).resolves.toMatchObject({ revokedAt: NOW, version: 2 });
      await expect(store.getKeyById(refilled.id)).resolves.toMatchObject({ remaining: 10, version: 2 });
      for (const stale of [idle, refilled]) {
        await expect(
          store.updateKey({ ...stale, description: "stale", version: 2 }, makeAudit({ keyId: stale.id })),
        ).rejects.toBeInstanceOf(ConflictError);
      }
    });
  });

  describe("rotateKey", () => {
    it("inserts the new key, links both and audits, in one transaction", async () => {
      const previous = makeKey({ createdAt: NOW - 100 * DAY_MS });
      await insertKeys(store, [previous]);
      const created = makeKey({ createdAt: NOW, rotatedFromId: previous.id, name: previous.name });
      const linked = { ...previous, rotatedToId: created.id, expiresAt: NOW + DAY_MS, updatedAt: NOW, version: 2 };
      await store.rotateKey(linked, created, makeAudit({ action: "key.rotate", keyId: previous.id }));

      await expect(store.getKeyById(created.id)).resolves.toEqual(created);
      await expect(store.getKeyById(previous.id)).resolves.toEqual(linked);
      await expect(store.getKeyByHash(created.hash)).resolves.toEqual(created);
      const events = await store.listAuditEvents({ action: "key.rotate" }, 10);
      expect(events.map((e) => e.keyId)).toEqual([previous.id]);
    });

    it("creates no second successor when the previous key changed since it was read", async () => {
      const previous = makeKey();
      await insertKeys(store, [previous]);
      const first = makeKey({ rotatedFromId: previous.id });
      const second = makeKey({ rotatedFromId: previous.id });
      await store.rotateKey(
        { ...previous, rotatedToId: first.id, version: 2 },
        first,
        makeAudit({ keyId: previous.id }),
      );
      const racing = store.rotateKey(
        { ...previous, rotatedToId: second.id, version: 2 },
        second,
        makeAudit({ keyId: previous.id }),
      );
      await expect(racing).rejects.toBeInstanceOf(ConflictError);
      await expect(store.getKeyById(second.id)).resolves.toBeUndefined();
      await expect(store.getKeyById(previous.id)).resolves.toMatchObject({ rotatedToId: first.id });
    });

    it("leaves nothing behind when the previous key does not exist", async () => {
      const created = makeKey();
      const ghost = makeKey();
      await expect(
        store.rotateKey(ghost, created, makeAudit({ action: "key.rotate", keyId: ghost.id })),
      ).rejects.toThrow(/not found/);
      await expect(store.getKeyById(created.id)).resolves.toBeUndefined();
      await expect(store.listAuditEvents({ action: "key.rotate" }, 10)).resolves.toEqual([]);
    });
  });
});
