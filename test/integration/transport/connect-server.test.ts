import { toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Permission } from "../../../src/gen/keyward/v1/key_pb.js";
import { VerifyCode, VerifyKeyResponseSchema } from "../../../src/gen/keyward/v1/verify_pb.js";
import { startHarness, type TransportHarness } from "./harness.js";

let t: TransportHarness;
beforeAll(async () => {
  t = await startHarness();
});
afterAll(async () => {
  await t.stop();
});

async function connectFailure(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail; it succeeded");
}

describe("Connect server", () => {
  it("refuses admin RPCs without or with a wrong token, over Connect and gRPC-Web", async () => {
    for (const protocol of ["connect", "grpc-web"] as const) {
      const missing = await connectFailure(t.connect({ protocol }).listKeys({}));
      expect(missing.code).toBe(Code.Unauthenticated);
      const wrong = await connectFailure(t.connect({ protocol, token: "not-the-token" }).countKeys({}));
      expect(wrong.code).toBe(Code.Unauthenticated);
      expect(wrong.rawMessage).not.toContain("not-the-token");
    }
  });

  it("gives VerifyKey the same answer over Connect, gRPC-Web and grpc-js", async () => {
    const { token } = await t.admin.unary("createKey", {
      name: "same everywhere",
      permission: Permission.SENDING_ACCESS,
      domainId: "dom_1",
      subject: "user_123",
      scopes: ["read:users"],
      claims: { email: "ops@example.com", tier: 2, flags: [true, null] },
      expiresInSeconds: 3600,
    });
    const requests = [
      { token },
      { token, requiredPermission: Permission.FULL_ACCESS },
      { token, requiredScopes: ["write:users"] },
      { token: "kw_x" },
    ];
    for (const request of requests) {
      const viaGrpc = toJson(VerifyKeyResponseSchema, await t.caller.unary("verifyKey", request));
      const viaConnect = toJson(VerifyKeyResponseSchema, await t.connect().verifyKey(request));
      const viaGrpcWeb = toJson(VerifyKeyResponseSchema, await t.connect({ protocol: "grpc-web" }).verifyKey(request));
      expect(viaConnect).toEqual(viaGrpc);
      expect(viaGrpcWeb).toEqual(viaGrpc);
    }
    const valid = await t.connect().verifyKey({ token });
    expect(valid).toMatchObject({ valid: true, code: VerifyCode.VALID });
    expect(valid.key?.claims).toEqual({ email: "ops@example.com", tier: 2, flags: [true, null] });
    const denied = await t.connect().verifyKey({ token, requiredPermission: Permission.FULL_ACCESS });
    expect(denied).toMatchObject({ valid: false, code: VerifyCode.INSUFFICIENT_PERMISSION });
    expect(denied.key?.subject).toBe("user_123");
  });

  it("maps validation errors to INVALID_ARGUMENT naming the field, as over gRPC", async () => {
    const error = await connectFailure(
      t.connect({ token: t.service.serviceToken }).createKey({ name: "x", permission: 9 as Permission }),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toMatch(/^permission: unknown value 9/);
  });

  it("refuses a body larger than the read limit", async () => {
    const error = await connectFailure(t.connect().verifyKey({ token: "x".repeat(2 * 1024 * 1024) }));
    expect(error.code).toBe(Code.ResourceExhausted);
  });

  it("answers malformed protobuf bytes with invalid_argument, not internal, in every protocol", async () => {
    // Field 1 (token) claims 9 bytes and carries 1.
    const truncated = [0x0a, 0x09, 0x01];
    const enveloped = new Uint8Array([0, 0, 0, 0, truncated.length, ...truncated]);
    const post = (path: string, contentType: string, body: Uint8Array) =>
      fetch(`${t.connectUrl}/keyward.v1.KeyService/${path}`, {
        method: "POST",
        headers: { "content-type": contentType, authorization: `Bearer ${t.service.serviceToken}` },
        body,
      });

    const unary = await post("VerifyKey", "application/proto", new Uint8Array(truncated));
    expect(unary.status).toBe(400);
    expect(await unary.json()).toEqual({
      code: "invalid_argument",
      message: "malformed request message: premature EOF",
    });

    const grpcWeb = await post("VerifyKey", "application/grpc-web+proto", enveloped);
    const trailers = Buffer.from(await grpcWeb.arrayBuffer()).toString("latin1");
    expect(trailers).toContain("grpc-status: 3");
    expect(trailers).toContain("grpc-message: malformed%20request%20message");

    const stream = await post("StreamExportRows", "application/connect+proto", enveloped);
    const endStream = Buffer.from(await stream.arrayBuffer())
      .subarray(5)
      .toString("utf8");
    expect(JSON.parse(endStream)).toMatchObject({ error: { code: "invalid_argument" } });
  });

  it("answers plain HTTP: curl-style Connect JSON", async () => {
    const response = await fetch(`${t.connectUrl}/keyward.v1.KeyService/VerifyKey`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: "kw_x" }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ code: "VERIFY_CODE_MALFORMED" });
  });
});
