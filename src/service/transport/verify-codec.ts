import type { MessageInitShape } from "@bufbuild/protobuf";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  VerifiedKeySchema,
  type VerifyContext,
  type VerifyKeyRequest,
  VerifyKeyRequestSchema,
  type VerifyKeyResponseSchema,
} from "../../gen/keyward/v1/verify_pb.js";

/**
 * A hand-written codec for the two VerifyKey messages, the only ones on the
 * hot path: protobuf-es's reflective fromBinary/toBinary cost ~8 µs and
 * ~13 µs a call here, more than the verification itself.
 *
 * The decoder handles the common shape (known fields, right wire types,
 * ASCII strings, small varints) and returns undefined for anything else, so
 * the caller falls back to fromBinary and every unusual input gets exactly
 * protobuf-es's semantics (UTF-8 validation, merging, bigint ranges).
 * The encoder writes the response directly; the `key` sub-message is
 * encoded once per VerifiedKey object and cached (the handler reuses one
 * object per stored record version).
 */

const REQUEST_TYPE = "keyward.v1.VerifyKeyRequest";
const CONTEXT_TYPE = "keyward.v1.VerifyContext";

class Unusual extends Error {}
const UNUSUAL = new Unusual();

class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  /** A varint below 2^31 (tags, enums, lengths); larger ones are unusual. */
  small(): number {
    const buf = this.buf;
    let result = 0;
    for (let shift = 0; shift < 31; shift += 7) {
      if (this.pos >= this.end) throw UNUSUAL;
      const byte = buf[this.pos++] as number;
      result |= (byte & 0x7f) << shift;
      if (byte < 0x80) return result;
    }
    throw UNUSUAL;
  }

  /** A non-negative varint below 2^49, as a number. */
  uint(): number {
    const buf = this.buf;
    let result = 0;
    let factor = 1;
    for (let i = 0; i < 7; i++) {
      if (this.pos >= this.end) throw UNUSUAL;
      const byte = buf[this.pos++] as number;
      result += (byte & 0x7f) * factor;
      if (byte < 0x80) return result;
      factor *= 128;
    }
    throw UNUSUAL;
  }

  /** A length-delimited ASCII string. */
  ascii(): string {
    const length = this.small();
    const start = this.pos;
    const stop = start + length;
    if (stop > this.end) throw UNUSUAL;
    const buf = this.buf;
    for (let i = start; i < stop; i++) if ((buf[i] as number) > 0x7f) throw UNUSUAL;
    this.pos = stop;
    return buf.toString("latin1", start, stop);
  }

  /** The bounds of a length-delimited field. */
  sub(): number {
    const length = this.small();
    const stop = this.pos + length;
    if (stop > this.end) throw UNUSUAL;
    return stop;
  }
}

function decodeContext(reader: Reader, end: number): VerifyContext {
  const context: VerifyContext = { $typeName: CONTEXT_TYPE, ip: "", method: "", path: "", userAgent: "", tags: {} };
  while (reader.pos < end) {
    const tag = reader.small();
    switch (tag) {
      case (1 << 3) | 2:
        context.ip = reader.ascii();
        break;
      case (2 << 3) | 2:
        context.method = reader.ascii();
        break;
      case (3 << 3) | 2:
        context.path = reader.ascii();
        break;
      case (4 << 3) | 2:
        context.userAgent = reader.ascii();
        break;
      case (5 << 3) | 2: {
        const entryEnd = reader.sub();
        let key = "";
        let value = "";
        while (reader.pos < entryEnd) {
          const entryTag = reader.small();
          if (entryTag === ((1 << 3) | 2)) key = reader.ascii();
          else if (entryTag === ((2 << 3) | 2)) value = reader.ascii();
          else throw UNUSUAL;
        }
        if (reader.pos !== entryEnd) throw UNUSUAL;
        context.tags[key] = value;
        break;
      }
      default:
        throw UNUSUAL;
    }
  }
  if (reader.pos !== end) throw UNUSUAL;
  return context;
}

function decodeFast(bytes: Buffer): VerifyKeyRequest {
  const reader = new Reader(bytes, 0, bytes.length);
  const request: VerifyKeyRequest = {
    $typeName: REQUEST_TYPE,
    token: "",
    requiredPermission: 0,
    domainId: "",
    requiredScopes: [],
    ratelimits: [],
  };
  let sawContext = false;
  while (reader.pos < bytes.length) {
    const tag = reader.small();
    switch (tag) {
      case (1 << 3) | 2:
        request.token = reader.ascii();
        break;
      case (2 << 3) | 0:
        request.requiredPermission = reader.small();
        break;
      case (3 << 3) | 2:
        request.domainId = reader.ascii();
        break;
      case (4 << 3) | 2:
        request.requiredScopes.push(reader.ascii());
        break;
      case (5 << 3) | 2: {
        // A repeated message field merges; leave that to protobuf-es.
        if (sawContext) throw UNUSUAL;
        sawContext = true;
        const end = reader.sub();
        request.context = decodeContext(reader, end);
        break;
      }
      case (6 << 3) | 0:
        request.cost = BigInt(reader.uint());
        break;
      case (7 << 3) | 2:
        request.ratelimits.push(reader.ascii());
        break;
      default:
        throw UNUSUAL;
    }
  }
  return request;
}

