import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Permission } from "../../../src/gen/keyward/v1/key_pb.js";
import { KeyService } from "../../../src/gen/keyward/v1/key_service_pb.js";
import { VerifyCode } from "../../../src/gen/keyward/v1/verify_pb.js";
import { grpcFailure, startHarness, type TransportHarness } from "./harness.js";

const run = promisify(execFile);
const buf = fileURLToPath(new URL("../../../node_modules/.bin/buf", import.meta.url));

let t: TransportHarness;
beforeAll(async () => {
  t = await startHarness();
});
afterAll(async () => {
  await t.stop();
});

describe("grpc-js server", () => {
  it("answers health checks SERVING for the server and for KeyService", async () => {
    await expect(t.caller.health("")).resolves.toBe("SERVING");
    await expect(t.caller.health("keyward.v1.KeyService")).resolves.toBe("SERVING");
  });

  it("serves reflection from the embedded descriptors: buf curl calls VerifyKey with no proto files", async () => {
    const { stdout } = await run(buf, [
      "curl",
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      "--data",
      '{"token":"kw_x"}',
      `http://${t.grpcAddress}/keyward.v1.KeyService/VerifyKey`,
    ]);
    expect(JSON.parse(stdout)).toEqual({ code: "VERIFY_CODE_MALFORMED" });
  });

  it("lists every RPC, and health, through reflection", async () => {
    const { stdout } = await run(buf, [
      "curl",
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      "--list-methods",
      `http://${t.grpcAddress}`,
    ]);
    const methods = stdout.trim().split("\n");
    expect(methods).toContain("grpc.health.v1.Health/Check");
    const rpcs = methods.filter((m) => m.startsWith("keyward.v1.KeyService/")).map((m) => m.split("/")[1]);
    // Every method of the contract, and the ones this test knew first among them.
    expect(rpcs.sort()).toEqual(KeyService.methods.map((m) => m.name).sort());
    for (const rpc of ["CreateKey", "VerifyKey", "RotateKey", "StreamExportRows", "RunSweep", "RelayWebhooks"]) {
      expect(rpcs).toContain(rpc);
    }
  });

  it("refuses admin RPCs without the service token, or with a wrong one, and never echoes it", async () => {
    const missing = await grpcFailure(t.caller.unary("listKeys", {}));
    expect(missing.code).toBe(status.UNAUTHENTICATED);
    const wrong = await grpcFailure(
      t.caller.unary("listKeys", {}, { authorization: "Bearer kw_not-the-service-token-at-all" }),
    );
    expect(wrong.code).toBe(status.UNAUTHENTICATED);
    expect(wrong.details).not.toContain("not-the-service-token");
    const notBearer = await grpcFailure(t.caller.unary("countKeys", {}, { authorization: t.service.serviceToken }));
    expect(notBearer.code).toBe(status.UNAUTHENTICATED);
  });

  it("leaves VerifyKey open to callers without a credential", async () => {
    const response = await t.caller.unary("verifyKey", { token: "kw_x" });
    expect(response).toMatchObject({ valid: false, code: VerifyCode.MALFORMED });
  });

  it("answers malformed protobuf bytes with INVALID_ARGUMENT, not INTERNAL", async () => {
    // Field 1 (name) claims 9 bytes and carries 1.
    const truncated = await grpcFailure(t.admin.raw("createKey", new Uint8Array([0x0a, 0x09, 0x01])));
    expect(truncated.code).toBe(status.INVALID_ARGUMENT);
    expect(truncated.details).toMatch(/^malformed request message/);
    // A string that is not UTF-8.
    const notUtf8 = await grpcFailure(t.caller.raw("verifyKey", new Uint8Array([0x0a, 0x02, 0xff, 0xfe])));
    expect(notUtf8.code).toBe(status.INVALID_ARGUMENT);
  });

  it("refuses an enum number the contract does not define, naming the field", async () => {
    const error = await grpcFailure(t.admin.unary("createKey", { name: "x", permission: 9 as Permission }));
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.details).toMatch(/^permission: unknown value 9/);
    const verify = await grpcFailure(
      t.caller.unary("verifyKey", { token: "kw_x", requiredPermission: 42 as Permission }),
    );
    expect(verify.code).toBe(status.INVALID_ARGUMENT);
    expect(verify.details).toMatch(/^required_permission:/);
  });

  it("refuses an update_mask path that is not an updatable field, naming its index", async () => {
    const { key } = await t.admin.unary("createKey", { name: "masked" });
    const error = await grpcFailure(
      t.admin.unary("updateKey", { id: key?.id, updateMask: { paths: ["name", "token_hint"] }, name: "y" }),
    );
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.details).toMatch(/^update_mask\.paths\[1\]: "token_hint" is not an updatable field/);
  });

  it("refuses timestamps outside the Timestamp range, a negative cost and claims JSON cannot hold", async () => {
    const { key } = await t.admin.unary("createKey", { name: "times" });
    const nanos = await grpcFailure(
      t.admin.unary("updateKey", {
        id: key?.id,
        updateMask: { paths: ["expire_time"] },
        expireTime: { seconds: 4_000_000_000n, nanos: 1_000_000_000 },
      }),
    );
    expect(nanos.code).toBe(status.INVALID_ARGUMENT);
    expect(nanos.details).toMatch(/^expire_time: nanos/);
    const year = await grpcFailure(
      t.admin.unary("listKeyLogs", { id: key?.id, fromTime: { seconds: 253_402_300_800n } }),
    );
    expect(year.details).toMatch(/^from_time: must be between 0001-01-01 and 9999-12-31/);
    const cost = await grpcFailure(t.caller.unary("verifyKey", { token: "kw_x", cost: -1n }));
    expect(cost.code).toBe(status.INVALID_ARGUMENT);
    expect(cost.details).toMatch(/^cost:/);
    const claims = await grpcFailure(t.admin.unary("createKey", { name: "x", claims: { limits: [1, Number.NaN] } }));
    expect(claims.code).toBe(status.INVALID_ARGUMENT);
    expect(claims.details).toBe("claims.limits[1]: is not a finite number");
    const pageSize = await grpcFailure(t.admin.unary("listKeys", { pageSize: -1 }));
    expect(pageSize.details).toMatch(/^page_size:/);
  });

  it("refuses an actor that is too long or holds control characters", async () => {
    const long = await grpcFailure(t.admin.unary("createKey", { name: "x" }, { "keyward-actor": "a".repeat(255) }));
    expect(long.code).toBe(status.INVALID_ARGUMENT);
    expect(long.details).toMatch(/^keyward-actor:/);
    const { key } = await t.admin.unary("createKey", { name: "x" }, { "keyward-actor": "ops@example.com" });
    expect(key?.createdBy).toBe("ops@example.com");
  });

  it("maps domain errors: NOT_FOUND for an unknown id, FAILED_PRECONDITION on a revoked key", async () => {
    const unknown = await grpcFailure(t.admin.unary("getKey", { id: "01900000-0000-7000-8000-000000000000" }));
    expect(unknown.code).toBe(status.NOT_FOUND);
    const { key } = await t.admin.unary("createKey", { name: "gone" });
    await t.admin.unary("deleteKey", { id: key?.id, reason: "leaked" });
    const revoked = await grpcFailure(t.admin.unary("rotateKey", { id: key?.id }));
    expect(revoked.code).toBe(status.FAILED_PRECONDITION);
  });

  it("streams export rows as a server stream", async () => {
    for (const name of ["a", "b", "c"])
      await t.admin.unary("createKey", { name: `export-${name}`, subject: "org_export" });
    const { export: created } = await t.admin.unary("createExport", {
      resource: 1,
      filters: { subject: "org_export" },
    });
    const names: string[] = [];
    for await (const batch of t.admin.stream("streamExportRows", { id: created?.id, batchSize: 2 })) {
      names.push(...batch.keys.map((k) => k.name));
    }
    expect(names.sort()).toEqual(["export-a", "export-b", "export-c"]);
  });
});
