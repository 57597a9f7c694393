import { randomBytes } from "node:crypto";
import { type DescMessage, fromBinary, type Message } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Compression, UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import { decodeFailure } from "./decode-failure.js";

/*
 * connect-node answers a request body that is not a valid protobuf message
 * with `internal` (HTTP 500): its binary serialization maps every parse error
 * to Code.Internal, before any interceptor or handler runs. The contract says
 * a bad input is INVALID_ARGUMENT, as the grpc-js port answers. So binary
 * bodies are checked first, and one that does not parse is replaced by a
 * message carrying only a marker field with the reason; the interceptor below
 * then fails the call with INVALID_ARGUMENT, and connect-es encodes that
 * error correctly for whichever protocol the client speaks.
 *
 * Compressed bodies take the same road: the guard decompresses a compressed
 * binary message to check it (connect-es would decompress it again; clients
 * seldom compress requests this small). And connect-node's decompressors
 * answer some undecodable bodies (a truncated gzip stream, any bad brotli
 * one) with `internal`: ACCEPTED_COMPRESSIONS answers those
 * invalid_argument. (Both found by the fuzz suite.)
 */

/**
 * gzip and brotli as connect-node implements them, but a body that does not
 * decompress is the client's fault: invalid_argument, never internal. Too
 * large after decompression stays resource_exhausted.
 */
export const ACCEPTED_COMPRESSIONS: readonly Compression[] = [compressionGzip, compressionBrotli].map(
  (compression) => ({
    name: compression.name,
    compress: (bytes: Uint8Array) => compression.compress(bytes),
    decompress: (bytes: Uint8Array, readMaxBytes: number) =>
      compression.decompress(bytes, readMaxBytes).catch((error: unknown) => {
        if (error instanceof ConnectError && error.code === Code.Internal) {
          throw new ConnectError(error.rawMessage, Code.InvalidArgument, undefined, undefined, error.cause);
        }
        throw error;
      }),
  }),
);

/** The largest field number protobuf allows; no Keyward message uses it. */
const MARKER_FIELD = 536_870_911;
/**
 * Any client may send field 536870911 as an unknown field, with any wire
 * type: only a length-delimited field that starts with this process's random
 * nonce is the guard's marker. Anything else is an ordinary unknown field and
 * is ignored, as the grpc-js port ignores it. (Found by the fuzz suite: a
 * fixed32 field 536870911 made the interceptor throw while reading it as a
 * string, and connect-es answered `internal`.)
 */
const MARKER_NONCE = `${randomBytes(16).toString("hex")}:`;
const ENVELOPE_HEADER = 5;
const FLAG_COMPRESSED = 0b01;
const FLAG_END_STREAM = 0b10;

type Framing = "raw" | "enveloped";

/** How a request's message is framed, and the name of its compression (undefined: none). */
interface Shape {
  framing: Framing;
  encoding: string | undefined;
}

/**
 * Wraps a router's handler so that a binary request whose message does not
 * parse (once decompressed, if it is compressed) reaches the interceptor as a
 * marked message. Bodies over `maxBytes`, ones that do not decompress and
 * JSON pass through untouched: connect-es checks those.
 */
export function guardMalformedBinary(handler: UniversalHandler, maxBytes: number): UniversalHandler {
  const schema = handler.method.input;
  const guarded = async (req: UniversalServerRequest) => {
    const shape = shapeOf(req.header);
    if (shape === undefined || !isAsyncIterable(req.body)) return handler(req);
    const read = await readUpTo(req.body, maxBytes + ENVELOPE_HEADER);
    if (read.rest !== undefined) return handler({ ...req, body: replay(read.bytes, read.rest) });
    const bytes = await checked(read.bytes, shape, schema, maxBytes);
    if (bytes !== read.bytes) {
      // The marker is sent uncompressed; connect-es compares a unary body with its Content-Length.
      if (shape.framing === "raw") req.header.delete("content-encoding");
      if (req.header.has("content-length")) req.header.set("content-length", String(bytes.length));
    }
    return handler({ ...req, body: single(bytes) });
  };
  return Object.assign(guarded, {
    protocolNames: handler.protocolNames,
    service: handler.service,
    method: handler.method,
    requestPath: handler.requestPath,
    allowedMethods: handler.allowedMethods,
    supportedContentType: handler.supportedContentType,
  });
}

/** Fails a call whose request message carries the marker, with INVALID_ARGUMENT and the parse error. */
export const rejectMalformedRequests: Interceptor = (next) => async (req) => {
  if (!req.stream) {
    throwIfMarked(req.message);
    return next(req);
  }
  return next({ ...req, message: checkEach(req.message) });
};

