/**
 * A minimal HTTP/2 client for gRPC unary calls, on a raw TCP socket, so that
 * the load generator costs the server under test as little CPU as possible
 * (node:http2's client spends ~100 µs of JavaScript per call here, more than
 * the echo server it measures; this one a few µs).
 *
 * What it does: the connection preface; SETTINGS (header table 0, push off,
 * stream windows 2^31-1) and their ACKs; PING answers; a connection receive
 * window topped up as data is consumed; the peer's connection send window and
 * MAX_CONCURRENT_STREAMS respected (requests wait in a queue); RST_STREAM and
 * GOAWAY fail the streams they concern. Requests are a pre-encoded header
 * block and one DATA frame with END_STREAM; writes made while handling one
 * read are sent in one socket write.
 *
 * HPACK: with SETTINGS_HEADER_TABLE_SIZE = 0 the peer cannot use its dynamic
 * table, so every header is a static-table reference or a literal, and only
 * `:status` and `grpc-status` are read; a block that uses anything else this
 * reader does not know is reported as `bad-headers`, never guessed at.
 */
import net from "node:net";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const DATA = 0x0;
const HEADERS = 0x1;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PING = 0x6;
const GOAWAY = 0x7;
const WINDOW_UPDATE = 0x8;
const CONTINUATION = 0x9;
const FLAG_END_STREAM = 0x1;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
const MAX_WINDOW = 0x7fffffff;

/** "grpc-status" as HPACK's Huffman code encodes it (RFC 7541 App. B), which nghttp2 uses since it is shorter than the 11 raw bytes. */
const GRPC_STATUS_RAW = Buffer.from("grpc-status", "latin1");
const GRPC_STATUS_HUFFMAN = Buffer.from("9acac8b21234da8f", "hex");
/** Static table entries 8-14 are `:status` with these values (RFC 7541 App. A). */
const STATIC_STATUS: Record<number, number> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };

export type CallOutcome =
  | { ok: true; message: Buffer; chunks: number }
  | { ok: false; error: string; message?: undefined };

interface Stream {
  id: number;
  onDone: (outcome: CallOutcome) => void;
  headersSeen: boolean;
  httpStatus: number;
  grpcStatus: number;
  data: Buffer[];
  bad: boolean;
}

interface Queued {
  body: Buffer;
  onDone: (outcome: CallOutcome) => void;
}

/** The fields of one header block this client needs; `bad` when it used something unsupported. */
export interface DecodedHeaders {
  status: number;
  grpcStatus: number;
  bad: boolean;
}

function readInt(block: Buffer, at: number, prefixBits: number): [number, number] {
  const max = (1 << prefixBits) - 1;
  let value = (block[at] as number) & max;
  let i = at + 1;
  if (value < max) return [value, i];
  let shift = 0;
  let b: number;
  do {
    if (i >= block.length) return [-1, i];
    b = block[i++] as number;
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b & 0x80 && shift < 35);
  return [value, i];
}

/** Decodes `:status` and `grpc-status` from an HPACK block that uses no dynamic table. -1 = absent. */
export function decodeHeaderBlock(block: Buffer): DecodedHeaders {
  const out: DecodedHeaders = { status: -1, grpcStatus: -1, bad: false };
  let i = 0;
  while (i < block.length) {
    const first = block[i] as number;
    if (first & 0x80) {
      // Indexed field: only the static table can be meant.
      const [index, next] = readInt(block, i, 7);
      i = next;
      if (index < 1 || index > 61) return { ...out, bad: true };
      const status = STATIC_STATUS[index];
      if (status !== undefined) out.status = status;
      continue;
    }
    if ((first & 0xe0) === 0x20) {
      // Dynamic table size update: only 0 is expected after our SETTINGS.
      const [size, next] = readInt(block, i, 5);
      i = next;
      if (size !== 0) return { ...out, bad: true };
      continue;
    }
    // Literal: with incremental indexing (01), without (0000) or never indexed (0001).
    const prefix = (first & 0xc0) === 0x40 ? 6 : 4;
    const [nameIndex, afterIndex] = readInt(block, i, prefix);
    i = afterIndex;
    if (nameIndex > 61 || nameIndex < 0) return { ...out, bad: true };
    let nameIsGrpcStatus = false;
    if (nameIndex === 0) {
      const huffman = ((block[i] as number) & 0x80) !== 0;
      const [length, start] = readInt(block, i, 7);
      if (length < 0 || start + length > block.length) return { ...out, bad: true };
      const name = block.subarray(start, start + length);
      nameIsGrpcStatus = name.equals(huffman ? GRPC_STATUS_HUFFMAN : GRPC_STATUS_RAW);
      i = start + length;
    }
    const valueHuffman = ((block[i] as number) & 0x80) !== 0;
    const [valueLength, valueStart] = readInt(block, i, 7);
    if (valueLength < 0 || valueStart + valueLength > block.length) return { ...out, bad: true };
    const value = block.subarray(valueStart, valueStart + valueLength);
    i = valueStart + valueLength;
    const wanted = nameIsGrpcStatus || STATIC_STATUS[nameIndex] !== undefined;
    if (!wanted) continue;
    // Digits are never shorter in Huffman form, so encoders send them raw; anything else is not guessed at.
    if (valueHuffman || !/^\d{1,3}$/.test(value.toString("latin1"))) return { ...out, bad: true };
    if (nameIsGrpcStatus) out.grpcStatus = Number(value.toString("latin1"));
    else out.status = Number(value.toString("latin1"));
  }
  return out;
}

