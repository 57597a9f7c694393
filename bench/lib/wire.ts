/**
 * The few bytes of the wire the load generator needs, written by hand so that
 * the generator stays cheap: a VerifyKeyRequest encoder (token and an optional
 * short context), the gRPC length prefix, and a reader of VerifyKeyResponse's
 * `code` field. `checkEncoding` compares the encoder with protobuf-es once.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { VerifyKeyRequestSchema } from "../../src/gen/keyward/v1/verify_pb.js";
import { VERIFY_CODES as MODEL_VERIFY_CODES } from "../../src/service/keys/model.js";

export const VERIFY_PATH = "/keyward.v1.KeyService/VerifyKey";

/** VerifyCode numbers as the proto has them; index = enum value (0 is UNSPECIFIED). */
export const VERIFY_CODES = ["UNSPECIFIED", ...MODEL_VERIFY_CODES] as const;

/** What a calling service typically sends beside the token (kept in the request log). */
export const BENCH_CONTEXT = { ip: "10.1.2.3", method: "POST", path: "/v1/emails" } as const;

function varint(value: number): number[] {
  const out: number[] = [];
  let rest = value;
  while (rest > 0x7f) {
    out.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  out.push(rest);
  return out;
}

function lengthDelimited(field: number, bytes: Uint8Array | number[]): number[] {
  return [(field << 3) | 2, ...varint(bytes.length), ...bytes];
}

/** VerifyKeyRequest{token, context?} as protobuf bytes. */
export function encodeVerifyRequest(token: string, withContext: boolean): Buffer {
  const parts = lengthDelimited(1, Buffer.from(token, "utf8"));
  if (withContext) {
    const ctx = [
      ...lengthDelimited(1, Buffer.from(BENCH_CONTEXT.ip)),
      ...lengthDelimited(2, Buffer.from(BENCH_CONTEXT.method)),
      ...lengthDelimited(3, Buffer.from(BENCH_CONTEXT.path)),
    ];
    parts.push(...lengthDelimited(5, ctx));
  }
  return Buffer.from(parts);
}

/** A gRPC message frame: flag 0 (uncompressed), 4-byte big-endian length, message. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/** Throws if the hand encoder disagrees with protobuf-es for this token. */
export function checkEncoding(token: string, withContext: boolean): void {
  const expected = toBinary(
    VerifyKeyRequestSchema,
    create(VerifyKeyRequestSchema, {
      token,
      context: withContext ? { ...BENCH_CONTEXT, userAgent: "", tags: {} } : undefined,
    }),
  );
  const actual = encodeVerifyRequest(token, withContext);
  if (!Buffer.from(expected).equals(actual)) {
    throw new Error(
      `request encoder disagrees with protobuf-es: ${actual.toString("hex")} vs ${Buffer.from(expected).toString("hex")}`,
    );
  }
}

/**
 * The `code` (field 2) of a VerifyKeyResponse in `bytes[start, end)`; 0 when
 * absent, -1 when the bytes do not parse. Skips every other field.
 */
export function readVerifyCode(bytes: Uint8Array, start: number, end: number): number {
  let i = start;
  let code = 0;
  while (i < end) {
    let tag = 0;
    let shift = 0;
    let b: number;
    do {
      if (i >= end) return -1;
      b = bytes[i++] as number;
      tag |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80 && shift < 35);
    const field = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) {
      let value = 0;
      let mul = 1;
      do {
        if (i >= end) return -1;
        b = bytes[i++] as number;
        value += (b & 0x7f) * mul;
        mul *= 128;
      } while (b & 0x80);
      if (field === 2) code = value;
    } else if (wire === 2) {
      let len = 0;
      let mul = 1;
      do {
        if (i >= end) return -1;
        b = bytes[i++] as number;
        len += (b & 0x7f) * mul;
        mul *= 128;
      } while (b & 0x80);
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else return -1;
  }
  return i === end ? code : -1;
}
