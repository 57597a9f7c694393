/**
 * Fuzz of the service's two ports. gRPC: every KeyService RPC gets random and
 * mutated protobuf bodies through a grpc-js client with identity serializers.
 * Connect: every RPC gets mutated JSON (and some binary) bodies over plain
 * HTTP. Every answer must be a valid response or a well-formed error other
 * than INTERNAL/UNKNOWN (not a hang, not a dead process), and the service's
 * RSS must stay bounded. One service process serves both campaigns.
 * `npm run fuzz` runs many more cases with a printed seed.
 */
import { type ClientHttp2Session, connect as connectHttp2 } from "node:http2";
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from "node:zlib";
import { type DescMethod, fromBinary, fromJsonString } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyService } from "../../../src/gen/keyward/v1/key_service_pb.js";
import type { StreamMethodName, UnaryMethodName } from "../../support/grpc-client.js";
import {
  describeFailures,
  type FuzzService,
  grpcFrame,
  rawGrpcCall,
  rssBound,
  runCampaign,
  startFuzzService,
  summary,
} from "./campaign.js";
import { connectJsonBody, fuzzCases, fuzzSeed, GRPC_MAX_BYTES, protobufBody, type Random } from "./generators.js";

/** Codes a bad request may get. INTERNAL, UNKNOWN, UNAVAILABLE, DEADLINE_EXCEEDED... are failures. */
const ACCEPTED = new Set([
  grpc.status.OK,
  grpc.status.INVALID_ARGUMENT,
  grpc.status.NOT_FOUND,
  grpc.status.ALREADY_EXISTS,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.FAILED_PRECONDITION,
  // A well-formed etag that is not the key's current one.
  grpc.status.ABORTED,
  grpc.status.OUT_OF_RANGE,
  grpc.status.UNAUTHENTICATED,
]);

const seed = fuzzSeed();
const grpcCases = fuzzCases(0.45, 1500);
const connectCases = fuzzCases(0.25, 800);
const CALL_DEADLINE_MS = 15_000;

let s: FuzzService;
let h2: ClientHttp2Session | undefined;
beforeAll(async () => {
  s = await startFuzzService();
});
afterAll(async () => {
  h2?.close();
  await s?.stop();
});

/**
 * The raw HTTP/2 session, opened again when the server has ended it. Over
 * tens of thousands of malformed calls Node's HTTP/2 server eventually ends a
 * session with ENHANCE_YOUR_CALM (its flood protection counts the resets and
 * refused streams such calls cause): a defence of the server, not a failure.
 */
function session(): ClientHttp2Session {
  if (h2 === undefined || h2.closed || h2.destroyed) {
    h2 = connectHttp2(`http://${s.grpcAddress}`);
    h2.on("error", () => undefined);
  }
  return h2;
}

/**
 * The framing a grpc-js client never sends: compressed (for real or not),
 * an unknown encoding, lengths that lie, two messages in a unary call, odd
 * timeouts and flags.
 */
interface OddFraming {
  kind: string;
  headers: Record<string, string>;
  frames: Uint8Array;
  /** Codes the protocol itself prescribes for this framing, besides the usual ones. */
  refusals?: grpc.status[];
}

function oddFraming(rng: Random, message: Uint8Array): OddFraming {
  // grpc-js refuses a unary call without exactly one whole message with UNIMPLEMENTED.
  const notOneMessage = [grpc.status.UNIMPLEMENTED];
  switch (rng.int(9)) {
    case 0:
      return { kind: "gzip", headers: { "grpc-encoding": "gzip" }, frames: grpcFrame(gzipSync(message), 1) };
    case 1: {
      const encoding = rng.pick(["gzip", "deflate"]);
      return { kind: `${encoding} garbage`, headers: { "grpc-encoding": encoding }, frames: grpcFrame(message, 1) };
    }
    case 2:
      return {
        kind: "unknown encoding",
        headers: { "grpc-encoding": "x-unknown" },
        frames: grpcFrame(message, 1),
        refusals: [grpc.status.UNIMPLEMENTED],
      };
    case 3: {
      const frames = grpcFrame(message, 0, message.length + rng.range(1, 100));
      return { kind: "length too long", headers: {}, frames, refusals: notOneMessage };
    }
    case 4: {
      const frames = Buffer.concat([grpcFrame(message), rng.bytes(rng.range(1, 4))]);
      return { kind: "trailing bytes", headers: {}, frames, refusals: notOneMessage };
    }
    case 5: {
      const frames = Buffer.concat([grpcFrame(message), grpcFrame(message)]);
      return { kind: "two messages", headers: {}, frames, refusals: notOneMessage };
    }
    case 6:
      return { kind: "no message", headers: {}, frames: new Uint8Array(0), refusals: notOneMessage };
    case 7: {
      const timeout = rng.pick(["abc", "99999999H", "720H", "1n", "-1S", "0m", "100000000S"]);
      // A timeout of (nearly) nothing expires, as it should.
      const refusals = timeout === "1n" || timeout === "0m" ? [grpc.status.DEADLINE_EXCEEDED] : [];
      return { kind: `timeout ${timeout}`, headers: { "grpc-timeout": timeout }, frames: grpcFrame(message), refusals };
    }
    default:
      return { kind: "odd flag", headers: {}, frames: grpcFrame(message, rng.pick([0x02, 0x80, 0xff])) };
  }
}

