/**
 * The load generator: a closed loop of `--concurrency` requests in flight,
 * each lane sending its next request as soon as the previous one closed.
 *
 * --protocol grpc: streams spread round-robin over `--connections` HTTP/2
 *   connections. Bodies are pre-encoded gRPC frames of VerifyKeyRequest;
 *   `grpc-status` is read from the trailers (or from the headers of a
 *   trailers-only answer) and VerifyKeyResponse.code from the body.
 *   --client raw (default): the minimal HTTP/2 client in lib/raw-h2.ts, a few
 *   µs of CPU per call; checked against node:http2's server at every start.
 *   --client node: node:http2's client (~100 µs of CPU per call here), kept as
 *   a cross-check of the raw one.
 *   --rate R: at most R requests a second over all lanes, each lane keeping
 *   to its share (an open loop while the server keeps up; latency is timed
 *   from the actual send). Raw client only.
 * --protocol connect-h1: the Connect protocol (unary, application/proto) over
 *   HTTP/1.1 keep-alive, one request in flight per connection (so
 *   `--connections` = `--concurrency`), on raw sockets with pre-built requests.
 *
 * Why not h2load: it cannot vary the body per request (the cold set and the
 * invalid tokens need a different token per request) and sees only the HTTP
 * status, not grpc-status or the VerifyKey code. Why not a grpc-js client: it
 * costs the generator several times more CPU per call, and on two cores the
 * generator's CPU is taken from the server under test.
 *
 * Timeline: warm-up (not counted), then the measured window, then in-flight
 * requests finish (bounded) and the result is printed as one JSON line on
 * stdout (and sent over IPC when forked). Messages to the parent:
 * {t:"measure-start"}, {t:"measure-end"}, {t:"result", result}; from the
 * parent, {t:"stop"} ends the measured window before `--duration-ms`.
 */
import fs from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import { createHistogram } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { type CallOutcome, RawGrpcConnection, selfTest } from "./lib/raw-h2.js";
import {
  checkEncoding,
  encodeVerifyRequest,
  grpcFrame,
  readVerifyCode,
  VERIFY_CODES,
  VERIFY_PATH,
} from "./lib/wire.js";

export interface LoadResult {
  protocol: string;
  client: string;
  concurrency: number;
  connections: number;
  windowMs: number;
  /** Requests completed inside the measured window. */
  requests: number;
  rps: number;
  /** grpc-status 0 (or HTTP 200 for Connect). */
  ok: number;
  /** Non-OK answers by kind: `grpc-<status>`, `http-<status>`, `transport`, `bad-body`. */
  errors: Record<string, number>;
  /** VerifyKey codes of the OK answers. */
  codes: Record<string, number>;
  latencyUs: { min: number; mean: number; p50: number; p90: number; p99: number; p999: number; max: number };
  /** Requests issued over the whole run (warm-up included): the token cursor advances by this much. */
  issued: number;
  /** The generator's own CPU in the window, % of one core. */
  generatorCpuPct: number;
  /** --rate (requests a second offered), 0 for a closed loop. */
  offeredRate: number;
}

const { values } = parseArgs({
  options: {
    protocol: { type: "string", default: "grpc" },
    client: { type: "string", default: "raw" },
    port: { type: "string" },
    concurrency: { type: "string", default: "64" },
    connections: { type: "string", default: "1" },
    "warmup-ms": { type: "string", default: "2000" },
    "duration-ms": { type: "string", default: "10000" },
    tokens: { type: "string" },
    offset: { type: "string", default: "0" },
    count: { type: "string", default: "0" },
    unknown: { type: "string" },
    "unknown-offset": { type: "string", default: "0" },
    "unknown-count": { type: "string", default: "0" },
    "unknown-every": { type: "string", default: "0" },
    "max-requests": { type: "string", default: "0" },
    rate: { type: "string", default: "0" },
    context: { type: "boolean", default: true },
  },
});

const protocol = values.protocol;
if (protocol !== "grpc" && protocol !== "connect-h1") throw new Error("--protocol must be grpc or connect-h1");
const port = Number(values.port);
const concurrency = Number(values.concurrency);
const connections = protocol === "connect-h1" ? concurrency : Math.min(Number(values.connections), concurrency);
const warmupMs = Number(values["warmup-ms"]);
const durationMs = Number(values["duration-ms"]);
const unknownEvery = Number(values["unknown-every"]);
/** Stop after issuing this many requests (0 = no limit): used to fill a cache before a cold scenario. */
const maxRequests = Number(values["max-requests"]);
/** --rate: requests a second over all lanes, each lane pacing itself (0 = closed loop, as fast as answers come). */
const rate = Number(values.rate);
if (!(rate >= 0)) throw new Error("bad --rate");
const laneIntervalMs = rate > 0 ? (concurrency / rate) * 1000 : 0;
if (!Number.isInteger(port) || port <= 0) throw new Error("--port is required");
if (!(concurrency >= 1 && concurrency <= 4096 && connections >= 1)) throw new Error("bad --concurrency/--connections");
if (!(durationMs > 0 && durationMs <= 600_000 && warmupMs >= 0 && warmupMs <= 60_000)) throw new Error("bad duration");
if (values.tokens === undefined) throw new Error("--tokens <file> is required");
const client = values.client;
if (client !== "raw" && client !== "node") throw new Error("--client must be raw or node");
if (rate > 0 && (protocol !== "grpc" || client !== "raw")) throw new Error("--rate needs --protocol grpc --client raw");

