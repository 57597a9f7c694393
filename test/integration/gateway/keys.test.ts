import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GatewayClient } from "../../../src/cli/client.js";
import { asActor } from "../../../src/shared/contract/service-client.js";
import { eventually, failure, type Harness, startHarness, UNKNOWN_ID } from "./harness.js";

let h: Harness;
let admin: GatewayClient;
let member: GatewayClient;
let anonymous: GatewayClient;
beforeAll(async () => {
  h = await startHarness();
  admin = h.client((await h.consoleKey("admin", "ops@example.com")).token);
  member = h.client((await h.consoleKey("member", "dev@example.com")).token);
  anonymous = h.client("");
});
afterAll(async () => {
  await h.close();
});

const newKey = (name = "k") => admin.keys.create.mutate({ name });

describe("keys.create", () => {
  it("creates a key with every field and returns its token once", async () => {
    const { key, token } = await admin.keys.create.mutate({
      name: "  Production  ",
      description: "sends mail",
      permission: "sending_access",
      domainId: "dom_1",
      subject: "org_456",
      scopes: ["emails:send", "read:users"],
      claims: { plan: "pro", seats: 3 },
      expiresInSeconds: 86_400,
      allowedCidrs: ["10.0.0.0/8"],
      enabled: false,
    });
    expect(token).toMatch(/^kw_[0-9A-Za-z]{38}$/);
    expect(key).toMatchObject({
      name: "Production",
      description: "sends mail",
      permission: "sending_access",
      domainId: "dom_1",
      subject: "org_456",
      scopes: ["emails:send", "read:users"],
      claims: { plan: "pro", seats: 3 },
      createdBy: "ops@example.com",
      enabled: false,
      status: "disabled",
      allowedCidrs: ["10.0.0.0/8"],
      requestCount: 0,
      lastUsedTime: null,
      revokeTime: null,
      remaining: null,
    });
    expect(key.tokenHint.startsWith("kw_")).toBe(true);
    expect(key.tokenHint).not.toBe(token);
    expect(JSON.stringify(await admin.keys.get.query({ id: key.id }))).not.toContain(token);
  });

  it("names the field of a bad input (400)", async () => {
    expect(await failure(admin.keys.create.mutate({ name: "x".repeat(101) }))).toMatchObject({
      status: 400,
      field: "name",
      message: "name: must be 1-100 characters after trimming",
    });
    expect(await failure(admin.keys.create.mutate({ name: "x", domainId: "dom_1" }))).toMatchObject({
      status: 400,
      field: "domainId",
    });
    expect(await failure(admin.keys.create.mutate({ name: "x", scopes: ["ok", "Not OK"] }))).toMatchObject({
      status: 400,
      field: "scopes[1]",
    });
    expect(await failure(admin.keys.create.mutate({ name: "x", expiresInSeconds: 0 }))).toMatchObject({
      status: 400,
      field: "expiresInSeconds",
    });
    expect(await failure(admin.keys.create.mutate({ name: "x", claims: { blob: "y".repeat(5000) } }))).toMatchObject({
      status: 400,
      field: "claims",
    });
    expect(await failure(admin.keys.create.mutate({ name: "x", domain_id: "dom_1" } as never))).toMatchObject({
      status: 400,
      field: "domain_id",
      message: "domain_id: unknown field",
    });
  });

  it("passes the service's own 400 through with the field in camelCase", async () => {
    expect(await failure(admin.keys.create.mutate({ name: "x", allowedCidrs: ["not-a-cidr"] }))).toMatchObject({
      status: 400,
      field: "allowedCidrs[0]",
    });
  });

  it("is 401 without a token and 403 for a member", async () => {
    expect((await failure(anonymous.keys.create.mutate({ name: "x" }))).status).toBe(401);
    expect((await failure(member.keys.create.mutate({ name: "x" }))).status).toBe(403);
  });
});

