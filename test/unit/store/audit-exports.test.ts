import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AuditAction, ExportRecord } from "../../../src/service/keys/model.js";
import type { KeyStore } from "../../../src/service/store/key-store.js";
import { DAY_MS, makeAudit, makeExport, NOW, storeBackends, type TempStore } from "./store-fixtures.js";

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

  describe("listAuditEvents", () => {
    async function seedAudit(): Promise<void> {
      // Audit rows come with exports here so that no key rows are needed.
      const rows: { actor: string; action: AuditAction; keyId: string | null; at: number }[] = [
        { actor: "alice", action: "key.create", keyId: "k1", at: NOW },
        { actor: "bob", action: "key.update", keyId: "k1", at: NOW + 1000 },
        { actor: "alice", action: "key.delete", keyId: "k2", at: NOW + 2000 },
        { actor: "alice", action: "export.create", keyId: null, at: NOW + 3000 },
        { actor: "bob", action: "key.update", keyId: "k2", at: NOW + 4000 },
      ];
      for (const [i, row] of rows.entries()) {
        await store.insertExport(
          makeExport({ id: `exp-audit-${i}` }),
          makeAudit({ ...row, exportId: row.keyId === null ? `exp-audit-${i}` : null }),
        );
      }
    }

    it("lists newest first and filters by key, actor, action and time", async () => {
      await seedAudit();
      const ats = async (filter: Parameters<KeyStore["listAuditEvents"]>[0]) =>
        (await store.listAuditEvents(filter, 100)).map((e) => e.at - NOW);

      expect(await ats({})).toEqual([4000, 3000, 2000, 1000, 0]);
      expect(await ats({ keyId: "k1" })).toEqual([1000, 0]);
      expect(await ats({ actor: "alice" })).toEqual([3000, 2000, 0]);
      expect(await ats({ action: "key.update" })).toEqual([4000, 1000]);
      expect(await ats({ from: NOW + 1000, to: NOW + 3000 })).toEqual([2000, 1000]);
      expect(await ats({ actor: "bob", keyId: "k2" })).toEqual([4000]);
      const [exportEvent] = await store.listAuditEvents({ action: "export.create" }, 1);
      expect(exportEvent).toMatchObject({ keyId: null, exportId: "exp-audit-3", actor: "alice" });
    });

    it("pages with beforeId", async () => {
      await seedAudit();
      const first = await store.listAuditEvents({}, 2);
      const second = await store.listAuditEvents({}, 2, first[1]?.id);
      const third = await store.listAuditEvents({}, 2, second[1]?.id);
      expect([...first, ...second, ...third].map((e) => e.at - NOW)).toEqual([4000, 3000, 2000, 1000, 0]);
    });
  });

  describe("exports", () => {
    it("inserts with its audit row and reads back exactly", async () => {
      const record = makeExport({
        resource: "key_logs",
        filters: { keyId: "k1", code: "VALID", from: NOW - DAY_MS, to: NOW, status: "active", nameContains: "x" },
      });
      await store.insertExport(record, makeAudit({ action: "export.create", exportId: record.id }));
      await expect(store.getExport(record.id)).resolves.toEqual(record);
      await expect(store.getExport("nope")).resolves.toBeUndefined();
      const [event] = await store.listAuditEvents({ action: "export.create" }, 10);
      expect(event?.exportId).toBe(record.id);
    });

    it("updates progress but not what was asked for", async () => {
      const record = makeExport();
      await store.insertExport(record, makeAudit({ action: "export.create", exportId: record.id }));
      const ready: ExportRecord = {
        ...record,
        state: "ready",
        updatedAt: NOW + 5000,
        rowCount: 4_321,
        byteSize: 99_000,
        attempts: 2,
        error: null,
      };
      await store.updateExport(ready);
      await expect(store.getExport(record.id)).resolves.toEqual(ready);

      await store.updateExport({ ...ready, state: "failed", error: "disk full", requestedBy: "mallory" });
      await expect(store.getExport(record.id)).resolves.toMatchObject({
        state: "failed",
        error: "disk full",
        requestedBy: "admin@example.com",
      });
    });

    it("keeps the mail's state, its error and when; a row from before mail states reads as not recorded", async () => {
      const record = makeExport();
      await store.insertExport(record, makeAudit({ action: "export.create", exportId: record.id }));
      const failed: ExportRecord = { ...record, mailState: "failed", mailError: "SMTP refused", mailAt: NOW + 9000 };
      await store.updateExport(failed);
      await expect(store.getExport(record.id)).resolves.toEqual(failed);

      // Written the way the first schema did: no mail columns named.
      await temp.exec(
        `INSERT INTO exports (id, resource, state, requested_by, created_at, updated_at, expires_at)
       VALUES ('exp-old', 'api_keys', 'ready', 'admin@example.com', ${NOW}, ${NOW}, ${NOW + 7 * DAY_MS})`,
      );
      await expect(store.getExport("exp-old")).resolves.toMatchObject({
        mailState: null,
        mailError: null,
        mailAt: null,
      });
    });

    it("rejects an update of an unknown export", async () => {
      await expect(store.updateExport(makeExport())).rejects.toThrow(/not found/);
    });

    it("lists newest first, by state, with a cursor", async () => {
      const records = Array.from({ length: 5 }, (_, i) =>
        makeExport({ createdAt: NOW + i * 1000, state: i % 2 === 0 ? "pending" : "ready" }),
      );
      for (const record of records) {
        await store.insertExport(record, makeAudit({ action: "export.create", exportId: record.id }));
      }
      const ids = (list: ExportRecord[]) => list.map((r) => r.id);

      expect(ids(await store.listExports(undefined, 10))).toEqual(ids([...records].reverse()));
      expect(ids(await store.listExports("ready", 10))).toEqual([records[3]?.id, records[1]?.id]);

      const first = await store.listExports(undefined, 2);
      const last = first[1] as ExportRecord;
      const second = await store.listExports(undefined, 2, { createdAt: last.createdAt, id: last.id });
      expect(ids(second)).toEqual([records[2]?.id, records[1]?.id]);
      const pending = await store.listExports("pending", 1, { createdAt: NOW + 4000, id: records[4]?.id as string });
      expect(ids(pending)).toEqual([records[2]?.id]);
    });
  });
});
