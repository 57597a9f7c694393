/**
 * Request size limits on every port. gRPC (grpc-js) refuses a message over
 * 1 MiB with RESOURCE_EXHAUSTED; the Connect port refuses a body over 1 MiB
 * with resource_exhausted, whether or not it says its length up front, and
 * leaves the connection usable or closes it (never hung); the
 * gateway answers 413 (test/integration/gateway/http.test.ts covers a body
 * with Content-Length and a chunked one) and 431 for headers over Node's
 * limit. Each port keeps serving afterwards.
 */

import { Agent, request } from "node:http";
import { create, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_BODY_BYTES } from "../../src/gateway/server.js";
import { CreateKeyRequestSchema, KeyService } from "../../src/gen/keyward/v1/key_service_pb.js";
import { type Harness, startHarness } from "../integration/gateway/harness.js";
import { createKeyServiceGrpcClient, type KeyServiceGrpcClient } from "../support/grpc-client.js";
import { grpcError } from "../support/test-service.js";

const MIB = 1024 * 1024;
let h: Harness;
let grpcAdmin: KeyServiceGrpcClient;

beforeAll(async () => {
  h = await startHarness();
  grpcAdmin = createKeyServiceGrpcClient(h.grpcAddress, { token: h.serviceToken });
});
afterAll(async () => {
  connectAgent.destroy();
  grpcAdmin?.close();
  await h?.close();
});

const createKeyBytes = (descriptionBytes: number) =>
  toBinary(
    CreateKeyRequestSchema,
    create(CreateKeyRequestSchema, { name: "big", description: "x".repeat(descriptionBytes) }),
  );

/**
 * A POST that reads the answer even when the server answers before reading
 * the whole body and then drops the connection (fetch would report only the
 * reset). `chunked` sends no Content-Length.
 */
function post(
  url: string,
  headers: Record<string, string>,
  body: string,
  chunked = false,
  agent: Agent | false = false,
) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const bytes = Buffer.from(body);
    const req = request(url, {
      agent,
      method: "POST",
      headers: chunked ? headers : { ...headers, "content-length": String(bytes.length) },
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
    });
    // A reset after the answer arrived is expected; before it, it is the failure.
    req.on("error", reject);
    for (let i = 0; i < bytes.length; i += 65536) req.write(bytes.subarray(i, i + 65536));
    req.end();
  });
}

/** One connection, kept alive and reused by every call, as the gateway's client keeps its own. */
const connectAgent = new Agent({ keepAlive: true, maxSockets: 1 });

const connectPost = (body: string, chunked = false) =>
  post(
    `${h.serviceUrl}/${KeyService.typeName}/CreateKey`,
    { "content-type": "application/json", authorization: `Bearer ${h.serviceToken}` },
    body,
    chunked,
    connectAgent,
  );

describe("request size limits", () => {
  it("gRPC: a message over 1 MiB is RESOURCE_EXHAUSTED; one under it reaches validation", async () => {
    const over = await grpcError(grpcAdmin.raw("createKey", createKeyBytes(MIB)));
    expect(over.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const under = await grpcError(grpcAdmin.raw("createKey", createKeyBytes(MIB - 1024)));
    expect(under).toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringMatching(/^description:/),
    });
    expect(await grpcAdmin.health()).toBe("SERVING");
  });

  // Node's HTTP/2 layer resets a stream whose headers exceed its limit (64 KiB)
  // before grpc-js sees the call, so no gRPC status is sent: grpc-js clients
  // report the reset as INTERNAL ("Received RST_STREAM with code 9"). That is
  // the client's word for a refused stream, not an answer of the service; what
  // matters is that the call is refused and the port keeps serving.
  it("gRPC: metadata over 64 KiB is refused by HTTP/2, and the port keeps serving", async () => {
    await expect(grpcAdmin.unary("countKeys", {}, { "x-padding": "p".repeat(60 * 1024) })).resolves.toBeDefined();
    const error = await grpcError(grpcAdmin.unary("countKeys", {}, { "x-padding": "p".repeat(128 * 1024) }));
    expect(error.details).toMatch(/RST_STREAM/);
    await expect(grpcAdmin.unary("countKeys", {})).resolves.toBeDefined();
    expect(await grpcAdmin.health()).toBe("SERVING");
  });

  it("Connect: a JSON body over 1 MiB is resource_exhausted, with or without Content-Length", async () => {
    const big = JSON.stringify({ name: "big", description: "x".repeat(2 * MIB) });
    const under = JSON.stringify({ name: "big", description: "x".repeat(MIB - 1024) });
    // Each refusal is followed by a call on the same kept-alive connection. A
    // refused body used to stay unread: a client reusing the connection waited
    // for the keep-alive timeout and got a reset. Now the rest of a sized body
    // is read and dropped (the connection stays usable), and a connection whose
    // body connect-node cut off midway is closed after the answer.
    for (const chunked of [false, true]) {
      const refused = await connectPost(big, chunked);
      expect({ chunked, status: refused.status }).toEqual({ chunked, status: 429 });
      expect(JSON.parse(refused.body)).toMatchObject({ code: "resource_exhausted" });
      const started = performance.now();
      // Under the limit it is the field that is wrong.
      const next = await connectPost(under);
      expect(performance.now() - started).toBeLessThan(3000);
      expect(JSON.parse(next.body)).toMatchObject({
        code: "invalid_argument",
        message: expect.stringMatching(/^description:/),
      });
    }
    // fetch (undici) still uploading when the answer comes gets the answer, not a reset.
    const res = await fetch(`${h.serviceUrl}/${KeyService.typeName}/CreateKey`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${h.serviceToken}` },
      body: JSON.stringify({ name: "big", description: "x".repeat(12 * MIB) }),
    });
    expect(res.status).toBe(429);
    expect(await res.json()).toMatchObject({ code: "resource_exhausted" });
    expect((await connectPost(JSON.stringify({ name: "small" }))).status).toBe(200);
  });

  it("gateway: the body limit is 1 MiB (413 above), headers over Node's limit are 431, and it keeps serving", async () => {
    expect(MAX_BODY_BYTES).toBe(MIB);
    const admin = await h.consoleKey("admin");
    const headers = { authorization: `Bearer ${admin.token}`, "content-type": "application/json" };
    const big = JSON.stringify({ name: "big", description: "x".repeat(MIB) });
    for (const chunked of [false, true]) {
      const over = await post(`${h.url}/trpc/keys.create`, headers, big, chunked);
      expect(over.status).toBe(413);
      expect(JSON.parse(over.body)).toMatchObject({ error: { data: { code: "PAYLOAD_TOO_LARGE", httpStatus: 413 } } });
    }
    const long = await fetch(`${h.url}/trpc/me`, { headers: { authorization: `Bearer ${"x".repeat(64 * 1024)}` } });
    expect(long.status).toBe(431);
    const me = await fetch(`${h.url}/trpc/me`, { headers: { authorization: `Bearer ${admin.token}` } });
    expect(me.status).toBe(200);
  });
});
