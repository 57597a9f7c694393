import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  VerifiedKeySchema,
  type VerifyKeyRequest,
  VerifyKeyRequestSchema,
  VerifyKeyResponseSchema,
} from "../../../src/gen/keyward/v1/verify_pb.js";
import {
  decodeVerifyKeyRequest,
  encodeKeyFast,
  encodeVerifyKeyResponse,
} from "../../../src/service/transport/verify-codec.js";

/** A small seeded PRNG, so a failure replays. */
function prng(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = "abcXYZ019_:-./ é✓\u0000";

function randomString(rand: () => number, max: number, ascii: boolean): string {
  const length = Math.floor(rand() * max);
  let out = "";
  for (let i = 0; i < length; i++) {
    const pool = ascii ? ALPHABET.slice(0, 16) : ALPHABET;
    out += pool[Math.floor(rand() * pool.length)];
  }
  return out;
}

function randomRequest(rand: () => number) {
  const ascii = rand() < 0.8;
  const tags: Record<string, string> = {};
  for (let i = 0; i < Math.floor(rand() * 3); i++) tags[randomString(rand, 8, ascii)] = randomString(rand, 8, ascii);
  return create(VerifyKeyRequestSchema, {
    token: randomString(rand, 50, ascii),
    requiredPermission: Math.floor(rand() * 3),
    domainId: rand() < 0.5 ? "" : randomString(rand, 10, ascii),
    requiredScopes: Array.from({ length: Math.floor(rand() * 3) }, () => randomString(rand, 12, ascii)),
    context: rand() < 0.5 ? undefined : { ip: "10.0.0.1", method: "GET", path: randomString(rand, 20, ascii), tags },
    cost: rand() < 0.5 ? undefined : rand() < 0.9 ? BigInt(Math.floor(rand() * 1000)) : 2n ** 60n,
    ratelimits: Array.from({ length: Math.floor(rand() * 2) }, () => randomString(rand, 6, ascii)),
  });
}

function outcome(decode: () => VerifyKeyRequest): { ok: VerifyKeyRequest } | { error: true } {
  try {
    return { ok: decode() };
  } catch {
    return { error: true };
  }
}

describe("the VerifyKey codec", () => {
  it("decodes exactly as protobuf-es does, for generated requests and mutated bytes", () => {
    const rand = prng(7);
    for (let i = 0; i < 3000; i++) {
      const bytes = Buffer.from(toBinary(VerifyKeyRequestSchema, randomRequest(rand)));
      if (i % 3 === 1 && bytes.length > 0) bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
      const input = i % 3 === 2 ? bytes.subarray(0, Math.floor(rand() * bytes.length)) : bytes;
      const fast = outcome(() => decodeVerifyKeyRequest(input));
      const reference = outcome(() => fromBinary(VerifyKeyRequestSchema, input));
      expect(fast, `case ${i}`).toEqual(reference);
    }
  });

  it("encodes the same bytes as protobuf-es", () => {
    const responses = [
      {},
      { valid: false, code: 2 },
      {
        valid: true,
        code: 1,
        key: { id: "k", name: "Name ✓", permission: 1, scopes: ["a", "b"], claims: { n: 1, s: "x", l: [true, null] } },
      },
      { valid: true, code: 1, key: { id: "k", expireTime: { seconds: 1_800_000_000n, nanos: 5 } }, remaining: 0n },
      {
        valid: false,
        code: 11,
        ratelimit: {
          name: "per-second",
          limit: 3,
          remaining: 0n,
          resetTime: { seconds: 1_800_000_000n, nanos: 123_000_000 },
        },
      },
      { valid: true, code: 1, ratelimit: { name: "", limit: 0, remaining: 5n }, remaining: 2n ** 40n },
      { valid: true, code: 1, remaining: 2n ** 62n },
    ];
    for (const response of responses) {
      const expected = Buffer.from(
        toBinary(VerifyKeyResponseSchema, create(VerifyKeyResponseSchema, response as never)),
      );
      const fallback = (r: unknown) =>
        Buffer.from(toBinary(VerifyKeyResponseSchema, create(VerifyKeyResponseSchema, r as never)));
      const actual = encodeVerifyKeyResponse(response as never, fallback);
      expect(
        actual.toString("hex"),
        JSON.stringify(response, (_k, v) => (typeof v === "bigint" ? `${v}n` : v)),
      ).toBe(expected.toString("hex"));
    }
  });

  it("encodes generated keys to the same bytes as protobuf-es, without falling back unless claims are set", () => {
    const rand = prng(11);
    let fast = 0;
    for (let i = 0; i < 2000; i++) {
      const ascii = rand() < 0.5;
      const key = {
        id: rand() < 0.1 ? "" : randomString(rand, 40, ascii),
        name: randomString(rand, 300, ascii),
        permission: Math.floor(rand() * 3),
        domainId: rand() < 0.5 ? "" : randomString(rand, 30, ascii),
        subject: rand() < 0.5 ? "" : randomString(rand, 30, ascii),
        scopes: Array.from({ length: Math.floor(rand() * 4) }, () => randomString(rand, 20, ascii)),
        claims: rand() < 0.1 ? { plan: randomString(rand, 8, ascii), n: Math.floor(rand() * 100) } : undefined,
        expireTime:
          rand() < 0.5
            ? undefined
            : {
                seconds: rand() < 0.1 ? 0n : BigInt(Math.floor(rand() * 2 ** 40)),
                nanos: rand() < 0.3 ? 0 : Math.floor(rand() * 1e9),
              },
      };
      const expected = Buffer.from(toBinary(VerifiedKeySchema, create(VerifiedKeySchema, key)));
      const direct = encodeKeyFast(key);
      if (key.claims === undefined) {
        expect(direct, `case ${i}: the fast path must take a key without claims`).toBeDefined();
        fast++;
      }
      if (direct !== undefined) expect(direct.toString("hex"), `case ${i}`).toBe(expected.toString("hex"));
      const response = { valid: true, code: 1, key };
      const whole = encodeVerifyKeyResponse(response, () => {
        throw new Error("the response encoder fell back");
      });
      expect(whole.toString("hex"), `case ${i}`).toBe(
        Buffer.from(toBinary(VerifyKeyResponseSchema, create(VerifyKeyResponseSchema, response))).toString("hex"),
      );
    }
    expect(fast).toBeGreaterThan(1500);
  });
});
