import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyStatus, Permission } from "../../../src/gen/keyward/v1/key_pb.js";
import { VerifyCode } from "../../../src/gen/keyward/v1/verify_pb.js";
import type { RequestOf } from "../../support/grpc-client.js";
import { grpcError, startTestService, type TestService } from "../../support/test-service.js";

let t: TestService;
beforeAll(async () => {
  t = await startTestService();
});
afterAll(async () => {
  await t.stop();
});

async function createKey(request: RequestOf<"createKey">) {
  const { key, token } = await t.admin.unary("createKey", request);
  return { id: key?.id ?? "", token };
}

async function verify(request: RequestOf<"verifyKey">) {
  return t.caller.unary("verifyKey", request);
}

describe("VerifyKey outcomes", () => {
  it("VALID returns the key's verification view", async () => {
    const { id, token } = await createKey({
      name: "Valid",
      subject: "user_1",
      scopes: ["read:users"],
      claims: { plan: "pro" },
    });
    const result = await verify({ token });
    expect(result).toMatchObject({ valid: true, code: VerifyCode.VALID });
    expect(result.key).toMatchObject({
      id,
      name: "Valid",
      permission: Permission.FULL_ACCESS,
      subject: "user_1",
      scopes: ["read:users"],
      claims: { plan: "pro" },
    });
  });

  it("MALFORMED for a mistyped token, without a key", async () => {
    const { token } = await createKey({ name: "Typo" });
    for (const bad of [
      token.slice(0, -1),
      `${token.slice(0, -1)}${token.endsWith("a") ? "b" : "a"}`,
      "",
      "kw_",
      "hello",
    ]) {
      const result = await verify({ token: bad });
      expect(result).toMatchObject({ valid: false, code: VerifyCode.MALFORMED });
      expect(result.key).toBeUndefined();
    }
  });

  it("NOT_FOUND for a well-formed token nobody issued, twice (negative cache)", async () => {
    const { token } = await createKey({ name: "Real" });
    await t.admin.unary("deleteKey", { id: (await t.admin.unary("listKeys", { nameContains: "Real" })).keys[0]?.id });
    // Build a well-formed token that was never issued: same shape, fresh random part.
    const { generateToken } = await import("../../../src/service/keys/token.js");
    const never = generateToken("kw");
    expect(never).not.toBe(token);
    for (let i = 0; i < 2; i++) {
      const result = await verify({ token: never });
      expect(result).toMatchObject({ valid: false, code: VerifyCode.NOT_FOUND });
      expect(result.key).toBeUndefined();
    }
  });

  it("REVOKED at once, even when the key was cached by an earlier verification", async () => {
    const { id, token } = await createKey({ name: "Soon revoked" });
    expect((await verify({ token })).valid).toBe(true);
    await t.admin.unary("deleteKey", { id, reason: "leaked" });
    const result = await verify({ token });
    expect(result).toMatchObject({ valid: false, code: VerifyCode.REVOKED });
    expect(result.key?.id).toBe(id);
  });

  it("EXPIRED once expires_in_seconds have passed", async () => {
    const { token } = await createKey({ name: "Short-lived", expiresInSeconds: 60 });
    expect((await verify({ token })).code).toBe(VerifyCode.VALID);
    t.clock.advance(60_000);
    expect(await verify({ token })).toMatchObject({ valid: false, code: VerifyCode.EXPIRED });
  });

  it("DISABLED while disabled, VALID again once enabled", async () => {
    const { id, token } = await createKey({ name: "Toggle" });
    expect((await verify({ token })).valid).toBe(true);
    await t.admin.unary("updateKey", { id, updateMask: { paths: ["enabled"] }, enabled: false });
    expect(await verify({ token })).toMatchObject({ valid: false, code: VerifyCode.DISABLED });
    const { key } = await t.admin.unary("getKey", { id });
    expect(key?.status).toBe(KeyStatus.DISABLED);
    await t.admin.unary("updateKey", { id, updateMask: { paths: ["enabled"] }, enabled: true });
    expect((await verify({ token })).code).toBe(VerifyCode.VALID);
    const audit = await t.admin.unary("listAuditEvents", { keyId: id });
    expect(audit.events.map((e) => e.action)).toEqual(["key.enable", "key.disable", "key.create"]);
  });

  it("IP_NOT_ALLOWED outside the CIDRs (IPv4 and IPv6) and without an ip", async () => {
    const { token } = await createKey({ name: "Office only", allowedCidrs: ["203.0.113.0/24", "2001:db8::/32"] });
    const at = (ip: string) => verify({ token, context: { ip } });
    expect((await at("203.0.113.9")).code).toBe(VerifyCode.VALID);
    expect((await at("2001:db8:5::1")).code).toBe(VerifyCode.VALID);
    expect((await at("198.51.100.1")).code).toBe(VerifyCode.IP_NOT_ALLOWED);
    expect((await at("2001:db9::1")).code).toBe(VerifyCode.IP_NOT_ALLOWED);
    expect((await verify({ token })).code).toBe(VerifyCode.IP_NOT_ALLOWED);
  });

  it("INSUFFICIENT_PERMISSION for a sending-access key where full access is required", async () => {
    const { token } = await createKey({ name: "Sender", permission: Permission.SENDING_ACCESS });
    expect((await verify({ token, requiredPermission: Permission.FULL_ACCESS })).code).toBe(
      VerifyCode.INSUFFICIENT_PERMISSION,
    );
    expect((await verify({ token, requiredPermission: Permission.SENDING_ACCESS })).code).toBe(VerifyCode.VALID);
  });

  it("DOMAIN_MISMATCH for a key restricted to another domain", async () => {
    const { token } = await createKey({ name: "Domain", permission: Permission.SENDING_ACCESS, domainId: "dom_a" });
    expect((await verify({ token, domainId: "dom_a" })).code).toBe(VerifyCode.VALID);
    expect((await verify({ token, domainId: "dom_b" })).code).toBe(VerifyCode.DOMAIN_MISMATCH);
  });

  it("MISSING_SCOPES unless every required scope is held (a trailing * grants a prefix)", async () => {
    const { token } = await createKey({ name: "Scoped", scopes: ["read:users", "billing:*"] });
    expect((await verify({ token, requiredScopes: ["read:users", "billing:refund"] })).code).toBe(VerifyCode.VALID);
    expect((await verify({ token, requiredScopes: ["read:users", "write:users"] })).code).toBe(
      VerifyCode.MISSING_SCOPES,
    );
  });

  it("checks in the documented order: revoked before expired before disabled before IP", async () => {
    const { id, token } = await createKey({
      name: "Everything wrong",
      expiresInSeconds: 10,
      allowedCidrs: ["10.0.0.0/8"],
    });
    await t.admin.unary("updateKey", { id, updateMask: { paths: ["enabled"] }, enabled: false });
    expect((await verify({ token })).code).toBe(VerifyCode.DISABLED);
    t.clock.advance(10_000);
    expect((await verify({ token })).code).toBe(VerifyCode.EXPIRED);
  });

  it("answers bad verification context with INVALID_ARGUMENT naming the field", async () => {
    const { token } = await createKey({ name: "Context" });
    const badIp = await grpcError(verify({ token, context: { ip: "not-an-ip" } }));
    expect([badIp.code, badIp.details.split(":")[0]]).toEqual([status.INVALID_ARGUMENT, "context.ip"]);
    const long = await grpcError(verify({ token, context: { path: "/".repeat(2000) } }));
    expect(long.details).toMatch(/^context\.path:/);
  });
});