describe("keys.list", () => {
  it("lists newest first, filters and pages", async () => {
    const a = await admin.keys.create.mutate({ name: "list alpha", subject: "org_list" });
    const b = await admin.keys.create.mutate({ name: "list beta", subject: "org_list", permission: "sending_access" });
    const all = await member.keys.list.query({ subject: "org_list" });
    expect(all.keys.map((k) => k.id)).toEqual([b.key.id, a.key.id]);
    expect(all.nextPageToken).toBeNull();

    const sending = await admin.keys.list.query({ subject: "org_list", permission: "sending_access" });
    expect(sending.keys.map((k) => k.id)).toEqual([b.key.id]);
    const named = await admin.keys.list.query({ nameContains: "ALPHA" });
    expect(named.keys.map((k) => k.id)).toEqual([a.key.id]);

    const first = await admin.keys.list.query({ subject: "org_list", pageSize: 1 });
    expect(first.keys.map((k) => k.id)).toEqual([b.key.id]);
    const second = await admin.keys.list.query({
      subject: "org_list",
      pageSize: 1,
      pageToken: first.nextPageToken ?? "",
    });
    expect(second.keys.map((k) => k.id)).toEqual([a.key.id]);
  });

  it("is 400 for a bad page size or status, 401 without a token", async () => {
    expect(await failure(admin.keys.list.query({ pageSize: 101 }))).toMatchObject({ status: 400, field: "pageSize" });
    expect(await failure(admin.keys.list.query({ status: "gone" as never }))).toMatchObject({
      status: 400,
      field: "status",
    });
    expect((await failure(anonymous.keys.list.query())).status).toBe(401);
  });
});

describe("keys.get", () => {
  it("returns one key to admins and members", async () => {
    const { key } = await newKey("get me");
    await expect(member.keys.get.query({ id: key.id })).resolves.toMatchObject({ id: key.id, name: "get me" });
  });

  it("is 404 for an unknown id, 400 for a malformed one, 401 without a token", async () => {
    expect(await failure(admin.keys.get.query({ id: UNKNOWN_ID }))).toMatchObject({ status: 404, code: "NOT_FOUND" });
    expect(await failure(admin.keys.get.query({ id: "nope" }))).toMatchObject({ status: 400, field: "id" });
    expect((await failure(anonymous.keys.get.query({ id: UNKNOWN_ID }))).status).toBe(401);
  });
});

describe("keys.update", () => {
  it("changes only the fields given, and null clears", async () => {
    const { key } = await admin.keys.create.mutate({
      name: "before",
      description: "kept",
      permission: "sending_access",
      domainId: "dom_1",
      claims: { a: 1 },
      expiresInSeconds: 3600,
    });
    const renamed = await admin.keys.update.mutate({ id: key.id, name: "after" });
    expect(renamed).toMatchObject({ name: "after", description: "kept", domainId: "dom_1", claims: { a: 1 } });
    expect(renamed.expireTime).toBe(key.expireTime);

    const cleared = await admin.keys.update.mutate({ id: key.id, domainId: null, claims: null, expireTime: null });
    expect(cleared).toMatchObject({
      name: "after",
      description: "kept",
      domainId: null,
      claims: null,
      expireTime: null,
    });

    const expireTime = new Date(Date.now() + 7 * 86_400_000).toISOString();
    const disabled = await admin.keys.update.mutate({ id: key.id, enabled: false, scopes: ["a:b"], expireTime });
    expect(disabled).toMatchObject({ enabled: false, status: "disabled", scopes: ["a:b"] });
    expect(Date.parse(disabled.expireTime ?? "")).toBe(Date.parse(expireTime));
  });

  it("is 400 with nothing to change, a bad field, or the service's rule; 404; 403; 401", async () => {
    const { key } = await newKey("upd");
    expect(await failure(admin.keys.update.mutate({ id: key.id }))).toMatchObject({ status: 400, field: "input" });
    expect(await failure(admin.keys.update.mutate({ id: key.id, name: "" }))).toMatchObject({
      status: 400,
      field: "name",
    });
    expect(await failure(admin.keys.update.mutate({ id: key.id, expireTime: "tomorrow" }))).toMatchObject({
      status: 400,
      field: "expireTime",
    });
    // A domain on a full-access key: only the service knows the stored permission.
    expect(await failure(admin.keys.update.mutate({ id: key.id, domainId: "dom_1" }))).toMatchObject({
      status: 400,
      field: "domainId",
    });
    expect((await failure(admin.keys.update.mutate({ id: UNKNOWN_ID, name: "x" }))).status).toBe(404);
    expect((await failure(member.keys.update.mutate({ id: key.id, name: "x" }))).status).toBe(403);
    expect((await failure(anonymous.keys.update.mutate({ id: key.id, name: "x" }))).status).toBe(401);
  });
});

