import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExportResource } from "../../../src/gen/keyward/v1/export_pb.js";
import { startTestService, type TestService } from "../../support/test-service.js";

let t: TestService;
beforeAll(async () => {
  t = await startTestService();
});
afterAll(async () => {
  await t.stop();
});

describe("audit log", () => {
  it("records one event per admin action, with its actor, newest first, and none for verifications", async () => {
    const alice = { "keyward-actor": "alice@example.com" };
    const bob = { "keyward-actor": "bob@example.com" };
    const { key, token } = await t.admin.unary("createKey", { name: "Audited" }, alice);
    const id = key?.id ?? "";
    for (let i = 0; i < 5; i++) await t.caller.unary("verifyKey", { token });
    await t.admin.unary("updateKey", { id, updateMask: { paths: ["name", "description"] }, name: "Renamed" }, bob);
    await t.admin.unary("updateKey", { id, updateMask: { paths: ["enabled"] }, enabled: false }, bob);
    await t.admin.unary("updateKey", { id, updateMask: { paths: ["enabled"] }, enabled: true }, alice);
    const rotated = await t.admin.unary("rotateKey", { id, gracePeriodSeconds: 60 }, alice);
    await t.admin.unary("deleteKey", { id: rotated.key?.id, reason: "no longer needed" }, bob);
    const exported = await t.admin.unary("createExport", { resource: ExportResource.API_KEYS }, alice);
    await t.admin.unary(
      "createKey",
      { name: "First admin", scopes: ["console:admin"] },
      { "keyward-actor": "bootstrap" },
    );

    const { events } = await t.admin.unary("listAuditEvents", { pageSize: 100 });
    expect(events.map((e) => [e.action, e.actor])).toEqual([
      ["key.bootstrap", "bootstrap"],
      ["export.create", "alice@example.com"],
      ["key.delete", "bob@example.com"],
      ["key.rotate", "alice@example.com"],
      ["key.enable", "alice@example.com"],
      ["key.disable", "bob@example.com"],
      ["key.update", "bob@example.com"],
      ["key.create", "alice@example.com"],
    ]);
    expect(events.find((e) => e.action === "key.update")?.changedFields).toEqual(["name", "description"]);
    expect(events.find((e) => e.action === "key.delete")?.summary).toContain("no longer needed");
    expect(events.find((e) => e.action === "export.create")?.exportId).toBe(exported.export?.id);
    const text = JSON.stringify(events, (_k, v) => (typeof v === "bigint" ? String(v) : v));
    expect(text).not.toContain(token.slice(3));
    expect(text).not.toContain(rotated.token.slice(3));
  });

  it("filters by key, actor, action and time, and pages", async () => {
    const carol = { "keyward-actor": "carol@example.com" };
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      t.clock.advance(1000);
      const { key } = await t.admin.unary("createKey", { name: `Carol ${i}` }, carol);
      ids.push(key?.id ?? "");
    }
    const byActor = await t.admin.unary("listAuditEvents", { actor: "carol@example.com", pageSize: 2 });
    expect(byActor.events.map((e) => e.keyId)).toEqual([ids[4], ids[3]]);
    const next = await t.admin.unary("listAuditEvents", {
      actor: "carol@example.com",
      pageSize: 2,
      pageToken: byActor.nextPageToken,
    });
    expect(next.events.map((e) => e.keyId)).toEqual([ids[2], ids[1]]);
    const byKey = await t.admin.unary("listAuditEvents", { keyId: ids[0] });
    expect(byKey.events.map((e) => e.action)).toEqual(["key.create"]);
    const byAction = await t.admin.unary("listAuditEvents", { action: "key.create", actor: "carol@example.com" });
    expect(byAction.events).toHaveLength(5);
    const fromMs = t.clock.now - 1500;
    const from = { seconds: BigInt(Math.floor(fromMs / 1000)), nanos: (fromMs % 1000) * 1_000_000 };
    const recent = await t.admin.unary("listAuditEvents", { actor: "carol@example.com", fromTime: from });
    expect(recent.events.map((e) => e.keyId)).toEqual([ids[4], ids[3]]);
  });
});
