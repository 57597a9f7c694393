/**
 * Seed-independent regression tests for what the fuzz suite found: each
 * reproduces one bug exactly, whatever seed the fuzz runs with.
 */

import { connect } from "node:http2";
import { brotliCompressSync, gzipSync } from "node:zlib";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CountKeysResponseSchema,
  GetKeyUsageRequestSchema,
  KeyService,
} from "../../../src/gen/keyward/v1/key_service_pb.js";
import { startTestService, type TestService } from "../../support/test-service.js";
import { grpcFrame, rawGrpcCall } from "./campaign.js";

let t: TestService;
beforeAll(async () => {
  t = await startTestService();
});
afterAll(async () => {
  await t?.stop();
});

/** A Connect call of a unary RPC: the HTTP status and the body. */
async function connectCall(method: string, body: Uint8Array, headers: Record<string, string> = {}) {
  const res = await fetch(`http://127.0.0.1:${t.service.connectPort}/${KeyService.typeName}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/proto", authorization: `Bearer ${t.service.serviceToken}`, ...headers },
    body,
  });
  return { status: res.status, bytes: new Uint8Array(await res.arrayBuffer()), headers: res.headers };
}

const connectProto = (method: string, body: Uint8Array) => connectCall(method, body);
const errorOf = (bytes: Uint8Array) => JSON.parse(Buffer.from(bytes).toString()) as { code: string; message: string };

/** A truncated message: field 1 claims 9 bytes and carries 1. */
const MALFORMED = Uint8Array.of(0x0a, 0x09, 0x01);

/** A raw gRPC call to the service's grpc-js port, with the service credential. */
async function grpcCall(method: string, frames: Uint8Array, headers: Record<string, string> = {}) {
  const session = connect(`http://127.0.0.1:${t.service.grpcPort}`);
  try {
    return await rawGrpcCall(
      session,
      `/${KeyService.typeName}/${method}`,
      { authorization: `Bearer ${t.service.serviceToken}`, ...headers },
      frames,
    );
  } finally {
    session.close();
  }
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
    const answer = await connectProto("CountKeys", MALFORMED);
    expect(answer.status).toBe(400);
    expect(errorOf(answer.bytes)).toMatchObject({ code: "invalid_argument" });
  });

  // connect-node answered these `internal` (HTTP 500): a gzip stream cut short
  // (zlib's Z_BUF_ERROR) and any undecodable brotli body, and a compressed
  // binary body whose message does not parse (the guard skipped compressed bodies).
  it("answers a compressed body that does not decompress with invalid_argument", async () => {
    const cut = gzipSync(Buffer.from("{}")).subarray(0, 12);
    for (const [encoding, body, type] of [
      ["gzip", cut, "application/json"],
      ["gzip", cut, "application/proto"],
      ["br", Uint8Array.of(1, 2, 3, 4, 5), "application/proto"],
      ["br", Uint8Array.of(1, 2, 3, 4, 5), "application/json"],
    ] as const) {
      const answer = await connectCall("CountKeys", body, { "content-type": type, "content-encoding": encoding });
      expect({ encoding, type, status: answer.status, ...errorOf(answer.bytes) }).toEqual({
        encoding,
        type,
        status: 400,
        code: "invalid_argument",
        message: "decompression failed",
      });
    }
  });

  it("answers a compressed binary body whose message does not parse with invalid_argument, in every protocol", async () => {
    for (const [encoding, compress] of [
      ["gzip", gzipSync],
      ["br", brotliCompressSync],
    ] as const) {
      const unary = await connectCall("CountKeys", compress(MALFORMED), { "content-encoding": encoding });
      expect(unary.status).toBe(400);
      expect(errorOf(unary.bytes)).toEqual({
        code: "invalid_argument",
        message: expect.stringMatching(/^malformed request message: /),
      });
      const compressed = compress(MALFORMED);
      const envelope = Buffer.concat([Buffer.from([1, 0, 0, 0, compressed.length]), compressed]);
      const grpcWeb = await connectCall("CountKeys", envelope, {
        "content-type": "application/grpc-web+proto",
        "grpc-encoding": encoding,
      });
      expect(Buffer.from(grpcWeb.bytes).toString("latin1")).toContain("grpc-status: 3");
    }
  });

  it("still serves a compressed body that is a valid message", async () => {
    const answer = await connectCall("CountKeys", gzipSync(new Uint8Array(0)), { "content-encoding": "gzip" });
    expect(answer.status).toBe(200);
    expect(fromBinary(CountKeysResponseSchema, answer.bytes).count).toBe(0n);
  });

  // grpc-js answered these INTERNAL from inside its call object (see src/service/transport/grpc-js-fixes.ts).
  it("gRPC: a compressed message that does not decompress is INVALID_ARGUMENT", async () => {
    const cut = gzipSync(new Uint8Array(0)).subarray(0, 12);
    for (const [encoding, message] of [
      ["gzip", Uint8Array.of(1, 2, 3, 4)],
      ["gzip", cut],
      ["deflate", Uint8Array.of(1, 2, 3)],
    ] as const) {
      const answer = await grpcCall("CountKeys", grpcFrame(message, 1), { "grpc-encoding": encoding });
      expect({ encoding, ...answer }).toEqual({
        encoding,
        status: grpc.status.INVALID_ARGUMENT,
        message: "Failed to decompress message",
      });
    }
    // A message that does decompress is served; an unknown encoding stays UNIMPLEMENTED.
    expect(await grpcCall("CountKeys", grpcFrame(gzipSync(new Uint8Array(0)), 1), { "grpc-encoding": "gzip" })).toEqual(
      {
        status: grpc.status.OK,
        message: "OK",
      },
    );
    const unknown = await grpcCall("CountKeys", grpcFrame(Uint8Array.of(1), 1), { "grpc-encoding": "x-unknown" });
    expect(unknown.status).toBe(grpc.status.UNIMPLEMENTED);
  });

  it("gRPC: a malformed grpc-timeout is INVALID_ARGUMENT", async () => {
    for (const timeout of ["abc", "100000000S", "-1S", "1X"]) {
      const answer = await grpcCall("CountKeys", grpcFrame(new Uint8Array(0)), { "grpc-timeout": timeout });
      expect({ timeout, status: answer.status }).toEqual({ timeout, status: grpc.status.INVALID_ARGUMENT });
    }
  });

  // grpc-js truncated the timeout to 32 bits: a deadline past ~24.8 days wrapped around and expired at once.
  it("gRPC: a deadline 30 days away does not expire at once", async () => {
    const { key, token } = await t.admin.unary("createKey", { name: "long deadline" });
    const request = toBinary(GetKeyUsageRequestSchema, create(GetKeyUsageRequestSchema, { id: key?.id }));
    for (let i = 0; i < 3; i++) {
      // A verification to flush first makes the call take a few milliseconds.
      await t.caller.unary("verifyKey", { token });
      const answer = await grpcCall("GetKeyUsage", grpcFrame(request), { "grpc-timeout": "720H" });
      expect(answer).toEqual({ status: grpc.status.OK, message: "OK" });
    }
  });
});