async function sendRawHttp2(method: DescMethod, framing: OddFraming) {
  const path = `/${KeyService.typeName}/${method.name}`;
  const headers = { authorization: `Bearer ${s.serviceToken}`, ...framing.headers };
  const answer = await rawGrpcCall(session(), path, headers, framing.frames);
  if (answer.error?.includes("ENHANCE_YOUR_CALM")) return { ok: true, outcome: "session ended (ENHANCE_YOUR_CALM)" };
  if (answer.status === undefined) return { ok: false, outcome: "no status", detail: answer.error };
  const name = grpc.status[answer.status] ?? String(answer.status);
  const ok = ACCEPTED.has(answer.status) || (framing.refusals ?? []).includes(answer.status);
  return { ok, outcome: `${name} (raw HTTP/2)`, detail: answer.message };
}

/** Credentials as they come: mostly the service's, sometimes none, a wrong one, or an odd actor. */
function metadataFor(roll: number, serviceToken: string): Record<string, string | undefined> {
  if (roll < 0.85) return {};
  if (roll < 0.9) return { authorization: undefined };
  if (roll < 0.94) return { authorization: `Bearer ${serviceToken.slice(0, -1)}x` };
  if (roll < 0.97) return { authorization: "Basic Zm9vOmJhcg==" };
  return { "keyward-actor": "a".repeat(300) };
}

async function send(method: DescMethod, body: Uint8Array, metadata: Record<string, string | undefined>) {
  const options = { deadline: Date.now() + CALL_DEADLINE_MS };
  try {
    if (method.methodKind === "server_streaming") {
      const messages = await s.admin.rawStream(method.localName as StreamMethodName, body, metadata, options);
      for (const message of messages) fromBinary(method.output, message);
    } else {
      fromBinary(method.output, await s.admin.raw(method.localName as UnaryMethodName, body, metadata, options));
    }
    return { ok: true, outcome: "OK" };
  } catch (error) {
    const { code, details } = error as { code?: number; details?: unknown };
    if (typeof code !== "number") return { ok: false, outcome: "not a gRPC status", detail: String(error) };
    const name = grpc.status[code] ?? String(code);
    // A well-formed error says what is wrong.
    const wellFormed = typeof details === "string" && details.length > 0;
    return { ok: ACCEPTED.has(code) && wellFormed, outcome: name, detail: String(details) };
  }
}

