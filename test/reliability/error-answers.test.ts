/**
 * No answer of any port carries a stack trace or a server path. Every
 * procedure of the gateway's appRouter (walked from the router, so a new one
 * is checked too) gets the usual mistakes: no credential, a wrong one, a body
 * that is not JSON, missing fields, wrong types, unknown ids, the wrong
 * method; then an unknown procedure, the framework's own refusals, and a few
 * malformed requests to the service's Connect port.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appRouter } from "../../src/gateway/routers/_app.js";
import { KeyService } from "../../src/gen/keyward/v1/key_service_pb.js";
import { type Harness, startHarness, UNKNOWN_ID } from "../integration/gateway/harness.js";

const LEAKS = ["stack", "/src/", "/work/", "node_modules", ".ts:"];

type ProcedureType = "query" | "mutation" | "subscription";

function procedures(): { path: string; type: ProcedureType }[] {
  const record = (appRouter._def as unknown as { procedures: Record<string, { _def: { type: ProcedureType } }> })
    .procedures;
  return Object.entries(record).map(([path, procedure]) => ({ path, type: procedure._def.type }));
}

/** Every field name the procedures take, each with a value of the wrong type. */
const WRONG_TYPES = {
  id: 12,
  keyId: [],
  name: { a: 1 },
  description: 7,
  scopes: "read:users",
  pageSize: "ten",
  pageToken: 5,
  status: 1,
  permission: true,
  expiresInSeconds: "soon",
  gracePeriodSeconds: -1.5,
  claims: "x",
  resource: 9,
  from: 1,
  to: false,
  enabled: "yes",
};

let h: Harness;
let admin: string;
beforeAll(async () => {
  h = await startHarness();
  admin = (await h.consoleKey("admin")).token;
});
afterAll(async () => {
  await h?.close();
});

interface Attempt {
  what: string;
  method: "GET" | "POST";
  authorization?: string;
  /** The raw input: query ?input= for GET, the body for POST. */
  input?: string;
  contentType?: string;
}

function attempts(type: ProcedureType): Attempt[] {
  const right = type === "mutation" ? "POST" : "GET";
  const wrong = right === "GET" ? "POST" : "GET";
  const bearer = `Bearer ${admin}`;
  return [
    { what: "no credential", method: right, input: "{}" },
    { what: "a malformed credential", method: right, authorization: "Bearer nope", input: "{}" },
    { what: "an unknown key", method: right, authorization: `Bearer kw_${"A".repeat(38)}`, input: "{}" },
    { what: "bad JSON", method: right, authorization: bearer, input: '{"name": ' },
    { what: "bad JSON as curl -d", method: right, authorization: bearer, input: "{x", contentType: "text/plain" },
    { what: "missing fields", method: right, authorization: bearer, input: "{}" },
    { what: "wrong types", method: right, authorization: bearer, input: JSON.stringify(WRONG_TYPES) },
    { what: "not an object", method: right, authorization: bearer, input: "[1,2,3]" },
    { what: "unknown ids", method: right, authorization: bearer, input: JSON.stringify({ id: UNKNOWN_ID }) },
    {
      what: "malformed ids",
      method: right,
      authorization: bearer,
      input: JSON.stringify({ id: "../../etc/passwd", keyId: "x".repeat(300) }),
    },
    { what: "the wrong method", method: wrong, authorization: bearer, input: "{}" },
    { what: "an unsupported media type", method: "POST", authorization: bearer, input: "{}", contentType: "image/png" },
  ];
}

async function send(path: string, attempt: Attempt): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = { "content-type": attempt.contentType ?? "application/json" };
  if (attempt.authorization !== undefined) headers.authorization = attempt.authorization;
  const input = attempt.input ?? "{}";
  const res =
    attempt.method === "GET"
      ? await fetch(`${h.url}/trpc/${path}?input=${encodeURIComponent(input)}`, { headers })
      : await fetch(`${h.url}/trpc/${path}`, { method: "POST", headers, body: input });
  return { status: res.status, text: await res.text() };
}

function leaksIn(text: string): string[] {
  return LEAKS.filter((leak) => text.includes(leak));
}