/** Decodes a VerifyKeyRequest; throws what fromBinary throws for bytes that are not one. */
export function decodeVerifyKeyRequest(bytes: Buffer): VerifyKeyRequest {
  try {
    return decodeFast(bytes);
  } catch (error) {
    if (error !== UNUSUAL) throw error;
    return fromBinary(VerifyKeyRequestSchema, bytes);
  }
}

type VerifyKeyResponseInit = MessageInitShape<typeof VerifyKeyResponseSchema>;

const keyBytes = new WeakMap<object, Buffer>();

type VerifiedKeyInit = NonNullable<VerifyKeyResponseInit["key"]>;

function encodedKey(key: VerifiedKeyInit): Buffer {
  let bytes = keyBytes.get(key);
  if (bytes === undefined) {
    bytes = encodeKeyFast(key) ?? encodeKeyGeneric(key);
    keyBytes.set(key, bytes);
  }
  return bytes;
}

function encodeKeyGeneric(key: VerifiedKeyInit): Buffer {
  const encoded = toBinary(VerifiedKeySchema, create(VerifiedKeySchema, key as never));
  return Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
}

/** Bytes of a string field (tag, length, UTF-8), 0 when the field is empty and so not written. */
function stringFieldSize(value: string): number {
  if (value.length === 0) return 0;
  const bytes = Buffer.byteLength(value);
  return 1 + varintSize(bytes) + bytes;
}

function writeStringField(buf: Buffer, pos: number, field: number, value: string): number {
  if (value.length === 0) return pos;
  buf[pos] = (field << 3) | 2;
  const bytes = Buffer.byteLength(value);
  const at = writeVarint(buf, pos + 1, bytes);
  return at + buf.write(value, at, "utf8");
}

/**
 * A cold key (one not in the cache) is encoded once, on its first answer:
 * through protobuf-es that cost ~30 µs, a tenth of a cold verification.
 * Claims (a Struct), timestamps outside 1970-2^49 s and unknown shapes go
 * to protobuf-es.
 */
export function encodeKeyFast(key: VerifiedKeyInit): Buffer | undefined {
  if (key.claims !== undefined && key.claims !== null) return undefined;
  const id = key.id ?? "";
  const name = key.name ?? "";
  const domainId = key.domainId ?? "";
  const subject = key.subject ?? "";
  const permission = key.permission ?? 0;
  const scopes = key.scopes ?? [];
  if (permission < 0 || !Array.isArray(scopes)) return undefined;
  const expire = key.expireTime;
  let expireSize = 0;
  let seconds = 0;
  let nanos = 0;
  if (expire !== undefined) {
    const s = safeUint(expire.seconds);
    nanos = expire.nanos ?? 0;
    if (s === undefined || nanos < 0) return undefined;
    seconds = s;
    expireSize = (seconds ? 1 + varintSize(seconds) : 0) + (nanos ? 1 + varintSize(nanos) : 0);
  }
  let size =
    stringFieldSize(id) +
    stringFieldSize(name) +
    (permission ? 1 + varintSize(permission) : 0) +
    stringFieldSize(domainId) +
    stringFieldSize(subject) +
    (expire !== undefined ? 1 + varintSize(expireSize) + expireSize : 0);
  for (const scope of scopes) {
    if (typeof scope !== "string") return undefined;
    const bytes = Buffer.byteLength(scope);
    size += 1 + varintSize(bytes) + bytes;
  }
  const buf = Buffer.allocUnsafe(size);
  let pos = writeStringField(buf, 0, 1, id);
  pos = writeStringField(buf, pos, 2, name);
  if (permission) {
    buf[pos++] = (3 << 3) | 0;
    pos = writeVarint(buf, pos, permission);
  }
  pos = writeStringField(buf, pos, 4, domainId);
  pos = writeStringField(buf, pos, 5, subject);
  for (const scope of scopes) {
    // Repeated strings are written even when empty.
    buf[pos++] = (6 << 3) | 2;
    const bytes = Buffer.byteLength(scope);
    pos = writeVarint(buf, pos, bytes);
    pos += buf.write(scope, pos, "utf8");
  }
  if (expire !== undefined) {
    buf[pos++] = (8 << 3) | 2;
    pos = writeVarint(buf, pos, expireSize);
    if (seconds) {
      buf[pos++] = (1 << 3) | 0;
      pos = writeVarint(buf, pos, seconds);
    }
    if (nanos) {
      buf[pos++] = (2 << 3) | 0;
      pos = writeVarint(buf, pos, nanos);
    }
  }
  return pos === size ? buf : undefined;
}