describe("keys.delete", () => {
  it("revokes at once and keeps the reason; a revoked key cannot be changed (412)", async () => {
    const { key, token } = await newKey("doomed");
    const revoked = await admin.keys.delete.mutate({ id: key.id, reason: "leaked" });
    expect(revoked).toMatchObject({ id: key.id, status: "revoked", revocationReason: "leaked" });
    expect(revoked.revokeTime).not.toBeNull();
    const verified = await h.service.verifyKey({ token });
    expect(verified.valid).toBe(false);
    expect(await failure(admin.keys.update.mutate({ id: key.id, name: "again" }))).toMatchObject({
      status: 412,
      code: "PRECONDITION_FAILED",
    });
  });

  it("is 400 for a long reason, 404, 403, 401", async () => {
    const { key } = await newKey("kept");
    expect(await failure(admin.keys.delete.mutate({ id: key.id, reason: "r".repeat(501) }))).toMatchObject({
      status: 400,
      field: "reason",
    });
    expect((await failure(admin.keys.delete.mutate({ id: UNKNOWN_ID }))).status).toBe(404);
    expect((await failure(member.keys.delete.mutate({ id: key.id }))).status).toBe(403);
    expect((await failure(anonymous.keys.delete.mutate({ id: key.id }))).status).toBe(401);
    await expect(admin.keys.get.query({ id: key.id })).resolves.toMatchObject({ status: "active" });
  });
});

describe("keys.rotate", () => {
  it("returns a new key and token; the old one works through the grace period", async () => {
    const { key, token } = await admin.keys.create.mutate({ name: "rot", scopes: ["a:b"] });
    const rotated = await admin.keys.rotate.mutate({ id: key.id, gracePeriodSeconds: 3600 });
    expect(rotated.token).toMatch(/^kw_/);
    expect(rotated.token).not.toBe(token);
    expect(rotated.key).toMatchObject({ name: "rot", scopes: ["a:b"], rotatedFromId: key.id, status: "active" });
    expect(rotated.previousKey).toMatchObject({ id: key.id, rotatedToId: rotated.key.id });
    expect(rotated.previousKey.expireTime).not.toBeNull();
    await expect(h.service.verifyKey({ token })).resolves.toMatchObject({ valid: true });
    await expect(h.service.verifyKey({ token: rotated.token })).resolves.toMatchObject({ valid: true });
  });

  it("with no grace period revokes the old key now", async () => {
    const { key, token } = await newKey("rot0");
    const rotated = await admin.keys.rotate.mutate({ id: key.id });
    expect(rotated.previousKey.status).toBe("revoked");
    await expect(h.service.verifyKey({ token })).resolves.toMatchObject({ valid: false });
  });

  it("is 400 for a grace period over 30 days, 404, 403, 401", async () => {
    const { key } = await newKey("rot-bad");
    expect(await failure(admin.keys.rotate.mutate({ id: key.id, gracePeriodSeconds: 2_592_001 }))).toMatchObject({
      status: 400,
      field: "gracePeriodSeconds",
    });
    expect((await failure(admin.keys.rotate.mutate({ id: UNKNOWN_ID }))).status).toBe(404);
    expect((await failure(member.keys.rotate.mutate({ id: key.id }))).status).toBe(403);
    expect((await failure(anonymous.keys.rotate.mutate({ id: key.id }))).status).toBe(401);
  });
});