describe("gateway error answers", () => {
  it("finds the procedures in the router", () => {
    expect(procedures().length).toBeGreaterThan(10);
  });

  it("no answer of any procedure to the usual mistakes carries a stack or a server path", async () => {
    const found: Array<{ path: string; what: string; status: number; leaks: string[] }> = [];
    let errors = 0;
    for (const { path, type } of procedures()) {
      for (const attempt of attempts(type)) {
        const { status, text } = await send(path, attempt);
        if (status >= 400) errors++;
        const leaks = leaksIn(text);
        if (leaks.length > 0) found.push({ path, what: attempt.what, status, leaks });
      }
    }
    expect(found).toEqual([]);
    // The mistakes were refused (most of them), so error answers were what was checked.
    expect(errors).toBeGreaterThan(procedures().length * 10);
  });

  it("nor does a batch, an unknown procedure, or an answer of the framework", async () => {
    const input = encodeURIComponent(JSON.stringify({ 0: {}, 1: { id: 5 } }));
    const requests: Array<[string, () => Promise<Response>]> = [
      ["a batch of mistakes", () => fetch(`${h.url}/trpc/keys.get,keys.usage?batch=1&input=${input}`)],
      [
        "an unknown procedure",
        () => fetch(`${h.url}/trpc/keys.nope`, { headers: { authorization: `Bearer ${admin}` } }),
      ],
      ["an unknown path", () => fetch(`${h.url}/nope/deeper`)],
      ["a bad percent-encoding", () => fetch(`${h.url}/trpc/%E0%A4%A`)],
      ["a path segment over the limit", () => fetch(`${h.url}/trpc/${"k".repeat(5000)}`)],
      [
        "a body over the limit",
        () => fetch(`${h.url}/trpc/keys.create`, { method: "POST", body: "x".repeat(2 * 1024 * 1024) }),
      ],
      [
        "a Content-Length that lies",
        () =>
          fetch(`${h.url}/trpc/keys.create`, {
            method: "POST",
            headers: { "content-type": "application/json", "content-encoding": "gzip" },
            body: "{}",
          }),
      ],
      ["a download of a bad id", () => fetch(`${h.url}/exports/..%2F..%2Fetc/download`)],
      ["a download without a key", () => fetch(`${h.url}/exports/${UNKNOWN_ID}/download?expires=1&sig=00`)],
    ];
    for (const [what, request] of requests) {
      const res = await request();
      const text = await res.text();
      expect({ what, status: res.status >= 400, leaks: leaksIn(text) }).toEqual({ what, status: true, leaks: [] });
      expect({ what, type: res.headers.get("content-type") }).toEqual({
        what,
        type: expect.stringMatching(/^application\/json/),
      });
      expect({ what, nosniff: res.headers.get("x-content-type-options") }).toEqual({ what, nosniff: "nosniff" });
    }
  });
});

describe("Connect port error answers", () => {
  it("no answer to a malformed request carries a stack or a server path", async () => {
    const base = `${h.serviceUrl}/${KeyService.typeName}`;
    const auth = { authorization: `Bearer ${h.serviceToken}` };
    const requests: Array<[string, RequestInit & { path: string }]> = [
      [
        "bad JSON",
        { path: "CreateKey", method: "POST", headers: { ...auth, "content-type": "application/json" }, body: "{" },
      ],
      [
        "wrong types",
        {
          path: "CreateKey",
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify({ name: 5, scopes: "x" }),
        },
      ],
      [
        "bad binary",
        {
          path: "GetKey",
          method: "POST",
          headers: { ...auth, "content-type": "application/proto" },
          body: new Uint8Array([0xff, 0xff, 0xff, 0x01]),
        },
      ],
      [
        "an unknown id",
        {
          path: "GetKey",
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify({ id: UNKNOWN_ID }),
        },
      ],
      [
        "no credential",
        { path: "ListKeys", method: "POST", headers: { "content-type": "application/json" }, body: "{}" },
      ],
      [
        "an unknown method",
        { path: "Nope", method: "POST", headers: { "content-type": "application/json" }, body: "{}" },
      ],
      [
        "the wrong HTTP method",
        { path: "GetKey", method: "PUT", headers: { "content-type": "application/json" }, body: "{}" },
      ],
      [
        "an unsupported media type",
        { path: "GetKey", method: "POST", headers: { ...auth, "content-type": "text/html" }, body: "<p>" },
      ],
    ];
    for (const [what, { path, ...init }] of requests) {
      const res = await fetch(`${base}/${path}`, init);
      const text = await res.text();
      expect({ what, status: res.status >= 400, leaks: leaksIn(text) }).toEqual({ what, status: true, leaks: [] });
    }
  });
});