describe("fuzz: the service's ports", () => {
  it(
    `answers every random and mutated protobuf body of every RPC without INTERNAL (seed ${seed})`,
    async () => {
      const methods = KeyService.methods;
      const result = await runCampaign({
        name: "grpc",
        seed,
        cases: grpcCases,
        concurrency: 8,
        batch: 250,
        make(rng) {
          const method = rng.pick(methods);
          // Oversized bodies cost a megabyte each: about one in 400 cases.
          const generated = protobufBody(rng, method.input, s.pools, rng.chance(0.04));
          // Odd framing of bodies within the limit (oversized ones go through grpc-js above).
          const framing =
            rng.chance(0.08) && generated.body.length <= GRPC_MAX_BYTES ? oddFraming(rng, generated.body) : undefined;
          const kind = framing === undefined ? generated.kind : `${generated.kind}, ${framing.kind}`;
          return {
            ...generated,
            kind,
            target: method.name,
            method,
            metadata: metadataFor(rng.next(), s.serviceToken),
            framing,
          };
        },
        send: (c) =>
          c.framing === undefined
            ? send(c.method, c.body as Uint8Array, c.metadata)
            : sendRawHttp2(c.method, c.framing),
        async healthy() {
          expect(await s.admin.health()).toBe("SERVING");
          expect(s.child.child.exitCode).toBeNull();
        },
        rssMiB: s.rssMiB,
      });
      console.log(summary("grpc", seed, grpcCases, result));
      expect(result.failures, describeFailures(seed, result, s.errorLines())).toEqual([]);
      // No answer was INTERNAL, and nothing else went wrong unseen: the service logged no error.
      expect(s.errorLines(), "the service logged errors").toEqual([]);
      expect(result.rss.peak).toBeLessThan(rssBound(result.rss.baseline));
      // Every RPC was reached, and most bodies got past parsing to validation and beyond.
      const reached = new Set([...result.outcomes.keys()].map((label) => label.split(" ")[0]));
      expect([...reached].sort()).toEqual(methods.map((m) => m.name).sort());
    },
    Math.max(60_000, grpcCases * 60),
  );

  it(
    `answers every mutated JSON body of every Connect endpoint without internal/unknown (seed ${seed})`,
    async () => {
      const methods = KeyService.methods;
      const result = await runCampaign({
        name: "connect",
        seed,
        cases: connectCases,
        concurrency: 8,
        batch: 200,
        make(rng) {
          const method = rng.pick(methods);
          const binary = method.methodKind === "unary" && rng.chance(0.15);
          const generated = binary
            ? protobufBody(rng, method.input, s.pools)
            : connectJsonBody(rng, method.input, s.pools);
          const auth = rng.next();
          const authorization =
            auth < 0.9 ? `Bearer ${s.serviceToken}` : auth < 0.95 ? undefined : `Bearer ${"x".repeat(43)}`;
          return { ...generated, target: method.name, method, binary, authorization, odd: oddHeaders(rng) };
        },
        send: (c) => sendConnect(c.method, c.body as Uint8Array, c.binary, c.authorization, c.odd),
        async healthy() {
          expect(await s.admin.health()).toBe("SERVING");
          const res = await fetch(`${s.connectUrl}/${KeyService.typeName}/VerifyKey`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ token: s.healthToken }),
          });
          expect(await res.json()).toMatchObject({ valid: true });
        },
        rssMiB: s.rssMiB,
      });
      console.log(summary("connect", seed, connectCases, result));
      expect(result.failures, describeFailures(seed, result, s.errorLines())).toEqual([]);
      expect(s.errorLines(), "the service logged errors").toEqual([]);
      expect(result.rss.peak).toBeLessThan(rssBound(result.rss.baseline));
      const reached = new Set([...result.outcomes.keys()].map((label) => label.split(" ")[0]));
      expect([...reached].sort()).toEqual(methods.map((m) => m.name).sort());
    },
    Math.max(60_000, connectCases * 80),
  );
});

/** Connect's codes a bad request may get; "internal" and "unknown" (HTTP 500) are failures. */
const CONNECT_ACCEPTED = new Set([
  "invalid_argument",
  "not_found",
  "already_exists",
  "resource_exhausted",
  "failed_precondition",
  "aborted",
  "out_of_range",
  "unauthenticated",
]);

/**
 * Refusals of the protocol itself, before any message: a content type
 * connect-node does not serve (415, no body), a protocol version it does not
 * speak (400), an encoding nobody supports (unimplemented, as the Connect
 * protocol prescribes). Well formed, and not an input reaching the service.
 */
function protocolRefusal(status: number, text: string, odd: ReturnType<typeof oddHeaders>): boolean {
  if (odd.headers["content-type"] !== undefined && status === 415) return true;
  if (
    odd.headers["connect-protocol-version"] !== undefined &&
    status === 400 &&
    text.includes("connect-protocol-version")
  ) {
    return true;
  }
  return odd.headers["content-encoding"] === "x-unknown" && text.includes('"code":"unimplemented"');
}

function connectVerdict(status: number, error: unknown) {
  const e = error as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : `HTTP ${status} without a code`;
  const wellFormed = typeof e?.message === "string" && e.message.length > 0;
  return { ok: status !== 500 && CONNECT_ACCEPTED.has(code) && wellFormed, outcome: code, detail: JSON.stringify(e) };
}

