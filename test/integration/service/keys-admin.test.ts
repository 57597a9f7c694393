import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyStatus, Permission } from "../../../src/gen/keyward/v1/key_pb.js";
import type { RequestOf } from "../../support/grpc-client.js";
import { grpcError, startTestService, type TestService } from "../../support/test-service.js";

let t: TestService;
beforeAll(async () => {
  t = await startTestService();
});
afterAll(async () => {
  await t.stop();
});

describe("CreateKey", () => {
  it("returns the key with every field and the token once", async () => {
    const { key, token } = await t.admin.unary("createKey", {
      name: "  Production  ",
      description: "sends mail",
      permission: Permission.SENDING_ACCESS,
      domainId: "dom_1",
      subject: "org_456",
      scopes: ["emails:send", "read:users"],
      claims: { email: "ops@example.com", tier: 2 },
      expiresInSeconds: 3600,
      allowedCidrs: ["10.0.0.0/8"],
    });
    expect(token).toMatch(/^kw_[0-9A-Za-z]{38}$/);
    expect(key).toMatchObject({
      name: "Production",
      description: "sends mail",
      permission: Permission.SENDING_ACCESS,
      domainId: "dom_1",
      subject: "org_456",
      scopes: ["emails:send", "read:users"],
      createdBy: "admin@example.com",
      enabled: true,
      allowedCidrs: ["10.0.0.0/8"],
      status: KeyStatus.ACTIVE,
      requestCount: 0n,
      tokenHint: `${token.slice(0, 7)}…${token.slice(-4)}`,
    });
    expect(key?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
    expect(key?.claims).toEqual({ email: "ops@example.com", tier: 2 });
    expect(Number(key?.expireTime?.seconds) - Number(key?.createTime?.seconds)).toBe(3600);

    const fetched = await t.admin.unary("getKey", { id: key?.id });
    expect(JSON.stringify(fetched, (_k, v) => (typeof v === "bigint" ? String(v) : v))).not.toContain(token.slice(3));
  });

  it("defaults to full access and records the service as creator without an actor", async () => {
    const { key } = await t.admin.unary("createKey", { name: "Default" }, { "keyward-actor": undefined });
    expect(key?.permission).toBe(Permission.FULL_ACCESS);
    expect(key?.createdBy).toBe("service");
  });

  it.each([
    ["name", { name: "" }],
    ["name", { name: "   " }],
    ["name", { name: "x".repeat(101) }],
    ["description", { name: "ok", description: "d".repeat(1001) }],
    ["domain_id", { name: "ok", domainId: "dom_1" }],
    ["permission", { name: "ok", permission: 7 as Permission }],
    ["scopes[0]", { name: "ok", scopes: ["Read:Users"] }],
    ["scopes", { name: "ok", scopes: Array.from({ length: 51 }, (_, i) => `s${i}`) }],
    ["allowed_cidrs[1]", { name: "ok", allowedCidrs: ["10.0.0.0/8", "banana"] }],
    ["expires_in_seconds", { name: "ok", expiresInSeconds: 0 }],
    ["subject", { name: "ok", subject: "has space" }],
    ["ratelimits[0].limit", { name: "ok", ratelimits: [{ name: "burst", limit: 0, durationSeconds: 1 }] }],
    ["claims", { name: "ok", claims: { big: "x".repeat(5000) } }],
  ] as [
    string,
    RequestOf<"createKey">,
  ][])("refuses a bad %s with INVALID_ARGUMENT naming the field (case %#)", async (field, request) => {
    const error = await grpcError(t.admin.unary("createKey", request));
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.details.startsWith(`${field}:`)).toBe(true);
  });

  it("refuses callers without the service credential", async () => {
    const error = await grpcError(t.caller.unary("createKey", { name: "x" }));
    expect(error.code).toBe(status.UNAUTHENTICATED);
    const wrong = await grpcError(t.caller.unary("createKey", { name: "x" }, { authorization: "Bearer nope" }));
    expect(wrong.code).toBe(status.UNAUTHENTICATED);
  });
});

describe("GetKey", () => {
  it("answers NOT_FOUND for an unknown id and INVALID_ARGUMENT for a malformed one", async () => {
    const unknown = await grpcError(t.admin.unary("getKey", { id: "01900000-0000-7000-8000-000000000000" }));
    expect(unknown.code).toBe(status.NOT_FOUND);
    const malformed = await grpcError(t.admin.unary("getKey", { id: "nope" }));
    expect(malformed.code).toBe(status.INVALID_ARGUMENT);
    expect(malformed.details).toMatch(/^id:/);
  });
});