async function* checkEach<T extends Message>(messages: AsyncIterable<T>): AsyncIterable<T> {
  for await (const message of messages) {
    throwIfMarked(message);
    yield message;
  }
}

function throwIfMarked(message: Message): void {
  const unknown = message.$unknown;
  if (unknown === undefined) return;
  for (const field of unknown) {
    if (field.no !== MARKER_FIELD || field.wireType !== WireType.LengthDelimited) continue;
    let text: string;
    try {
      text = new BinaryReader(field.data).string();
    } catch {
      continue;
    }
    if (!text.startsWith(MARKER_NONCE)) continue;
    throw new ConnectError(`malformed request message: ${text.slice(MARKER_NONCE.length)}`, Code.InvalidArgument);
  }
}

function shapeOf(header: Headers): Shape | undefined {
  const type = header.get("content-type")?.split(";", 1)[0]?.trim().toLowerCase();
  const encoding = (name: string) => {
    const value = header.get(name)?.trim().toLowerCase();
    return value === undefined || value === "" || value === "identity" ? undefined : value;
  };
  switch (type) {
    case "application/proto":
      return { framing: "raw", encoding: encoding("content-encoding") };
    case "application/connect+proto":
      return { framing: "enveloped", encoding: encoding("connect-content-encoding") };
    case "application/grpc-web":
    case "application/grpc-web+proto":
    case "application/grpc":
    case "application/grpc+proto":
      return { framing: "enveloped", encoding: encoding("grpc-encoding") };
    default:
      return undefined;
  }
}

/**
 * The message of a body as sent, decompressed; undefined when it cannot be
 * (an unknown compression, or bytes that do not decompress): connect-es
 * answers those itself, with the right code.
 */
async function decompressed(bytes: Uint8Array, encoding: string | undefined, maxBytes: number) {
  if (encoding === undefined) return bytes;
  const compression = ACCEPTED_COMPRESSIONS.find((c) => c.name === encoding);
  if (compression === undefined) return undefined;
  return compression.decompress(bytes, maxBytes).catch(() => undefined);
}

/** The body to hand on: unchanged when it parses (or is not one plain message), else the marker. */
async function checked(bytes: Uint8Array, shape: Shape, schema: DescMessage, maxBytes: number): Promise<Uint8Array> {
  if (shape.framing === "raw") {
    const message = await decompressed(bytes, shape.encoding, maxBytes);
    const reason = message === undefined ? undefined : parseError(message, schema);
    return reason === undefined ? bytes : markerMessage(reason);
  }
  if (bytes.length < ENVELOPE_HEADER) return bytes;
  const flags = bytes[0] ?? 0;
  const length = new DataView(bytes.buffer, bytes.byteOffset + 1, 4).getUint32(0);
  if (flags & FLAG_END_STREAM || ENVELOPE_HEADER + length !== bytes.length) return bytes;
  const payload = bytes.subarray(ENVELOPE_HEADER);
  const message = flags & FLAG_COMPRESSED ? await decompressed(payload, shape.encoding, maxBytes) : payload;
  const reason = message === undefined ? undefined : parseError(message, schema);
  if (reason === undefined) return bytes;
  // The marker goes uncompressed: the flag says so, whatever the header names.
  const marker = markerMessage(reason);
  const envelope = new Uint8Array(ENVELOPE_HEADER + marker.length);
  envelope[0] = flags & ~FLAG_COMPRESSED;
  new DataView(envelope.buffer).setUint32(1, marker.length);
  envelope.set(marker, ENVELOPE_HEADER);
  return envelope;
}

function parseError(bytes: Uint8Array, schema: DescMessage): string | undefined {
  try {
    fromBinary(schema, bytes);
    return undefined;
  } catch (error) {
    return decodeFailure(error);
  }
}

function markerMessage(reason: string): Uint8Array {
  return new BinaryWriter()
    .tag(MARKER_FIELD, WireType.LengthDelimited)
    .string(MARKER_NONCE + reason)
    .finish();
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

/** Reads the body up to `limit` bytes; past it, hands back what was read and the rest, unread. */
async function readUpTo(
  body: AsyncIterable<Uint8Array>,
  limit: number,
): Promise<{ bytes: Uint8Array; rest?: AsyncIterator<Uint8Array> }> {
  const iterator = body[Symbol.asyncIterator]();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done) return { bytes: concat(chunks, size) };
    chunks.push(next.value);
    size += next.value.length;
    if (size > limit) return { bytes: concat(chunks, size), rest: iterator };
  }
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1 && chunks[0] !== undefined) return chunks[0];
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

async function* single(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

async function* replay(head: Uint8Array, rest: AsyncIterator<Uint8Array>): AsyncIterable<Uint8Array> {
  yield head;
  for (;;) {
    const next = await rest.next();
    if (next.done) return;
    yield next.value;
  }
}
