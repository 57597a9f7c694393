/**
 * Seed-independent regression tests for what the fuzz suite found: each
 * reproduces one bug exactly, whatever seed the fuzz runs with.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CountKeysResponseSchema, KeyService } from "../../../src/gen/keyward/v1/key_service_pb.js";
import { startTestService, type TestService } from "../../support/test-service.js";

let t: TestService;
beforeAll(async () => {
  t = await startTestService();
});
afterAll(async () => {
  await t?.stop();
});

/** A binary Connect call: the HTTP status and the body. */
async function connectProto(method: string, body: Uint8Array) {
  const res = await fetch(`http://127.0.0.1:${t.service.connectPort}/${KeyService.typeName}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/proto", authorization: `Bearer ${t.service.serviceToken}` },
    body,
  });
  return { status: res.status, bytes: new Uint8Array(await res.arrayBuffer()) };
}

describe("fuzz regressions", () => {
  // Field 536870911 is the Connect port's internal marker of a malformed body;
  // a client sending it as a fixed32 made the port answer `internal` (HTTP 500).
  it("ignores an unknown field 536870911 of any wire type on the Connect port, as on the gRPC port", async () => {
    const bodies = [
      new BinaryWriter().tag(536_870_911, WireType.Bit32).fixed32(0x9803f84a).finish(),
      new BinaryWriter().tag(536_870_911, WireType.Varint).uint64(1n).finish(),
      new BinaryWriter().tag(536_870_911, WireType.LengthDelimited).string("forged reason").finish(),
      new BinaryWriter().tag(536_870_911, WireType.LengthDelimited).bytes(Uint8Array.of(0xff, 0xff)).finish(),
    ];
    for (const body of bodies) {
      const answer = await connectProto("CountKeys", body);
      expect(answer.status).toBe(200);
      expect(fromBinary(CountKeysResponseSchema, answer.bytes).count).toBe(0n);
      expect(fromBinary(CountKeysResponseSchema, await t.admin.raw("countKeys", body)).count).toBe(0n);
    }
  });

  it("still answers a body that is not a message with invalid_argument on the Connect port", async () => {
    const answer = await connectProto("CountKeys", Uint8Array.of(0x0a, 0x09, 0x01));
    expect(answer.status).toBe(400);
    expect(JSON.parse(Buffer.from(answer.bytes).toString())).toMatchObject({ code: "invalid_argument" });
  });
});