function readLines(file: string, offset: number, count: number): string[] {
  const all = fs.readFileSync(file, "utf8").split("\n");
  if (all[all.length - 1] === "") all.pop();
  if (all.length === 0) throw new Error(`${file} holds no tokens`);
  const n = count > 0 ? count : all.length;
  const out: string[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = all[(offset + i) % all.length] as string;
  return out;
}

/** Every request body (or whole HTTP/1.1 request) pre-built, as views into one buffer. */
function prebuild(tokens: string[]): Buffer[] {
  const encoded = tokens.map((token) => {
    const message = encodeVerifyRequest(token, values.context);
    if (protocol === "grpc") return grpcFrame(message);
    const head =
      `POST ${VERIFY_PATH} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/proto\r\n` +
      `Connect-Protocol-Version: 1\r\nContent-Length: ${message.length}\r\n\r\n`;
    return Buffer.concat([Buffer.from(head, "latin1"), message]);
  });
  const all = Buffer.concat(encoded);
  const views: Buffer[] = [];
  let at = 0;
  for (const e of encoded) {
    views.push(all.subarray(at, at + e.length));
    at += e.length;
  }
  return views;
}

const tokens = readLines(values.tokens, Number(values.offset), Number(values.count));
checkEncoding(tokens[0] as string, values.context);
const bodies = prebuild(tokens);
const unknownBodies =
  unknownEvery > 0 && values.unknown !== undefined
    ? prebuild(readLines(values.unknown, Number(values["unknown-offset"]), Number(values["unknown-count"])))
    : [];
let nextBody = 0;
let nextUnknown = 0;
let issued = 0;

function takeBody(): Buffer {
  issued++;
  if (maxRequests > 0 && issued >= maxRequests) endWindow();
  if (unknownBodies.length > 0 && issued % unknownEvery === 0) {
    const body = unknownBodies[nextUnknown] as Buffer;
    nextUnknown = (nextUnknown + 1) % unknownBodies.length;
    return body;
  }
  const body = bodies[nextBody] as Buffer;
  nextBody = (nextBody + 1) % bodies.length;
  return body;
}

// --- measurement -----------------------------------------------------------

let measuring = false;
let draining = false;
const histogram = createHistogram({ lowest: 1, highest: 60_000_000_000, figures: 3 });
let ok = 0;
let completed = 0;
const errors: Record<string, number> = {};
const codeCounts = new Uint32Array(VERIFY_CODES.length + 1);

function countError(kind: string): void {
  errors[kind] = (errors[kind] ?? 0) + 1;
}

/** One finished request: latency in ms, `status` 0 = OK, else an error kind. */
function finish(latencyMs: number, error: string | undefined, code: number): void {
  if (!measuring) return;
  completed++;
  histogram.record(Math.max(1, Math.round(latencyMs * 1e6)));
  if (error !== undefined) countError(error);
  else {
    ok++;
    const slot = code >= 0 && code < VERIFY_CODES.length ? code : VERIFY_CODES.length;
    codeCounts[slot] = (codeCounts[slot] ?? 0) + 1;
  }
}

// --- gRPC over raw HTTP/2 --------------------------------------------------

const GRPC_HEADERS = {
  ":method": "POST",
  ":path": VERIFY_PATH,
  "content-type": "application/grpc",
  te: "trailers",
};

function grpcCode(chunks: Buffer[]): number {
  const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
  if (bytes.length < 5 || bytes[0] !== 0) return -1;
  const length = bytes.readUInt32BE(1);
  if (bytes.length !== 5 + length) return -1;
  return readVerifyCode(bytes, 5, 5 + length);
}

function grpcLane(session: http2.ClientHttp2Session, done: () => void): void {
  const issue = (): void => {
    if (draining || session.closed || session.destroyed) {
      done();
      return;
    }
    const body = takeBody();
    const started = performance.now();
    const stream = session.request(GRPC_HEADERS);
    let status: string | undefined;
    let httpStatus = 0;
    const chunks: Buffer[] = [];
    let failed = false;
    stream.on("response", (headers) => {
      httpStatus = Number(headers[":status"]);
      const s = headers["grpc-status"];
      if (s !== undefined) status = String(s);
    });
    stream.on("trailers", (trailers) => {
      const s = trailers["grpc-status"];
      if (s !== undefined) status = String(s);
    });
    stream.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
    });
    stream.on("error", () => {
      failed = true;
    });
    stream.on("close", () => {
      const latency = performance.now() - started;
      if (failed || status === undefined)
        finish(latency, httpStatus && httpStatus !== 200 ? `http-${httpStatus}` : "transport", 0);
      else if (status !== "0") finish(latency, `grpc-${status}`, 0);
      else {
        const code = grpcCode(chunks);
        finish(latency, code < 0 ? "bad-body" : undefined, code);
      }
      issue();
    });
    stream.end(body);
  };
  issue();
}