function varintSize(value: number): number {
  let size = 1;
  let rest = value;
  while (rest >= 128) {
    rest = Math.floor(rest / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, pos: number, value: number): number {
  let rest = value;
  let at = pos;
  while (rest >= 128) {
    buf[at++] = (rest % 128) | 0x80;
    rest = Math.floor(rest / 128);
  }
  buf[at++] = rest;
  return at;
}

/** A non-negative safe integer from an int64 field, or undefined when it is not one. */
function safeUint(value: bigint | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * Encodes a VerifyKeyResponse given as the handler returns it. Falls back to
 * protobuf-es for values outside what it writes itself.
 */
export function encodeVerifyKeyResponse(
  response: VerifyKeyResponseInit,
  fallback: (response: VerifyKeyResponseInit) => Buffer,
): Buffer {
  const code = response.code ?? 0;
  const remaining = response.remaining === undefined ? undefined : safeUint(response.remaining);
  const ratelimit = response.ratelimit;
  if (code < 0 || (response.remaining !== undefined && remaining === undefined)) return fallback(response);

  let ratelimitSize = 0;
  let nameBytes = 0;
  let rlRemaining = 0;
  let resetSeconds = 0;
  let resetNanos = 0;
  let resetSize = 0;
  if (ratelimit !== undefined) {
    const name = ratelimit.name ?? "";
    nameBytes = Buffer.byteLength(name);
    const limit = ratelimit.limit ?? 0;
    const r = safeUint(ratelimit.remaining);
    const seconds = safeUint(ratelimit.resetTime?.seconds);
    resetNanos = ratelimit.resetTime?.nanos ?? 0;
    if (limit < 0 || r === undefined || seconds === undefined || resetNanos < 0) return fallback(response);
    rlRemaining = r;
    resetSeconds = seconds;
    if (ratelimit.resetTime !== undefined) {
      resetSize = (resetSeconds ? 1 + varintSize(resetSeconds) : 0) + (resetNanos ? 1 + varintSize(resetNanos) : 0);
    }
    ratelimitSize =
      (nameBytes ? 1 + varintSize(nameBytes) + nameBytes : 0) +
      (limit ? 1 + varintSize(limit) : 0) +
      (rlRemaining ? 1 + varintSize(rlRemaining) : 0) +
      (ratelimit.resetTime !== undefined ? 1 + varintSize(resetSize) + resetSize : 0);
  }
  const key = response.key === undefined ? undefined : encodedKey(response.key);

  const size =
    (response.valid ? 2 : 0) +
    (code ? 1 + varintSize(code) : 0) +
    (key ? 1 + varintSize(key.length) + key.length : 0) +
    (ratelimit !== undefined ? 1 + varintSize(ratelimitSize) + ratelimitSize : 0) +
    (remaining !== undefined ? 1 + varintSize(remaining) : 0);
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  if (response.valid) {
    buf[pos++] = (1 << 3) | 0;
    buf[pos++] = 1;
  }
  if (code) {
    buf[pos++] = (2 << 3) | 0;
    pos = writeVarint(buf, pos, code);
  }
  if (key) {
    buf[pos++] = (3 << 3) | 2;
    pos = writeVarint(buf, pos, key.length);
    pos += key.copy(buf, pos);
  }
  if (ratelimit !== undefined) {
    buf[pos++] = (4 << 3) | 2;
    pos = writeVarint(buf, pos, ratelimitSize);
    if (nameBytes) {
      buf[pos++] = (1 << 3) | 2;
      pos = writeVarint(buf, pos, nameBytes);
      pos += buf.write(ratelimit.name ?? "", pos, "utf8");
    }
    const limit = ratelimit.limit ?? 0;
    if (limit) {
      buf[pos++] = (2 << 3) | 0;
      pos = writeVarint(buf, pos, limit);
    }
    if (rlRemaining) {
      buf[pos++] = (3 << 3) | 0;
      pos = writeVarint(buf, pos, rlRemaining);
    }
    if (ratelimit.resetTime !== undefined) {
      buf[pos++] = (4 << 3) | 2;
      pos = writeVarint(buf, pos, resetSize);
      if (resetSeconds) {
        buf[pos++] = (1 << 3) | 0;
        pos = writeVarint(buf, pos, resetSeconds);
      }
      if (resetNanos) {
        buf[pos++] = (2 << 3) | 0;
        pos = writeVarint(buf, pos, resetNanos);
      }
    }
  }
  if (remaining !== undefined) {
    buf[pos++] = (5 << 3) | 0;
    pos = writeVarint(buf, pos, remaining);
  }
  return buf;
}