describe("RotateKey", () => {
  it("with grace: both keys work until the grace ends, then only the new one", async () => {
    const { id, token } = await createKey({
      name: "Rotating",
      scopes: ["read:users"],
      permission: Permission.SENDING_ACCESS,
      domainId: "dom_r",
    });
    const rotated = await t.admin.unary("rotateKey", { id, gracePeriodSeconds: 3600 });
    expect(rotated.token).not.toBe(token);
    expect(rotated.key).toMatchObject({
      name: "Rotating",
      scopes: ["read:users"],
      permission: Permission.SENDING_ACCESS,
      domainId: "dom_r",
      rotatedFromId: id,
    });
    expect(rotated.previousKey?.rotatedToId).toBe(rotated.key?.id);
    expect((await verify({ token })).code).toBe(VerifyCode.VALID);
    expect((await verify({ token: rotated.token })).code).toBe(VerifyCode.VALID);
    t.clock.advance(3600_000);
    expect((await verify({ token })).code).toBe(VerifyCode.EXPIRED);
    expect((await verify({ token: rotated.token })).code).toBe(VerifyCode.VALID);
    const again = await grpcError(t.admin.unary("rotateKey", { id, gracePeriodSeconds: 0 }));
    expect(again.code).toBe(status.FAILED_PRECONDITION);
  });

  it("without grace: the old key is revoked at once", async () => {
    const { id, token } = await createKey({ name: "Rotate now" });
    const rotated = await t.admin.unary("rotateKey", { id, gracePeriodSeconds: 0 });
    expect(await verify({ token })).toMatchObject({ valid: false, code: VerifyCode.REVOKED });
    expect((await verify({ token: rotated.token })).valid).toBe(true);
    const { key } = await t.admin.unary("getKey", { id });
    expect(key).toMatchObject({ status: KeyStatus.REVOKED, revocationReason: "rotated", rotatedToId: rotated.key?.id });
  });

  it("refuses a grace period over 30 days", async () => {
    const { id } = await createKey({ name: "Too long" });
    const error = await grpcError(t.admin.unary("rotateKey", { id, gracePeriodSeconds: 30 * 86400 + 1 }));
    expect([error.code, error.details.split(":")[0]]).toEqual([status.INVALID_ARGUMENT, "grace_period_seconds"]);
  });
});

