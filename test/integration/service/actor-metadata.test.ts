import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpcError, startTestService, type TestService } from "../../support/test-service.js";

const KEY_ID = "01900000-0000-7000-8000-000000000001";

let t: TestService;
beforeAll(async () => {
  t = await startTestService();
});
afterAll(async () => {
  await t.stop();
});

async function createdBy(metadata: Record<string, string | undefined>) {
  const { key } = await t.admin.unary("createKey", { name: "by" }, metadata);
  const { events } = await t.admin.unary("listAuditEvents", { keyId: key?.id });
  return {
    createdBy: key?.createdBy,
    actor: events[0]?.actor,
    actorKeyId: events[0]?.actorKeyId,
    action: events[0]?.action,
  };
}

describe("actor metadata", () => {
  it("reads a percent-encoded Unicode name and the acting key", async () => {
    const name = "josé 山田 🚀";
    await expect(
      createdBy({ "keyward-actor": encodeURIComponent(name), "keyward-actor-key-id": KEY_ID }),
    ).resolves.toEqual({ createdBy: name, actor: name, actorKeyId: KEY_ID, action: "key.create" });
  });

  it("a call that names a key never acts under a reserved name or another key's", async () => {
    for (const name of ["bootstrap", "SERVICE", `key:${"0".repeat(8)}`]) {
      await expect(createdBy({ "keyward-actor": name, "keyward-actor-key-id": KEY_ID })).resolves.toEqual({
        createdBy: `key:${KEY_ID}`,
        actor: `key:${KEY_ID}`,
        actorKeyId: KEY_ID,
        action: "key.create",
      });
    }
  });

  it("only the service's own callers, naming no key, act as bootstrap", async () => {
    await expect(createdBy({ "keyward-actor": "bootstrap" })).resolves.toMatchObject({
      actor: "bootstrap",
      actorKeyId: "",
      action: "key.bootstrap",
    });
  });

  it.each([
    ["keyward-actor", { "keyward-actor": "%E9%" }],
    ["keyward-actor", { "keyward-actor": encodeURIComponent("a\u0007b") }],
    ["keyward-actor-key-id", { "keyward-actor-key-id": "not-a-key" }],
  ])("refuses malformed %s with INVALID_ARGUMENT naming it", async (field, metadata) => {
    const error = await grpcError(t.admin.unary("createKey", { name: "x" }, metadata));
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.details).toContain(field);
  });
});
