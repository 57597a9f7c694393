/**
 * Seeded input generators for the fuzz suite. Everything here is a pure
 * function of a Random, so a case is replayed from (seed, campaign, index)
 * alone: see caseRandom().
 *
 * Three shapes of input: protobuf bodies for the gRPC port (a random message
 * of the method's type, then mutated at the wire level: truncated, bit
 * flips, wrong wire types, extreme varints, invalid UTF-8, huge repeated
 * fields, deep Structs), JSON bodies for the Connect port (the message's
 * JSON form, then mutated as a tree and as text), and JSON inputs for the
 * gateway's tRPC procedures (from each procedure's zod input schema, via
 * z.toJSONSchema, then mutated the same way).
 */
import {
  create,
  type DescField,
  type DescMessage,
  type JsonValue,
  ScalarType,
  toBinary,
  toJson,
} from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import { UpdateKeyRequestSchema } from "../../../src/gen/keyward/v1/key_service_pb.js";

// ---------------------------------------------------------------- randomness

/** A small seeded PRNG (sfc32), with the helpers the generators use. */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** An integer in [min, max]. */
  range(min: number, max: number): number;
  chance(p: number): boolean;
  pick<T>(list: readonly T[]): T;
  bytes(n: number): Uint8Array;
}

export function createRandom(seed: number): Random {
  // sfc32 state from splitmix32 of the seed, so nearby seeds diverge at once.
  let s = seed >>> 0;
  const split = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  const u32 = () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  const next = () => u32() / 4294967296;
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    range: (min, max) => min + int(max - min + 1),
    chance: (p) => next() < p,
    pick: <T>(list: readonly T[]) => list[int(list.length)] as T,
    bytes(n) {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = u32() & 0xff;
      return out;
    },
  };
}