describe("usage and logs", () => {
  it("counts verifications per hour and outcome and keeps the request log, after a flush", async () => {
    const { id, token } = await createKey({ name: "Used", scopes: ["a"] });
    const context = { ip: "192.0.2.1", method: "POST", path: "/emails", userAgent: "curl/8", tags: { region: "eu" } };
    await verify({ token, context });
    await verify({ token, context });
    await verify({ token, requiredScopes: ["b"], context });
    await t.service.keys.usage({ id }); // flushes pending usage first
    const usage = await t.admin.unary("getKeyUsage", { id });
    expect(usage.total).toBe(3n);
    const bucket = usage.buckets.find((b) => b.total > 0n);
    expect(usage.buckets.length).toBe(24);
    expect(bucket?.outcomes.map((o) => [o.code, o.count]).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual([
      [VerifyCode.VALID, 2n],
      [VerifyCode.MISSING_SCOPES, 1n],
    ]);
    const { key } = await t.admin.unary("getKey", { id });
    expect(key?.requestCount).toBe(3n);
    expect(Number(key?.lastUsedTime?.seconds)).toBe(Math.floor(t.clock.now / 1000));

    const logs = await t.admin.unary("listKeyLogs", { id, pageSize: 2 });
    expect(logs.logs.map((l) => l.code)).toEqual([VerifyCode.MISSING_SCOPES, VerifyCode.VALID]);
    expect(logs.logs[0]).toMatchObject({
      keyId: id,
      ip: "192.0.2.1",
      method: "POST",
      path: "/emails",
      userAgent: "curl/8",
      tags: { region: "eu" },
    });
    const rest = await t.admin.unary("listKeyLogs", { id, pageSize: 2, pageToken: logs.nextPageToken });
    expect(rest.logs.map((l) => l.code)).toEqual([VerifyCode.VALID]);
    expect(rest.nextPageToken).toBe("");
    const onlyValid = await t.admin.unary("listKeyLogs", { id, code: VerifyCode.VALID });
    expect(onlyValid.logs).toHaveLength(2);
  });

  it("daily usage covers 30 days by default and refuses an inverted range", async () => {
    const { id } = await createKey({ name: "Daily" });
    const usage = await t.admin.unary("getKeyUsage", { id, granularity: 2 });
    expect(usage.buckets.length).toBe(30);
    const error = await grpcError(
      t.admin.unary("getKeyUsage", { id, fromTime: { seconds: 2000n }, toTime: { seconds: 1000n } }),
    );
    expect(error.code).toBe(status.INVALID_ARGUMENT);
  });
});