describe("UpdateKey", () => {
  it("changes exactly the fields named in the mask", async () => {
    const { key } = await t.admin.unary("createKey", { name: "Before", description: "keep me", scopes: ["a"] });
    const { key: updated } = await t.admin.unary("updateKey", {
      id: key?.id,
      updateMask: { paths: ["name", "scopes"] },
      name: "After",
      description: "ignored: not in the mask",
      scopes: ["b", "c"],
    });
    expect(updated).toMatchObject({ name: "After", description: "keep me", scopes: ["b", "c"] });
    const audit = await t.admin.unary("listAuditEvents", { keyId: key?.id });
    expect(audit.events.map((e) => [e.action, e.actor, e.changedFields])).toEqual([
      ["key.update", "admin@example.com", ["name", "scopes"]],
      ["key.create", "admin@example.com", []],
    ]);
  });

  it("refuses an empty or unknown mask path, and a domain on a full-access key", async () => {
    const { key } = await t.admin.unary("createKey", { name: "Masked" });
    const empty = await grpcError(t.admin.unary("updateKey", { id: key?.id, name: "x" }));
    expect(empty.code).toBe(status.INVALID_ARGUMENT);
    expect(empty.details).toMatch(/^update_mask/);
    const unknown = await grpcError(
      t.admin.unary("updateKey", { id: key?.id, updateMask: { paths: ["name", "token"] }, name: "x" }),
    );
    expect(unknown.code).toBe(status.INVALID_ARGUMENT);
    expect(unknown.details).toMatch(/^update_mask\.paths\[1\]/);
    const domain = await grpcError(
      t.admin.unary("updateKey", { id: key?.id, updateMask: { paths: ["domain_id"] }, domainId: "dom_1" }),
    );
    expect(domain.code).toBe(status.INVALID_ARGUMENT);
    expect(domain.details).toMatch(/^domain_id:/);
  });

  it("answers FAILED_PRECONDITION on a revoked key", async () => {
    const { key } = await t.admin.unary("createKey", { name: "Gone" });
    await t.admin.unary("deleteKey", { id: key?.id, reason: "leaked" });
    const error = await grpcError(
      t.admin.unary("updateKey", { id: key?.id, updateMask: { paths: ["name"] }, name: "x" }),
    );
    expect(error.code).toBe(status.FAILED_PRECONDITION);
    const again = await grpcError(t.admin.unary("deleteKey", { id: key?.id }));
    expect(again.code).toBe(status.FAILED_PRECONDITION);
  });
});

describe("DeleteKey", () => {
  it("revokes with a reason and keeps the row", async () => {
    const { key } = await t.admin.unary("createKey", { name: "Revoke me" });
    const { key: revoked } = await t.admin.unary("deleteKey", { id: key?.id, reason: "leaked in a log" });
    expect(revoked).toMatchObject({ status: KeyStatus.REVOKED, revocationReason: "leaked in a log" });
    expect(revoked?.revokeTime).toBeDefined();
    const { key: fetched } = await t.admin.unary("getKey", { id: key?.id });
    expect(fetched?.status).toBe(KeyStatus.REVOKED);
  });
});

describe("ListKeys and CountKeys", () => {
  it("pages newest first with filters, without gaps or repeats", async () => {
    const subject = `org_${Date.now()}`;
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      t.clock.advance(1);
      const { key } = await t.admin.unary("createKey", {
        name: i % 2 === 0 ? `Paged even ${i}` : `Paged odd ${i}`,
        subject,
        permission: i === 6 ? Permission.SENDING_ACCESS : Permission.FULL_ACCESS,
      });
      ids.push(key?.id ?? "");
    }
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await t.admin.unary("listKeys", { subject, pageSize: 3, pageToken });
      seen.push(...page.keys.map((k) => k.id));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== "");
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());

    const even = await t.admin.unary("listKeys", { subject, nameContains: "EVEN" });
    expect(even.keys.map((k) => k.name)).toEqual(["Paged even 6", "Paged even 4", "Paged even 2", "Paged even 0"]);
    const sending = await t.admin.unary("listKeys", { subject, permission: Permission.SENDING_ACCESS });
    expect(sending.keys.map((k) => k.id)).toEqual([ids[6]]);
    await t.admin.unary("deleteKey", { id: ids[0] });
    const active = await t.admin.unary("countKeys", { subject, status: KeyStatus.ACTIVE });
    const revoked = await t.admin.unary("countKeys", { subject, status: KeyStatus.REVOKED });
    expect([active.count, revoked.count]).toEqual([6n, 1n]);
  });

  it("refuses a bad page size or page token", async () => {
    expect((await grpcError(t.admin.unary("listKeys", { pageSize: 101 }))).details).toMatch(/^page_size:/);
    expect((await grpcError(t.admin.unary("listKeys", { pageSize: -1 }))).code).toBe(status.INVALID_ARGUMENT);
    expect((await grpcError(t.admin.unary("listKeys", { pageToken: "garbage!" }))).details).toMatch(/^page_token:/);
    const forged = Buffer.from('{"t":"x"}').toString("base64url");
    expect((await grpcError(t.admin.unary("listKeys", { pageToken: forged }))).code).toBe(status.INVALID_ARGUMENT);
  });
});

describe("U+0000 in a request", () => {
  it("is INVALID_ARGUMENT naming the field, on every admin RPC's strings", async () => {
    const t2 = await startTestService();
    try {
      const name = await grpcError(t2.admin.unary("createKey", { name: "a\u0000b" }));
      expect(name.code).toBe(status.INVALID_ARGUMENT);
      expect(name.details).toContain("name");
      const claims = await grpcError(
        t2.admin.unary("createKey", { name: "ok", claims: { plan: { tier: "x\u0000" } } as never }),
      );
      expect(claims.code).toBe(status.INVALID_ARGUMENT);
      expect(claims.details).toContain("claims.plan.tier");
      const filter = await grpcError(t2.admin.unary("listKeys", { nameContains: "\u0000" }));
      expect(filter.code).toBe(status.INVALID_ARGUMENT);
      expect(filter.details).toContain("name_contains");
    } finally {
      await t2.stop();
    }
  });
});