function stringLiteral(text: string): Buffer {
  const bytes = Buffer.from(text, "latin1");
  if (bytes.length >= 127) throw new Error("header too long for this encoder");
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

/** A request header block of literals without indexing, new names, raw strings (no table state at all). */
export function requestHeaderBlock(authority: string, path: string): Buffer {
  const fields: [string, string][] = [
    [":method", "POST"],
    [":scheme", "http"],
    [":path", path],
    [":authority", authority],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
  ];
  return Buffer.concat(
    fields.flatMap(([name, value]) => [Buffer.from([0x00]), stringLiteral(name), stringLiteral(value)]),
  );
}

function frameHeader(target: Buffer, at: number, length: number, type: number, flags: number, stream: number): void {
  target[at] = (length >>> 16) & 0xff;
  target[at + 1] = (length >>> 8) & 0xff;
  target[at + 2] = length & 0xff;
  target[at + 3] = type;
  target[at + 4] = flags;
  target.writeUInt32BE(stream & MAX_WINDOW, at + 5);
}

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(9 + payload.length);
  frameHeader(out, 0, payload.length, type, flags, stream);
  payload.copy(out, 9);
  return out;
}

export class RawGrpcConnection {
  private readonly socket: net.Socket;
  private readonly headerBlock: Buffer;
  private readonly streams = new Map<number, Stream>();
  private readonly queue: Queued[] = [];
  private out: Buffer[] = [];
  private inRead = false;
  private input: Buffer | undefined;
  private nextId = 1;
  private sendWindow = 65535;
  private maxStreams = Number.POSITIVE_INFINITY;
  private consumed = 0;
  private pendingBlock: { stream: number; parts: Buffer[]; endStream: boolean } | undefined;
  private closedReason: string | undefined;

  /** Resolves once the socket is connected and the preface is sent. */
  readonly ready: Promise<void>;

  constructor(port: number, path: string) {
    this.headerBlock = requestHeaderBlock(`127.0.0.1:${port}`, path);
    this.socket = net.connect(port, "127.0.0.1");
    this.socket.setNoDelay(true);
    this.ready = new Promise((resolve, reject) => {
      this.socket.once("connect", () => {
        const settings = Buffer.alloc(18);
        settings.writeUInt16BE(0x1, 0); // HEADER_TABLE_SIZE
        settings.writeUInt32BE(0, 2);
        settings.writeUInt16BE(0x2, 6); // ENABLE_PUSH
        settings.writeUInt32BE(0, 8);
        settings.writeUInt16BE(0x4, 12); // INITIAL_WINDOW_SIZE
        settings.writeUInt32BE(MAX_WINDOW, 14);
        const increment = Buffer.alloc(4);
        increment.writeUInt32BE(MAX_WINDOW - 65535, 0);
        this.socket.write(
          Buffer.concat([PREFACE, frame(SETTINGS, 0, 0, settings), frame(WINDOW_UPDATE, 0, 0, increment)]),
        );
        resolve();
      });
      this.socket.once("error", reject);
    });
    this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
    this.socket.on("error", (error) => this.fail(`transport: ${error.message}`));
    this.socket.on("close", () => this.fail("transport: connection closed"));
  }

  get inFlight(): number {
    return this.streams.size;
  }

  /** Sends one unary call; `onDone` runs exactly once. `body` is the gRPC-framed message. */
  call(body: Buffer, onDone: (outcome: CallOutcome) => void): void {
    if (this.closedReason !== undefined) {
      onDone({ ok: false, error: "transport" });
      return;
    }
    if (this.queue.length > 0 || this.streams.size >= this.maxStreams || body.length > this.sendWindow) {
      this.queue.push({ body, onDone });
      return;
    }
    this.start(body, onDone);
  }