async function runGrpc(onAllDone: () => void): Promise<() => void> {
  const sessions: http2.ClientHttp2Session[] = [];
  for (let i = 0; i < connections; i++) {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", (error) => {
      process.stderr.write(`loadgen: session error: ${error.message}\n`);
    });
    await new Promise<void>((resolve, reject) => {
      session.once("connect", () => resolve());
      session.once("error", reject);
    });
    sessions.push(session);
  }
  let running = concurrency;
  const laneDone = () => {
    running--;
    if (running === 0) onAllDone();
  };
  for (let lane = 0; lane < concurrency; lane++)
    grpcLane(sessions[lane % connections] as http2.ClientHttp2Session, laneDone);
  return () => {
    for (const s of sessions) s.destroy();
  };
}

function rawLane(connection: RawGrpcConnection, done: () => void, lane: number): void {
  // With --rate, lanes start staggered over one interval and keep to it (no burst to catch up when late).
  let next = performance.now() + (laneIntervalMs * lane) / concurrency;
  const issue = (): void => {
    if (draining) {
      done();
      return;
    }
    if (laneIntervalMs > 0) {
      const wait = next - performance.now();
      if (wait > 1) {
        setTimeout(issue, wait);
        return;
      }
      next = Math.max(next + laneIntervalMs, performance.now());
    }
    const started = performance.now();
    connection.call(takeBody(), (outcome: CallOutcome) => {
      const latency = performance.now() - started;
      if (!outcome.ok) finish(latency, outcome.error, 0);
      else {
        const m = outcome.message;
        const length = m.length >= 5 && m[0] === 0 ? m.readUInt32BE(1) : -1;
        const code = length === m.length - 5 ? readVerifyCode(m, 5, m.length) : -1;
        finish(latency, code < 0 ? "bad-body" : undefined, code);
      }
      issue();
    });
  };
  issue();
}

async function runRaw(onAllDone: () => void): Promise<() => void> {
  await selfTest();
  const conns: RawGrpcConnection[] = [];
  for (let i = 0; i < connections; i++) {
    const c = new RawGrpcConnection(port, VERIFY_PATH);
    await c.ready;
    conns.push(c);
  }
  let running = concurrency;
  const laneDone = () => {
    running--;
    if (running === 0) onAllDone();
  };
  for (let lane = 0; lane < concurrency; lane++)
    rawLane(conns[lane % connections] as RawGrpcConnection, laneDone, lane);
  return () => {
    for (const c of conns) c.close();
  };
}

// --- Connect over HTTP/1.1 -------------------------------------------------

/** Parses one complete HTTP/1.1 response at the start of `buf`; undefined while incomplete. */
function parseH1(buf: Buffer): { status: number; body: Buffer; used: number } | undefined {
  const headEnd = buf.indexOf("\r\n\r\n");
  if (headEnd < 0) return undefined;
  const head = buf.toString("latin1", 0, headEnd).toLowerCase();
  const status = Number(head.slice(9, 12));
  const lengthMatch = /\r\ncontent-length: *(\d+)/.exec(head);
  let at = headEnd + 4;
  if (lengthMatch) {
    const length = Number(lengthMatch[1]);
    if (buf.length < at + length) return undefined;
    return { status, body: buf.subarray(at, at + length), used: at + length };
  }
  if (!/\r\ntransfer-encoding: *chunked/.test(head)) return { status, body: Buffer.alloc(0), used: at };
  const parts: Buffer[] = [];
  for (;;) {
    const lineEnd = buf.indexOf("\r\n", at);
    if (lineEnd < 0) return undefined;
    const size = Number.parseInt(buf.toString("latin1", at, lineEnd), 16);
    if (!Number.isFinite(size)) throw new Error("bad chunk size");
    const dataStart = lineEnd + 2;
    if (buf.length < dataStart + size + 2) return undefined;
    if (size === 0) {
      // No trailers expected from a unary Connect answer.
      return { status, body: Buffer.concat(parts), used: dataStart + 2 };
    }
    parts.push(buf.subarray(dataStart, dataStart + size));
    at = dataStart + size + 2;
  }
}