describe("keys.usage and keys.logs", () => {
  it("count and list the key's verifications", async () => {
    const { key, token } = await newKey("used");
    await h.service.verifyKey({ token, context: { ip: "10.1.2.3", method: "GET", path: "/emails" } });
    await h.service.verifyKey({ token, requiredScopes: ["missing:scope"] });
    const usage = await eventually(async () => {
      const u = await member.keys.usage.query({ id: key.id });
      expect(u.total).toBe(2);
      return u;
    });
    const outcomes = usage.buckets.flatMap((b) => b.outcomes);
    expect(outcomes).toEqual(
      expect.arrayContaining([
        { code: "valid", count: 1 },
        { code: "missing_scopes", count: 1 },
      ]),
    );
    expect(usage.buckets[0]?.startTime).toMatch(/T\d\d:00:00\.000Z$/);

    const logs = await eventually(async () => {
      const l = await member.keys.logs.query({ id: key.id });
      expect(l.logs).toHaveLength(2);
      return l;
    });
    expect(logs.logs[1]).toMatchObject({
      keyId: key.id,
      code: "valid",
      ip: "10.1.2.3",
      method: "GET",
      path: "/emails",
    });
    expect(logs.logs[0]).toMatchObject({ code: "missing_scopes" });
    const valid = await admin.keys.logs.query({ id: key.id, code: "valid" });
    expect(valid.logs.map((l) => l.code)).toEqual(["valid"]);
    await expect(admin.keys.get.query({ id: key.id })).resolves.toMatchObject({ requestCount: 2 });
  });

  it("are 400 for bad inputs, 404 for an unknown key, 401 without a token", async () => {
    const { key } = await newKey("unused");
    expect(await failure(admin.keys.usage.query({ id: key.id, granularity: "week" as never }))).toMatchObject({
      status: 400,
      field: "granularity",
    });
    expect(await failure(admin.keys.logs.query({ id: key.id, code: "nope" as never }))).toMatchObject({
      status: 400,
      field: "code",
    });
    expect(await failure(admin.keys.logs.query({ id: key.id, from: "yesterday" }))).toMatchObject({
      status: 400,
      field: "from",
    });
    expect((await failure(admin.keys.usage.query({ id: UNKNOWN_ID }))).status).toBe(404);
    expect((await failure(admin.keys.logs.query({ id: UNKNOWN_ID }))).status).toBe(404);
    expect((await failure(anonymous.keys.usage.query({ id: key.id }))).status).toBe(401);
    expect((await failure(anonymous.keys.logs.query({ id: key.id }))).status).toBe(401);
  });
});

describe("audit.list", () => {
  it("shows who did what, newest first, filtered by key", async () => {
    const { key } = await newKey("audited");
    await admin.keys.update.mutate({ id: key.id, name: "audited 2", scopes: ["x:y"] });
    await admin.keys.delete.mutate({ id: key.id });
    const page = await member.audit.list.query({ keyId: key.id });
    expect(page.events.map((e) => e.action)).toEqual(["key.delete", "key.update", "key.create"]);
    expect(page.events.every((e) => e.actor === "ops@example.com")).toBe(true);
    expect(page.events[1]?.changedFields).toEqual(expect.arrayContaining(["name", "scopes"]));
    expect(page.events[0]?.time).toMatch(/Z$/);
    const byHarness = await admin.audit.list.query({ actor: "harness", pageSize: 100 });
    expect(byHarness.events.length).toBeGreaterThanOrEqual(2);
  });

  it("is 400 for a bad page size or key id, 401 without a token", async () => {
    expect(await failure(admin.audit.list.query({ pageSize: 0 }))).toMatchObject({ status: 400, field: "pageSize" });
    expect(await failure(admin.audit.list.query({ keyId: "x" }))).toMatchObject({ status: 400, field: "keyId" });
    expect((await failure(anonymous.audit.list.query())).status).toBe(401);
  });
});

describe("exports.list and exports.get", () => {
  it("list exports to members and get one", async () => {
    const created = await h.service.createExport({ resource: 1, filters: {} }, asActor("ops@example.com"));
    const id = created.export?.id ?? "";
    const page = await member.exports.list.query();
    expect(page.exports.map((e) => e.id)).toContain(id);
    await expect(member.exports.get.query({ id })).resolves.toMatchObject({
      id,
      resource: "api_keys",
      state: "pending",
      requestedBy: "ops@example.com",
    });
    const pending = await admin.exports.list.query({ state: "pending" });
    expect(pending.exports.every((e) => e.state === "pending")).toBe(true);
  });

  it("are 400 for bad inputs, 404 for an unknown export, 401 without a token", async () => {
    expect(await failure(admin.exports.list.query({ state: "done" as never }))).toMatchObject({
      status: 400,
      field: "state",
    });
    expect(await failure(admin.exports.get.query({ id: "x" }))).toMatchObject({ status: 400, field: "id" });
    expect((await failure(admin.exports.get.query({ id: UNKNOWN_ID }))).status).toBe(404);
    expect((await failure(anonymous.exports.list.query())).status).toBe(401);
  });
});