  close(): void {
    this.closedReason ??= "closed by the client";
    this.socket.destroy();
  }

  private start(body: Buffer, onDone: (outcome: CallOutcome) => void): void {
    const id = this.nextId;
    this.nextId += 2;
    if (id > 0x7ffffff0) {
      onDone({ ok: false, error: "stream-ids-exhausted" });
      return;
    }
    this.sendWindow -= body.length;
    this.streams.set(id, { id, onDone, headersSeen: false, httpStatus: 0, grpcStatus: -1, data: [], bad: false });
    const hb = this.headerBlock;
    const buf = Buffer.allocUnsafe(18 + hb.length + body.length);
    frameHeader(buf, 0, hb.length, HEADERS, FLAG_END_HEADERS, id);
    hb.copy(buf, 9);
    frameHeader(buf, 9 + hb.length, body.length, DATA, FLAG_END_STREAM, id);
    body.copy(buf, 18 + hb.length);
    this.write(buf);
  }

  private write(buf: Buffer): void {
    if (this.inRead) this.out.push(buf);
    else this.socket.write(buf);
  }

  private onData(chunk: Buffer): void {
    let input = this.input === undefined ? chunk : Buffer.concat([this.input, chunk]);
    this.inRead = true;
    let at = 0;
    while (input.length - at >= 9) {
      const length = ((input[at] as number) << 16) | ((input[at + 1] as number) << 8) | (input[at + 2] as number);
      if (input.length - at < 9 + length) break;
      const type = input[at + 3] as number;
      const flags = input[at + 4] as number;
      const stream = input.readUInt32BE(at + 5) & MAX_WINDOW;
      this.onFrame(type, flags, stream, input.subarray(at + 9, at + 9 + length));
      at += 9 + length;
    }
    this.input = at < input.length ? Buffer.from(input.subarray(at)) : undefined;
    input = Buffer.alloc(0);
    if (this.consumed > 1 << 24) {
      const increment = Buffer.alloc(4);
      increment.writeUInt32BE(this.consumed, 0);
      this.out.push(frame(WINDOW_UPDATE, 0, 0, increment));
      this.consumed = 0;
    }
    this.inRead = false;
    this.drainQueue();
    if (this.out.length > 0) {
      const out = this.out.length === 1 ? (this.out[0] as Buffer) : Buffer.concat(this.out);
      this.out = [];
      this.socket.write(out);
    }
  }

  private drainQueue(): void {
    while (this.queue.length > 0 && this.streams.size < this.maxStreams) {
      const next = this.queue[0] as Queued;
      if (next.body.length > this.sendWindow) break;
      this.queue.shift();
      this.inRead = true;
      this.start(next.body, next.onDone);
      this.inRead = false;
    }
  }

