import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpcError, startTestService, type TestService } from "../../support/test-service.js";

/** The service refuses deeply nested claims as INVALID_ARGUMENT naming claims, on both ports; never INTERNAL. */

let t: TestService;
beforeAll(async () => {
  t = await startTestService();
});
afterAll(async () => {
  await t.stop();
});

function nested(depth: number, kind: "array" | "object"): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = kind === "array" ? [value] : { a: value };
  return value;
}

const cases = [
  ["array", 33],
  ["array", 99],
  ["object", 33],
  ["object", 100],
] as const;

/**
 * CreateKeyRequest{name: "deep", claims: {deep: <value nested depth deep>}}
 * written by hand: protobuf-es's own encoder overflows the stack at 900.
 */
function deepRequest(depth: number, kind: "array" | "object"): Uint8Array {
  let value = new BinaryWriter().tag(2, WireType.Bit64).double(1).finish(); // Value{number_value: 1}
  for (let i = 0; i < depth; i++) {
    const inner =
      kind === "array"
        ? new BinaryWriter()
            .tag(1, WireType.LengthDelimited)
            .bytes(value)
            .finish() // ListValue{values}
        : new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(entry("a", value)).finish(); // Struct{fields}
    value = new BinaryWriter()
      .tag(kind === "array" ? 6 : 5, WireType.LengthDelimited)
      .bytes(inner)
      .finish();
  }
  const claims = new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(entry("deep", value)).finish();
  return new BinaryWriter()
    .tag(1, WireType.LengthDelimited)
    .string("deep")
    .tag(7, WireType.LengthDelimited)
    .bytes(claims)
    .finish();
}

/** A Struct fields map entry. */
function entry(key: string, value: Uint8Array): Uint8Array {
  return new BinaryWriter()
    .tag(1, WireType.LengthDelimited)
    .string(key)
    .tag(2, WireType.LengthDelimited)
    .bytes(value)
    .finish();
}

describe("claims nested too deep", () => {
  it.each(cases)("gRPC: %s nested %i deep is INVALID_ARGUMENT naming claims", async (kind, depth) => {
    const error = await grpcError(
      t.admin.unary("createKey", { name: "deep", claims: { deep: nested(depth, kind) } as never }),
    );
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.details).toMatch(/claims/);
  });

  it.each([
    ["array", 900],
    ["object", 900],
    ["array", 5000],
  ] as const)("gRPC, raw bytes: %s nested %i deep is INVALID_ARGUMENT naming claims", async (kind, depth) => {
    const error = await grpcError(t.admin.raw("createKey", deepRequest(depth, kind)));
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.details).toMatch(/claims: nested deeper than 32 levels/);
  });

  it.each([
    ["array", 900],
    ["object", 900],
  ] as const)("Connect, raw bytes: %s nested %i deep is invalid_argument naming claims", async (kind, depth) => {
    const res = await fetch(`http://127.0.0.1:${t.service.connectPort}/keyward.v1.KeyService/CreateKey`, {
      method: "POST",
      headers: { "content-type": "application/proto", authorization: `Bearer ${t.service.serviceToken}` },
      body: deepRequest(depth, kind),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe("invalid_argument");
    expect(body.message).toMatch(/claims: nested deeper than 32 levels/);
  });

  it.each(cases)("Connect: %s nested %i deep is invalid_argument naming claims", async (kind, depth) => {
    const client = t.connect();
    try {
      await client.createKey({ name: "deep", claims: { deep: nested(depth, kind) } as never });
      expect.unreachable("the call succeeded");
    } catch (error) {
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).code).toBe(Code.InvalidArgument);
      expect((error as ConnectError).rawMessage).toMatch(/claims: nested deeper than 32 levels|^claims/);
    }
  });
});