function h1Lane(done: () => void): net.Socket {
  const socket = net.connect(port, "127.0.0.1");
  socket.setNoDelay(true);
  let pending: Buffer | undefined;
  let started = 0;
  let finished = false;
  const end = () => {
    if (!finished) {
      finished = true;
      done();
    }
  };
  const issue = () => {
    if (draining) {
      end();
      return;
    }
    started = performance.now();
    socket.write(takeBody());
  };
  socket.on("connect", issue);
  socket.on("data", (chunk: Buffer) => {
    pending = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
    const response = parseH1(pending);
    if (response === undefined) return;
    pending = response.used < pending.length ? pending.subarray(response.used) : undefined;
    const latency = performance.now() - started;
    if (response.status !== 200) finish(latency, `http-${response.status}`, 0);
    else {
      const code = readVerifyCode(response.body, 0, response.body.length);
      finish(latency, code < 0 ? "bad-body" : undefined, code);
    }
    issue();
  });
  socket.on("error", () => {
    if (measuring) countError("transport");
  });
  socket.on("close", end);
  return socket;
}

async function runH1(onAllDone: () => void): Promise<() => void> {
  let running = concurrency;
  const sockets: net.Socket[] = [];
  for (let i = 0; i < concurrency; i++) {
    sockets.push(
      h1Lane(() => {
        running--;
        if (running === 0) onAllDone();
      }),
    );
  }
  return () => {
    for (const s of sockets) s.destroy();
  };
}

// --- the run ----------------------------------------------------------------

const hardLimit = setTimeout(
  () => {
    process.stderr.write("loadgen: hard time limit reached\n");
    process.exit(2);
  },
  warmupMs + durationMs + 20_000,
);

let windowStart = 0;
let windowMs = 0;
let cpuStart = process.cpuUsage();
let cpuWindow = { user: 0, system: 0 };
let windowEnded = false;

/** Ends the measured window (time, request limit, whichever first): no new requests after this. */
function endWindow(): void {
  if (windowEnded) return;
  windowEnded = true;
  measuring = false;
  draining = true;
  windowMs = performance.now() - windowStart;
  cpuWindow = process.cpuUsage(cpuStart);
  process.send?.({ t: "measure-end" });
}

// {t:"stop"} from the parent ends the window early (a run whose length the parent decides).
process.on("message", (message: { t?: string }) => {
  if (message?.t === "stop") endWindow();
});

const allDone = new Promise<void>((resolve) => {
  const onAllDone = () => resolve();
  const start =
    protocol === "connect-h1" ? runH1(onAllDone) : client === "raw" ? runRaw(onAllDone) : runGrpc(onAllDone);
  void start.then(
    (closeAll) => {
      windowStart = performance.now();
      setTimeout(() => {
        if (windowEnded) return;
        histogram.reset();
        measuring = true;
        windowStart = performance.now();
        cpuStart = process.cpuUsage();
        process.send?.({ t: "measure-start" });
      }, warmupMs);
      setTimeout(() => {
        endWindow();
        // In-flight requests get 5 s to finish; then the connections are cut.
        setTimeout(() => {
          closeAll();
          resolve();
        }, 5000).unref();
      }, warmupMs + durationMs).unref();
      void allDone.then(closeAll);
    },
    (error: unknown) => {
      process.stderr.write(`loadgen: cannot connect: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(3);
    },
  );
});

await allDone;
clearTimeout(hardLimit);
const us = (ns: number) => Math.round(ns / 100) / 10;
const codes: Record<string, number> = {};
codeCounts.forEach((n, i) => {
  if (n > 0) codes[VERIFY_CODES[i] ?? "UNPARSED"] = n;
});
const result: LoadResult = {
  protocol,
  client: protocol === "grpc" ? client : "raw-h1",
  concurrency,
  connections,
  windowMs: Math.round(windowMs),
  requests: completed,
  rps: completed / (windowMs / 1000),
  ok,
  errors,
  codes,
  latencyUs: {
    min: us(histogram.min),
    mean: us(histogram.mean),
    p50: us(histogram.percentile(50)),
    p90: us(histogram.percentile(90)),
    p99: us(histogram.percentile(99)),
    p999: us(histogram.percentile(99.9)),
    max: us(histogram.max),
  },
  issued,
  generatorCpuPct: ((cpuWindow.user + cpuWindow.system) / 1000 / windowMs) * 100,
  offeredRate: rate,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
if (process.send) {
  process.send({ t: "result", result }, () => process.exit(0));
} else process.exit(0);