/** One Connect call over HTTP/1.1: unary JSON or binary, or a server stream in connect+json envelopes. */
/** Now and then an odd header: a strange actor, timeout or version, another content type, or compression. */
function oddHeaders(rng: Random): { headers: Record<string, string>; compress?: "gzip" | "br" } {
  if (rng.chance(0.8)) return { headers: {} };
  switch (rng.int(5)) {
    case 0:
      return { headers: { "keyward-actor": rng.pick(["", " ", "a".repeat(300), "\u00e9t\u00e9@example.com", "\t"]) } };
    case 1:
      return {
        headers: { "connect-timeout-ms": rng.pick(["", "-1", "abc", "99999999999999999999", "0", "1", "1e3"]) },
      };
    case 2: {
      // Compressed for real, or only said to be; or an encoding nobody supports.
      const encoding = rng.pick(["gzip", "br", "x-unknown"] as const);
      const compress = encoding !== "x-unknown" && rng.chance(0.6) ? encoding : undefined;
      return { headers: { "content-encoding": encoding, "connect-content-encoding": encoding }, compress };
    }
    case 3:
      return { headers: { "connect-protocol-version": rng.pick(["1", "2", ""]) } };
    default:
      return {
        headers: {
          "content-type": rng.pick([
            "application/json; charset=utf-16",
            "application/JSON",
            "text/plain",
            "application/proto+json",
          ]),
        },
      };
  }
}

async function sendConnect(
  method: DescMethod,
  body: Uint8Array,
  binary: boolean,
  authorization: string | undefined,
  odd: ReturnType<typeof oddHeaders> = { headers: {} },
) {
  const streaming = method.methodKind === "server_streaming";
  const headers: Record<string, string> = {
    "content-type": streaming ? "application/connect+json" : binary ? "application/proto" : "application/json",
    ...odd.headers,
  };
  if (authorization !== undefined) headers.authorization = authorization;
  const message = odd.compress === "gzip" ? gzipSync(body) : odd.compress === "br" ? brotliCompressSync(body) : body;
  let payload = message;
  if (streaming) {
    payload = new Uint8Array(5 + message.length);
    payload[0] = odd.compress === undefined ? 0 : 1;
    new DataView(payload.buffer).setUint32(1, message.length);
    payload.set(message, 5);
  }
  const res = await fetch(`${s.connectUrl}/${KeyService.typeName}/${method.name}`, {
    method: "POST",
    headers,
    body: payload,
    signal: AbortSignal.timeout(CALL_DEADLINE_MS),
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  const text = Buffer.from(bytes).toString("utf8");
  if (protocolRefusal(res.status, text, odd)) return { ok: true, outcome: `protocol refusal ${res.status}` };
  if (!streaming || res.status !== 200) {
    if (res.status !== 200) return connectVerdict(res.status, parseJson(text));
    // A valid answer is a valid message of the method's output.
    if (binary) fromBinary(method.output, bytes);
    else fromJsonString(method.output, text);
    return { ok: true, outcome: "OK" };
  }
  // Envelopes: flags(1) length(4) data; the last (flag 2) ends the stream, with the error if any.
  // Flag 1: compressed with the encoding the answer names (the server answers in the request's).
  const encoding = res.headers.get("connect-content-encoding");
  let at = 0;
  while (at + 5 <= bytes.length) {
    const flags = bytes[at] as number;
    const length = new DataView(bytes.buffer, bytes.byteOffset + at + 1, 4).getUint32(0);
    let payload = Buffer.from(bytes.subarray(at + 5, at + 5 + length));
    if (flags & 0b01) payload = encoding === "br" ? brotliDecompressSync(payload) : gunzipSync(payload);
    const data = payload.toString("utf8");
    at += 5 + length;
    if (flags & 0b10) {
      const end = parseJson(data) as { error?: unknown } | null;
      return end?.error === undefined ? { ok: true, outcome: "OK" } : connectVerdict(200, end.error);
    }
    fromJsonString(method.output, data);
  }
  return { ok: false, outcome: "stream without an end", detail: text.slice(0, 300) };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { code: `not JSON: ${text.slice(0, 80)}` };
  }
}