  private onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    switch (type) {
      case DATA: {
        this.consumed += payload.length;
        const stream = this.streams.get(streamId);
        if (stream === undefined) return;
        let body = payload;
        if (flags & FLAG_PADDED) body = payload.subarray(1, payload.length - (payload[0] as number));
        if (body.length > 0) stream.data.push(body);
        // gRPC always ends with trailers; a DATA frame that ends the stream means there were none.
        if (flags & FLAG_END_STREAM) this.finish(stream);
        return;
      }
      case HEADERS: {
        let block = payload;
        if (flags & FLAG_PADDED) block = block.subarray(1, block.length - (payload[0] as number));
        if (flags & FLAG_PRIORITY) block = block.subarray(5);
        if (flags & FLAG_END_HEADERS) this.onHeaderBlock(streamId, block, (flags & FLAG_END_STREAM) !== 0);
        else
          this.pendingBlock = {
            stream: streamId,
            parts: [Buffer.from(block)],
            endStream: (flags & FLAG_END_STREAM) !== 0,
          };
        return;
      }
      case CONTINUATION: {
        const pending = this.pendingBlock;
        if (pending === undefined || pending.stream !== streamId) return;
        pending.parts.push(Buffer.from(payload));
        if (flags & FLAG_END_HEADERS) {
          this.pendingBlock = undefined;
          this.onHeaderBlock(streamId, Buffer.concat(pending.parts), pending.endStream);
        }
        return;
      }
      case RST_STREAM: {
        const stream = this.streams.get(streamId);
        if (stream === undefined) return;
        this.streams.delete(streamId);
        stream.onDone({ ok: false, error: `rst-${payload.readUInt32BE(0)}` });
        return;
      }
      case SETTINGS: {
        if (flags & FLAG_ACK) return;
        for (let i = 0; i + 6 <= payload.length; i += 6) {
          const id = payload.readUInt16BE(i);
          const value = payload.readUInt32BE(i + 2);
          if (id === 0x3) this.maxStreams = value;
        }
        this.write(frame(SETTINGS, FLAG_ACK, 0, Buffer.alloc(0)));
        return;
      }
      case PING: {
        if (!(flags & FLAG_ACK)) this.write(frame(PING, FLAG_ACK, 0, Buffer.from(payload)));
        return;
      }
      case WINDOW_UPDATE: {
        if (streamId === 0) this.sendWindow += payload.readUInt32BE(0) & MAX_WINDOW;
        return;
      }
      case GOAWAY: {
        const last = payload.readUInt32BE(0) & MAX_WINDOW;
        this.closedReason ??= `goaway-${payload.readUInt32BE(4)}`;
        for (const [id, stream] of this.streams) {
          if (id > last) {
            this.streams.delete(id);
            stream.onDone({ ok: false, error: "goaway" });
          }
        }
        return;
      }
      default:
        // PRIORITY, PUSH_PROMISE (disabled), unknown extension frames: nothing to do.
        return;
    }
  }

  private onHeaderBlock(streamId: number, block: Buffer, endStream: boolean): void {
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    const decoded = decodeHeaderBlock(block);
    if (decoded.bad) stream.bad = true;
    if (!stream.headersSeen) {
      stream.headersSeen = true;
      stream.httpStatus = decoded.status;
    }
    if (decoded.grpcStatus >= 0) stream.grpcStatus = decoded.grpcStatus;
    if (endStream) this.finish(stream);
  }

  private finish(stream: Stream): void {
    this.streams.delete(stream.id);
    let outcome: CallOutcome;
    if (stream.bad) outcome = { ok: false, error: "bad-headers" };
    else if (stream.httpStatus !== 200) outcome = { ok: false, error: `http-${stream.httpStatus}` };
    else if (stream.grpcStatus < 0) outcome = { ok: false, error: "no-grpc-status" };
    else if (stream.grpcStatus !== 0) outcome = { ok: false, error: `grpc-${stream.grpcStatus}` };
    else {
      const message = stream.data.length === 1 ? (stream.data[0] as Buffer) : Buffer.concat(stream.data);
      outcome = { ok: true, message, chunks: stream.data.length };
    }
    stream.onDone(outcome);
  }

  private fail(reason: string): void {
    this.closedReason ??= reason;
    const streams = [...this.streams.values()];
    this.streams.clear();
    for (const stream of streams) stream.onDone({ ok: false, error: "transport" });
    const queued = this.queue.splice(0);
    for (const q of queued) q.onDone({ ok: false, error: "transport" });
  }
}

/**
 * Checks this client against node:http2's server (nghttp2, the HTTP/2 library
 * under grpc-js servers too): an OK answer with trailers and a trailers-only
 * error must decode to grpc-status 0 with the body, and 13. Throws otherwise.
 */
export async function selfTest(): Promise<void> {
  const http2 = await import("node:http2");
  const server = http2.createServer();
  server.on("stream", (stream, headers) => {
    stream.resume();
    if (headers[":path"] === "/fail") {
      stream.respond(
        { ":status": 200, "content-type": "application/grpc", "grpc-status": "13", "grpc-message": "boom" },
        { endStream: true },
      );
      return;
    }
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0", "grpc-message": "" }));
    stream.end(Buffer.from([0, 0, 0, 0, 2, 0x10, 0x01]));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  const ok = new RawGrpcConnection(port, "/ok");
  const fail = new RawGrpcConnection(port, "/fail");
  try {
    await Promise.all([ok.ready, fail.ready]);
    const call = (c: RawGrpcConnection) =>
      new Promise<CallOutcome>((resolve) => c.call(Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01]), resolve));
    for (let i = 0; i < 3; i++) {
      const [a, b] = await Promise.all([call(ok), call(fail)]);
      if (!a.ok || a.message.toString("hex") !== "00000000021001")
        throw new Error(`self-test: OK call read as ${JSON.stringify(a)}`);
      if (b.ok || b.error !== "grpc-13") throw new Error(`self-test: failing call read as ${JSON.stringify(b)}`);
    }
  } finally {
    ok.close();
    fail.close();
    server.close();
  }
}