/** The Random of one case: a function of the run's seed, the campaign's name and the case's index only. */
export function caseRandom(seed: number, campaign: string, index: number): Random {
  let h = 2166136261 ^ seed;
  for (const ch of `${campaign}#${index}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return createRandom(h >>> 0);
}

/** FUZZ_SEED from the environment (the replay), else a fresh one. */
export function fuzzSeed(): number {
  const text = process.env.FUZZ_SEED;
  if (text !== undefined && text !== "") {
    const seed = Number(text);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
      throw new Error(`FUZZ_SEED must be 0-4294967295: ${text}`);
    return seed;
  }
  return Math.floor(Math.random() * 0xffffffff);
}

/** FUZZ_CASES scaled by a campaign's share, or the campaign's default for `npm test`. */
export function fuzzCases(share: number, fallback: number): number {
  const total = Number(process.env.FUZZ_CASES ?? "");
  return Number.isInteger(total) && total > 0 ? Math.max(1, Math.round(total * share)) : fallback;
}

// ---------------------------------------------------------------- values

/** Real ids and tokens of the server under test, mixed into inputs so that cases reach past "not found". */
export interface Pools {
  ids: string[];
  tokens: string[];
}

const UNICODE = [
  "é",
  "日本",
  "🔑",
  "\u0000",
  "\u202e",
  "\ud800",
  "\udfff",
  "\u0085",
  "\ufeff",
  "\t",
  "\r\n",
  '"',
  "\\",
  "'",
];
const WORDS = ["read:users", "console:admin", "console:member", "*", "a", "full_access", "sending_access", "null"];
/** UpdateKey's mask paths (its request's fields, but id and the mask), and some that are not. */
const FIELD_PATHS = [
  ...UpdateKeyRequestSchema.fields.map((f) => f.name).filter((name) => name !== "id" && name !== "update_mask"),
  "token",
  "id",
  "",
  "name.x",
  "NAME",
];
const CIDRS = [
  "10.0.0.0/8",
  "::1/128",
  "192.0.2.1",
  "0.0.0.0/0",
  "10.0.0.0/33",
  "fe80::/10",
  "1.2.3.4/-1",
  "::/0",
  "a/b",
];
const IPS = ["127.0.0.1", "::1", "10.1.2.3", "256.0.0.1", "::ffff:10.0.0.1", "", "1.2.3", "fe80::1%eth0"];

export function randomUuid(rng: Random): string {
  const hex = Array.from(rng.bytes(16), (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export function randomString(rng: Random, pools: Pools): string {
  switch (rng.int(14)) {
    case 0:
      return "";
    case 1:
      return rng.pick(pools.ids.length > 0 ? pools.ids : [randomUuid(rng)]);
    case 2: {
      const token = rng.pick(pools.tokens.length > 0 ? pools.tokens : ["kw_x"]);
      // The token, or one character changed, cut or doubled.
      return rng.pick([token, `${token.slice(0, -1)}A`, token.slice(0, rng.int(token.length)), token + token]);
    }
    case 3:
      return randomUuid(rng);
    case 4:
      return rng.pick(WORDS);
    case 5:
      return rng.pick(FIELD_PATHS);
    case 6:
      return rng.pick(CIDRS);
    case 7:
      return rng.pick(IPS);
    case 8:
      return "x".repeat(rng.pick([63, 64, 65, 100, 101, 128, 129, 254, 255, 500, 501, 1000, 1001, 1025, 5000, 70_000]));
    case 9:
      return Array.from({ length: rng.range(1, 12) }, () => rng.pick(UNICODE)).join("");
    case 10:
      return String.fromCharCode(...Array.from({ length: rng.range(1, 40) }, () => rng.int(0x10000)));
    case 11:
      return `kw_${Array.from({ length: 38 }, () => rng.pick([..."ABCabc0123xyzXYZ"])).join("")}`;
    case 12:
      return rng.pick(["2030-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1970-01-01", "now"]);
    default:
      return `name ${rng.int(1000)}`;
  }
}

const INT32_EDGES = [0, 1, -1, 2, 20, 50, 51, 100, 101, 1000, 86_400, 2_592_000, 2_592_001, 2 ** 31 - 1, -(2 ** 31)];
const INT64_EDGES = [
  0n,
  1n,
  -1n,
  1_000_000_000_000_000n,
  1_000_000_000_000_001n,
  2n ** 53n,
  2n ** 53n + 1n,
  2n ** 63n - 1n,
  -(2n ** 63n),
];
const UINT64_EDGES = [0n, 1n, 2n ** 53n + 1n, 2n ** 64n - 1n];
const DOUBLE_EDGES = [
  0,
  -0,
  1.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  1e308,
  5e-324,
  2 ** 53 + 1,
];

function scalarValue(rng: Random, type: ScalarType, pools: Pools): unknown {
  switch (type) {
    case ScalarType.STRING:
      return randomString(rng, pools);
    case ScalarType.BYTES:
      return rng.bytes(rng.int(40));
    case ScalarType.BOOL:
      return rng.chance(0.5);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return type === ScalarType.FLOAT ? rng.pick([0, 1.5, -2, Number.NaN]) : rng.pick(DOUBLE_EDGES);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return rng.chance(0.7) ? rng.pick(INT64_EDGES) : BigInt(rng.range(-1000, 100_000));
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return rng.pick(UINT64_EDGES);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return rng.pick([0, 1, 100, 2 ** 32 - 1]);
    default:
      return rng.chance(0.7) ? rng.pick(INT32_EDGES) : rng.range(-100, 100_000);
  }
}

function enumValue(rng: Random, field: { enum: { values: readonly { number: number }[] } }): number {
  if (rng.chance(0.8)) return rng.pick(field.enum.values).number;
  return rng.pick([-1, 99, 2 ** 31 - 1, -(2 ** 31)]);
}

/** A JSON value for google.protobuf.Struct: nesting, NaN and infinities (the binary wire carries them). */
export function randomJson(rng: Random, depth = 0): JsonValue {
  const leaf = depth > 4 || rng.chance(0.4);
  if (leaf) {
    switch (rng.int(6)) {
      case 0:
        return null;
      case 1:
        return rng.chance(0.5);
      case 2:
        return rng.pick(DOUBLE_EDGES);
      case 3:
        return rng.range(-1000, 1000);
      case 4:
        return rng.pick(["", "alice@example.com", "x".repeat(5000), "\u0000", "🔑"]);
      default:
        return `v${rng.int(100)}`;
    }
  }
  if (rng.chance(0.4)) return Array.from({ length: rng.int(5) }, () => randomJson(rng, depth + 1));
  const out: Record<string, JsonValue> = {};
  for (let i = rng.int(5); i > 0; i--)
    out[rng.pick(["email", "a", "", "role", "\u0000", "x".repeat(300)])] = randomJson(rng, depth + 1);
  return out;
}

function randomJsonObject(rng: Random): Record<string, JsonValue> {
  const value = randomJson(rng, 1);
  return value !== null && typeof value === "object" && !Array.isArray(value) ? value : { email: "a@example.com" };
}

function messageFieldValue(rng: Random, message: DescMessage, pools: Pools, depth: number): unknown {
  switch (message.typeName) {
    case "google.protobuf.Struct":
      return randomJsonObject(rng);
    case "google.protobuf.Timestamp":
      return {
        seconds: rng.pick([
          0n,
          1_700_000_000n,
          4_102_444_800n,
          -62_135_596_801n,
          253_402_300_800n,
          2n ** 63n - 1n,
          -(2n ** 63n),
        ]),
        nanos: rng.pick([0, 999_999_999, 1_000_000_000, -1, 2 ** 31 - 1]),
      };
    case "google.protobuf.FieldMask":
      return { paths: Array.from({ length: rng.int(4) }, () => rng.pick(FIELD_PATHS)) };
    default:
      return depth > 3 ? {} : randomInit(rng, message, pools, depth + 1);
  }
}

function listLength(rng: Random): number {
  return rng.chance(0.9) ? rng.int(4) : rng.pick([10, 50, 51, 100, 101, 1000]);
}

function fieldValue(rng: Random, field: DescField, pools: Pools, depth: number): unknown {
  switch (field.fieldKind) {
    case "scalar":
      return scalarValue(rng, field.scalar, pools);
    case "enum":
      return enumValue(rng, field);
    case "message":
      return messageFieldValue(rng, field.message, pools, depth);
    case "list":
      return Array.from({ length: listLength(rng) }, () => {
        if (field.listKind === "scalar") return scalarValue(rng, field.scalar, pools);
        if (field.listKind === "enum") return enumValue(rng, field);
        return messageFieldValue(rng, field.message, pools, depth);
      });
    case "map": {
      const out: Record<string, unknown> = {};
      for (let i = listLength(rng); i > 0; i--) {
        const key = String(scalarValue(rng, field.mapKey, pools));
        if (field.mapKind === "scalar") out[key] = scalarValue(rng, field.scalar, pools);
        else if (field.mapKind === "enum") out[key] = enumValue(rng, field);
        else out[key] = messageFieldValue(rng, field.message, pools, depth);
      }
      return out;
    }
  }
}

const HOUR = 3600n;
const nowSeconds = () => BigInt(Math.floor(Date.now() / 1000));

/**
 * A value the contract accepts for a field of this name, so that a message
 * made of them reaches the domain (and the store) rather than stopping at
 * validation; undefined for a name not listed here.
 */
function plausibleValue(rng: Random, field: DescField, pools: Pools): unknown {
  const id = () => (pools.ids.length > 0 ? rng.pick(pools.ids) : randomUuid(rng));
  const timestamp = (offsetHours: bigint) => ({
    seconds: nowSeconds() + offsetHours * HOUR,
    nanos: rng.int(1_000_000_000),
  });
  switch (field.localName) {
    case "id":
    case "keyId":
      return id();
    case "token":
      return rng.pick(pools.tokens.length > 0 ? pools.tokens : ["kw_x"]);
    case "name":
      return `key ${rng.int(1000)}`;
    case "description":
    case "reason":
    case "error":
      return rng.pick(["", "for the billing service", "léger 🔑"]);
    case "permission":
    case "requiredPermission":
      return rng.pick([0, 1, 2]);
    case "domainId":
      return rng.pick(["", "example.com"]);
    case "subject":
      return rng.pick(["", "user_1", "org_2"]);
    case "scopes":
    case "requiredScopes":
      return rng.pick([[], ["read:users"], ["read:users", "write:*"]]);
    case "scope":
      return rng.pick(["", "read:users"]);
    case "claims":
      return rng.pick([{ email: "a@example.com" }, { tier: 2, tags: ["x"] }]);
    case "expiresInSeconds":
      return rng.pick([60, 3600, 86_400]);
    case "enabled":
      return rng.chance(0.8);
    case "allowedCidrs":
      return rng.pick([[], ["10.0.0.0/8"], ["::1/128", "192.0.2.0/24"]]);
    case "ratelimits":
      return field.fieldKind === "list" && field.listKind === "message"
        ? rng.pick([[], [{ name: "burst", limit: 100, durationSeconds: 60 }]])
        : rng.pick([[], ["burst"]]);
    case "remaining":
      return rng.pick([undefined, 100n, 0n]);
    case "refill":
      return rng.pick([undefined, { interval: 1, amount: 10n }, { interval: 2, amount: 5n, dayOfMonth: 31 }]);
    case "gracePeriodSeconds":
      return rng.pick([0, 60, 3600]);
    case "updateMask":
      return {
        paths: [rng.pick(["name", "description", "enabled", "scopes", "claims", "allowed_cidrs", "expire_time"])],
      };
    case "expireTime":
      return timestamp(24n);
    case "fromTime":
      return rng.chance(0.5) ? undefined : timestamp(-48n);
    case "toTime":
      return rng.chance(0.5) ? undefined : timestamp(1n);
    case "context":
      return {
        ip: rng.pick(["10.1.2.3", "::1", ""]),
        method: "GET",
        path: "/v1/things",
        userAgent: "fuzz",
        tags: { via: "fuzz" },
      };
    case "cost":
      return rng.pick([undefined, 0n, 1n, 5n]);
    case "pageSize":
      return rng.pick([0, 1, 20, 100]);
    case "pageToken":
      return "";
    case "status":
      return rng.range(0, 5);
    case "state":
      return rng.range(0, 4);
    case "code":
      return rng.range(0, 12);
    case "granularity":
      return rng.range(0, 2);
    case "nameContains":
      return rng.pick(["", "key", "ü"]);
    case "actor":
      return rng.pick(["", "fuzz@example.com"]);
    case "action":
      return rng.pick(["", "key.create", "key.update"]);
    case "resource":
      return rng.range(1, 2);
    case "filters":
      return rng.pick([{}, { subject: "user_1" }, { keyId: id(), code: 1 }]);
    case "rowCount":
    case "byteSize":
      return BigInt(rng.int(10_000));
    case "attempts":
      return rng.int(5);
    case "batchSize":
      return rng.pick([0, 1, 500]);
    case "inactiveDays":
    case "autoRevokeDays":
    case "logRetentionDays":
    case "rotationDays":
      return rng.pick([0, 1, 30, 90]);
    default:
      return undefined;
  }
}

/**
 * A random init object of `schema`. "wild": each field set or not, with
 * values at and beyond the contract's limits. "plausible": values the
 * contract accepts, so the call reaches the domain. "one-wild": plausible
 * but for one field.
 */
export function randomInit(
  rng: Random,
  schema: DescMessage,
  pools: Pools,
  depth = 0,
  mode: "wild" | "plausible" | "one-wild" = "wild",
): Record<string, unknown> {
  const init: Record<string, unknown> = {};
  const wildIndex = mode === "one-wild" ? rng.int(Math.max(1, schema.fields.length)) : -1;
  schema.fields.forEach((field, i) => {
    const wild = mode === "wild" || i === wildIndex;
    if (wild) {
      if (rng.chance(mode === "wild" ? 0.55 : 1)) init[field.localName] = fieldValue(rng, field, pools, depth);
      return;
    }
    if (!rng.chance(0.8)) return;
    const value = plausibleValue(rng, field, pools);
    if (value !== undefined) init[field.localName] = value;
  });
  return init;
}

function initMode(rng: Random): "wild" | "plausible" | "one-wild" {
  return rng.pick(["wild", "plausible", "plausible", "one-wild", "one-wild", "one-wild"] as const);
}

/** A random message of `schema`, encoded; undefined when protobuf-es refuses to encode the values. */
export function encodeRandom(rng: Random, schema: DescMessage, pools: Pools): Uint8Array | undefined {
  try {
    return toBinary(schema, create(schema, randomInit(rng, schema, pools, 0, initMode(rng)) as never));
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- protobuf mutations

export interface Case<T> {
  /** What the mutation did, for the failure report. */
  kind: string;
  body: T;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function repeat(bytes: Uint8Array, times: number): Uint8Array {
  const out = new Uint8Array(bytes.length * times);
  for (let i = 0; i < times; i++) out.set(bytes, i * bytes.length);
  return out;
}

function varint(value: bigint): Uint8Array {
  const out: number[] = [];
  let v = BigInt.asUintN(64, value);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

function varintSize(value: number): number {
  let size = 1;
  for (let v = value; v >= 0x80; v >>>= 7) size++;
  return size;
}

function tag(field: number, wire: number): Uint8Array {
  return varint(BigInt((field << 3) | wire) & 0xffffffffn);
}

function lengthDelimited(field: number, bytes: Uint8Array): Uint8Array {
  return concat(tag(field, WireType.LengthDelimited), varint(BigInt(bytes.length)), bytes);
}

const INVALID_UTF8 = [
  Uint8Array.of(0xff),
  Uint8Array.of(0xc0, 0x80),
  Uint8Array.of(0xed, 0xa0, 0x80),
  Uint8Array.of(0xe2, 0x82),
  Uint8Array.of(0xf4, 0x90, 0x80, 0x80),
  Uint8Array.of(0x6b, 0x77, 0x5f, 0xfe, 0xfe),
];

/** A google.protobuf.Struct nested `depth` levels: {"a": {"a": ...}} (or {"a": [{"a": [...]}]}). */
export function deepStruct(depth: number, viaList = false): Uint8Array {
  // Each level is a chain of length-delimited wrappers, each with what comes
  // before its tag inside the parent. Only prefixes: the bytes are the
  // prefixes of every level, outermost first, written once (concatenating
  // level by level would copy the body once per level).
  const key = Uint8Array.of(0x0a, 0x01, 0x61); // MapEntry.key = "a"
  const none = new Uint8Array(0);
  // Struct.fields(1) -> entry: key, value(2) -> Value.struct_value(5) | Value.list_value(6) -> values(1) -> struct_value(5)
  const level: Array<[Uint8Array, number]> = viaList
    ? [
        [none, 1],
        [key, 2],
        [none, 6],
        [none, 1],
        [none, 5],
      ]
    : [
        [none, 1],
        [key, 2],
        [none, 5],
      ];
  const lengths: number[] = []; // the content length of each wrapper, innermost first
  let length = 0;
  for (let d = 0; d < depth; d++) {
    for (let w = level.length - 1; w >= 0; w--) {
      lengths.push(length);
      length += (level[w] as [Uint8Array, number])[0].length + 1 + varintSize(length);
    }
  }
  const out = new Uint8Array(length);
  let at = 0;
  let i = lengths.length - 1;
  for (let d = 0; d < depth; d++) {
    for (const [pre, field] of level) {
      out.set(pre, at);
      at += pre.length;
      out[at++] = (field << 3) | WireType.LengthDelimited;
      let size = lengths[i--] as number;
      while (size >= 0x80) {
        out[at++] = (size & 0x7f) | 0x80;
        size >>>= 7;
      }
      out[at++] = size;
    }
  }
  return out;
}

/** A field of `schema` (or a number it does not use) with a value of a random, often wrong, wire type. */
function strangeField(rng: Random, schema: DescMessage): Uint8Array {
  const number =
    rng.chance(0.8) && schema.fields.length > 0
      ? rng.pick(schema.fields).number
      : rng.pick([0, 99, 536_870_911, 19_000]);
  switch (rng.int(9)) {
    case 0: // extreme varints: the largest, an over-long 11-byte one, an unterminated one
      return concat(
        tag(number, WireType.Varint),
        rng.pick([
          varint(2n ** 64n - 1n),
          varint(2n ** 63n),
          Uint8Array.of(...Array(10).fill(0xff), 0x01),
          Uint8Array.of(0x80, 0x80),
        ]),
      );
    case 1:
      return concat(tag(number, WireType.Bit32), rng.bytes(4));
    case 2:
      return concat(tag(number, WireType.Bit64), rng.bytes(8));
    case 3: // a length beyond the end, or absurd
      return concat(
        tag(number, WireType.LengthDelimited),
        varint(rng.pick([5n, 1_000_000n, 2n ** 32n - 1n, 2n ** 63n])),
        rng.bytes(2),
      );
    case 4:
      return lengthDelimited(number, rng.pick(INVALID_UTF8));
    case 5: // groups, and the two wire types that do not exist
      return concat(tag(number, rng.pick([WireType.StartGroup, WireType.EndGroup, 6, 7])), rng.bytes(rng.int(6)));
    case 6:
      return lengthDelimited(number, rng.bytes(rng.int(30)));
    case 7: // a field number 0 or beyond 2^29
      return concat(varint(rng.pick([0n, 7n, 2n ** 32n + 8n])), rng.bytes(3));
    default:
      return concat(tag(number, WireType.Varint), varint(BigInt(rng.pick(INT32_EDGES))));
  }
}

/** The field number of a Struct-typed (claims) field of `schema`, if any. */
function structField(schema: DescMessage): number | undefined {
  return schema.fields.find((f) => f.fieldKind === "message" && f.message.typeName === "google.protobuf.Struct")
    ?.number;
}

function repeatedStringField(schema: DescMessage): number | undefined {
  return schema.fields.find((f) => f.fieldKind === "list" && f.listKind === "scalar" && f.scalar === ScalarType.STRING)
    ?.number;
}

/** The largest body the grpc port accepts is 1 MiB; the oversized cases go beyond it. */
export const GRPC_MAX_BYTES = 1024 * 1024;

/**
 * A request body for a method taking `schema`: a random message, usually
 * mutated. `allowOversized` adds bodies beyond 1 MiB (slow: keep them rare).
 */
export function protobufBody(rng: Random, schema: DescMessage, pools: Pools, allowOversized = false): Case<Uint8Array> {
  const base = encodeRandom(rng, schema, pools) ?? new Uint8Array(0);
  const roll = rng.int(allowOversized ? 16 : 15);
  switch (roll) {
    case 0:
    case 1:
    case 2:
    case 13:
      return { kind: "random message", body: base };
    case 3:
      return { kind: "truncated", body: base.subarray(0, rng.int(Math.max(1, base.length))) };
    case 4: {
      const out = Uint8Array.from(base.length > 0 ? base : [0]);
      for (let i = rng.range(1, 8); i > 0; i--) {
        const at = rng.int(out.length);
        out[at] = (out[at] as number) ^ (1 << rng.int(8));
      }
      return { kind: "bit flips", body: out };
    }
    case 5:
    case 6:
      return { kind: "strange field", body: concat(base, strangeField(rng, schema)) };
    case 7: {
      const at = rng.int(base.length + 1);
      return {
        kind: "inserted bytes",
        body: concat(base.subarray(0, at), rng.bytes(rng.range(1, 16)), base.subarray(at)),
      };
    }
    case 8:
      return { kind: "random bytes", body: rng.bytes(rng.int(200)) };
    case 9: {
      const number = repeatedStringField(schema);
      const count = rng.pick([51, 1000, 20_000, 100_000]);
      if (number === undefined) return { kind: "repeated message", body: repeat(base, 200) };
      const one = lengthDelimited(number, Uint8Array.of(0x61, 0x3a, 0x62));
      return { kind: `repeated field x${count}`, body: concat(base, repeat(one, count)) };
    }
    case 10: {
      const number = structField(schema);
      // protobuf-es stops at 100 levels (maximum recursion depth); past it only the size grows.
      const depth = rng.pick([32, 33, 64, 99, 101, 1000, 20_000]);
      if (number === undefined) return { kind: "strange field", body: concat(base, strangeField(rng, schema)) };
      return {
        kind: `claims nested ${depth}`,
        body: concat(base, lengthDelimited(number, deepStruct(depth, rng.chance(0.5)))),
      };
    }
    case 11: {
      const field = schema.fields.find((f) => f.fieldKind === "scalar" && f.scalar === ScalarType.STRING);
      if (field === undefined) return { kind: "empty", body: new Uint8Array(0) };
      return { kind: "invalid UTF-8", body: concat(base, lengthDelimited(field.number, rng.pick(INVALID_UTF8))) };
    }
    case 12: {
      // Every field at once with a wrong wire type.
      return {
        kind: "all fields wrong",
        body: concat(...schema.fields.map((f) => concat(tag(f.number, WireType.Bit32), rng.bytes(4)))),
      };
    }
    case 14:
      return { kind: "doubled", body: concat(base, base, strangeField(rng, schema)) };
    default: {
      const number = repeatedStringField(schema) ?? schema.fields[0]?.number ?? 1;
      return {
        kind: "oversized",
        body: concat(base, lengthDelimited(number, new Uint8Array(GRPC_MAX_BYTES + 16).fill(0x61))),
      };
    }
  }
}

// ---------------------------------------------------------------- JSON mutations

/** A value of the wrong type, or an extreme one, for any JSON node. */
export function strangeJson(rng: Random, pools: Pools): JsonValue {
  switch (rng.int(12)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([
        "NaN",
        "Infinity",
        "-Infinity",
        "1e400",
        "0x10",
        "-0",
        "9223372036854775808",
        "1.5",
        " 1",
        "18446744073709551616",
      ]);
    case 3:
      return rng.pick([1e308, -1e308, 2 ** 53 + 2, -1, 1.5, 0, 2 ** 31, -(2 ** 31) - 1]);
    case 4:
      return [];
    case 5:
      return {};
    case 6:
      return rng.pick([
        "0000-01-01T00:00:00Z",
        "10000-01-01T00:00:00Z",
        "2024-13-45T99:99:99Z",
        "1970-01-01T00:00:00.1234567891Z",
        "2024-02-30T00:00:00+25:00",
        "2030-01-01T00:00:00Z",
      ]);
    case 7:
      return rng.pick(["PERMISSION_FULL_ACCESS", "KEY_STATUS_REVOKED", "PERMISSION_NOPE", "full_access", "", "99"]);
    case 8:
      return randomJson(rng);
    case 9:
      return Array.from({ length: rng.pick([51, 1000, 10_000]) }, (_, i) => `s${i}`);
    case 10:
      return deepJson(rng.pick([33, 1000, 10_000]));
    default:
      return randomString(rng, pools);
  }
}

/**
 * Nested arrays and objects, `depth` deep. JSON.stringify would overflow the
 * stack on it, so the tree holds a placeholder that jsonText() writes out.
 */
export function deepJson(depth: number): JsonValue {
  return `${DEEP_MARK}${depth}${DEEP_MARK}`;
}

const DEEP_MARK = "\u0000deep\u0000";
const DEEP_PLACEHOLDER = /"\\u0000deep\\u0000(\d+)\\u0000deep\\u0000"/g;

/** JSON.stringify, with every deepJson() placeholder written out as that many levels. */
export function jsonText(value: JsonValue): string {
  const text = JSON.stringify(value) ?? "null";
  return text.replace(DEEP_PLACEHOLDER, (_, depth: string) => {
    const n = Number(depth);
    const open = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? "[" : '{"a":')).join("");
    const close = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? "]" : "}"))
      .reverse()
      .join("");
    return `${open}1${close}`;
  });
}

/** Replaces, adds or removes one node somewhere in the tree; returns the new root. */
export function mutateJson(rng: Random, root: JsonValue, pools: Pools): JsonValue {
  if (root === null || typeof root !== "object" || rng.chance(0.15)) return strangeJson(rng, pools);
  const copy: JsonValue = Array.isArray(root) ? [...root] : { ...root };
  const keys = Array.isArray(copy) ? copy.map((_, i) => i) : Object.keys(copy);
  const action = keys.length === 0 ? 0 : rng.int(4);
  if (action === 0) {
    const key = rng.pick(["unknownField", "name", "id", "__proto__", "constructor", "token", "claims", ""]);
    if (Array.isArray(copy)) copy.push(strangeJson(rng, pools));
    else copy[key] = strangeJson(rng, pools);
    return copy;
  }
  const key = rng.pick(keys as (string | number)[]);
  const record = copy as Record<string | number, JsonValue>;
  if (action === 1 && !Array.isArray(copy)) {
    delete record[key];
    return copy;
  }
  record[key] = action === 2 ? strangeJson(rng, pools) : mutateJson(rng, record[key] as JsonValue, pools);
  return copy;
}

/** Text-level damage: cut, stray characters, invalid UTF-8, a BOM, duplicate keys. */
export function mutateText(rng: Random, text: string): Uint8Array {
  const bytes = Buffer.from(text, "utf8");
  switch (rng.int(7)) {
    case 0:
      return bytes.subarray(0, rng.int(bytes.length + 1));
    case 1: {
      const at = rng.int(bytes.length + 1);
      return Buffer.concat([
        bytes.subarray(0, at),
        Buffer.from(rng.pick(["{", "}", "]", ",", '"', "\\", "\u0000", "\\u", "\\ud800"])),
        bytes.subarray(at),
      ]);
    }
    case 2: {
      const at = rng.int(bytes.length + 1);
      return Buffer.concat([bytes.subarray(0, at), Buffer.from(rng.pick(INVALID_UTF8)), bytes.subarray(at)]);
    }
    case 3:
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]);
    case 4:
      return text.startsWith("{") && text.length > 2 ? Buffer.from(`{"name":"a","name":1,${text.slice(1)}`) : bytes;
    case 5:
      return Buffer.from(
        rng.pick(["", "null", "[]", "1", '"x"', "{}", "{{}", "[".repeat(100_000), '{"a":'.repeat(10_000)]),
      );
    default:
      return Buffer.from(rng.bytes(rng.int(100)));
  }
}

/** A Connect JSON body for a method taking `schema`: the message's JSON form, mutated. */
export function connectJsonBody(rng: Random, schema: DescMessage, pools: Pools): Case<Uint8Array> {
  let json: JsonValue;
  try {
    json = toJson(schema, create(schema, randomInit(rng, schema, pools, 0, initMode(rng)) as never));
  } catch {
    json = {};
  }
  const roll = rng.int(10);
  if (roll < 4) return { kind: "message JSON", body: Buffer.from(JSON.stringify(json)) };
  if (roll < 8) {
    let mutated = json;
    for (let i = rng.range(1, 3); i > 0; i--) mutated = mutateJson(rng, mutated, pools);
    return { kind: "mutated JSON", body: Buffer.from(jsonText(mutated)) };
  }
  return { kind: "damaged text", body: mutateText(rng, JSON.stringify(json)) };
}

// ---------------------------------------------------------------- tRPC inputs (from JSON Schema)

/** The subset of JSON Schema that z.toJSONSchema writes for the gateway's inputs. */
export interface JsonSchema {
  type?: string | string[];
  enum?: JsonValue[];
  const?: JsonValue;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  maxItems?: number;
  maxLength?: number;
}

/** A value that fits `schema` more often than not, so that cases get past validation to the service. */
export function fromJsonSchema(rng: Random, schema: JsonSchema | undefined, pools: Pools, depth = 0): JsonValue {
  if (schema === undefined || depth > 6) return strangeJson(rng, pools);
  const choices = schema.anyOf ?? schema.oneOf;
  if (choices !== undefined && choices.length > 0) return fromJsonSchema(rng, rng.pick(choices), pools, depth + 1);
  if (schema.const !== undefined) return schema.const;
  if (schema.enum !== undefined && schema.enum.length > 0) return rng.pick(schema.enum);
  const type = Array.isArray(schema.type) ? rng.pick(schema.type) : schema.type;
  switch (type) {
    case "object": {
      const out: Record<string, JsonValue> = {};
      const required = new Set(schema.required ?? []);
      for (const [name, property] of Object.entries(schema.properties ?? {})) {
        if (required.has(name) || rng.chance(0.5)) out[name] = fromJsonSchema(rng, property, pools, depth + 1);
      }
      if (schema.properties === undefined && rng.chance(0.7)) return randomJsonObject(rng);
      return out;
    }
    case "array":
      return Array.from({ length: listLength(rng) }, () => fromJsonSchema(rng, schema.items, pools, depth + 1));
    case "integer":
    case "number": {
      const min = schema.minimum ?? -1000;
      const max = schema.maximum ?? 1_000_000;
      return rng.chance(0.7)
        ? rng.range(Math.max(min, -1e6), Math.min(max, 1e6))
        : rng.pick([min, max, min - 1, max + 1, 0.5]);
    }
    case "boolean":
      return rng.chance(0.5);
    case "null":
      return null;
    case "string":
      if (schema.format === "date-time") {
        return rng.pick([
          "2030-01-01T00:00:00Z",
          "2020-01-01T00:00:00.000+02:00",
          "0001-01-01T00:00:00Z",
          "9999-12-31T23:59:59Z",
        ]);
      }
      if (schema.pattern?.includes("[0-9a-f]{8}"))
        return rng.pick(pools.ids.length > 0 && rng.chance(0.7) ? pools.ids : [randomUuid(rng)]);
      return randomString(rng, pools);
    default:
      return randomJson(rng);
  }
}

/** A tRPC input for a procedure with this input JSON Schema: fitting, mutated, or damaged text. */
export function trpcInputBody(rng: Random, schema: JsonSchema | undefined, pools: Pools): Case<string | Uint8Array> {
  const fitting = schema === undefined ? null : fromJsonSchema(rng, schema, pools);
  const roll = rng.int(10);
  if (roll < 3) return { kind: "fitting input", body: JSON.stringify(fitting) };
  if (roll < 8) {
    let mutated = fitting;
    for (let i = rng.range(1, 3); i > 0; i--) mutated = mutateJson(rng, mutated, pools);
    return { kind: "mutated input", body: jsonText(mutated) };
  }
  return { kind: "damaged text", body: mutateText(rng, JSON.stringify(fitting)) };
}

/** Hex of the first bytes of a body, for failure reports. */
export function preview(body: string | Uint8Array, max = 160): string {
  if (typeof body === "string")
    return JSON.stringify(body.length > max ? `${body.slice(0, max)}…(${body.length} chars)` : body);
  const hex = Buffer.from(body.subarray(0, max)).toString("hex");
  return body.length > max ? `${hex}…(${body.length} bytes)` : hex;
}
