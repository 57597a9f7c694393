/**
 * No answer of any port carries a stack trace or a server path. The usual
 * mistakes go to every procedure of the gateway's appRouter (walked from the
 * router, so a new procedure is covered without anyone remembering this
 * file) and to the service's Connect port.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appRouter } from "../../src/gateway/routers/_app.js";
import { type Harness, startHarness } from "../integration/gateway/harness.js";

const LEAKS = [/\bstack\b/i, /\/src\//, /\/work\//, /node_modules/, /\.ts:\d/, /\.js:\d/, /\n\s+at /];

type ProcedureType = "query" | "mutation" | "subscription";
function procedures(): { path: string; type: ProcedureType }[] {
  const record = (appRouter._def as unknown as { procedures: Record<string, { _def: { type: ProcedureType } }> })
    .procedures;
  return Object.entries(record).map(([path, procedure]) => ({ path, type: procedure._def.type }));
}

let h: Harness;
let admin: string;
let member: string;
beforeAll(async () => {
  h = await startHarness();
  admin = (await h.consoleKey("admin")).token;
  member = (await h.consoleKey("member")).token;
});
afterAll(async () => {
  await h.close();
});

function expectNoLeak(what: string, text: string): void {
  for (const leak of LEAKS) expect({ what, leak: leak.test(text) }).toEqual({ what, leak: false });
}

/** The usual mistakes: no key, a wrong key, a member's key, bad JSON, wrong types, unknown ids, the wrong method. */
function mistakes(path: string, type: ProcedureType): { what: string; init: RequestInit; url: string }[] {
  const base = `${h.url}/trpc/${path}`;
  const post = (token: string | undefined, body: string): RequestInit => ({
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  });
  const get = (token: string | undefined): RequestInit => ({
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  const input = (value: unknown) => `${base}?input=${encodeURIComponent(JSON.stringify(value))}`;
  const asQuery = type === "query";
  return [
    { what: "no key", url: asQuery ? base : base, init: asQuery ? get(undefined) : post(undefined, "{}") },
    { what: "wrong key", url: base, init: asQuery ? get("kw_wrong") : post("kw_wrong", "{}") },
    { what: "member", url: base, init: asQuery ? get(member) : post(member, "{}") },
    { what: "bad JSON", url: base, init: post(admin, "{not json") },
    {
      what: "wrong types",
      url: asQuery ? input({ id: 42, pageSize: "x" }) : base,
      init: asQuery ? get(admin) : post(admin, '{"id":42,"name":[]}'),
    },
    {
      what: "unknown id",
      url: asQuery ? input({ id: "01890000-0000-7000-8000-000000000000" }) : base,
      init: asQuery ? get(admin) : post(admin, '{"id":"01890000-0000-7000-8000-000000000000"}'),
    },
    { what: "wrong method", url: base, init: asQuery ? post(admin, "{}") : get(admin) },
  ];
}

describe("no stack trace or server path in any answer", () => {
  it("the gateway: every procedure, every usual mistake", async () => {
    const all = procedures();
    expect(all.length).toBeGreaterThan(10);
    for (const { path, type } of all) {
      for (const { what, url, init } of mistakes(path, type)) {
        const res = await fetch(url, init);
        expectNoLeak(`${path} ${what}`, await res.text());
      }
    }
    for (const url of [`${h.url}/trpc/nope`, `${h.url}/nope`, `${h.url}/exports/x/download`]) {
      expectNoLeak(url, await (await fetch(url)).text());
    }
  }, 120_000);

  it("the service's Connect port", async () => {
    const rpc = (name: string, init: RequestInit) => fetch(`${h.serviceUrl}/keyward.v1.KeyService/${name}`, init);
    const answers = [
      await rpc("CreateKey", { method: "POST", headers: { "content-type": "application/json" }, body: "{" }),
      await rpc("CreateKey", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${h.serviceToken}` },
        body: '{"name": 5}',
      }),
      await rpc("GetKey", {
        method: "POST",
        headers: { "content-type": "application/proto", authorization: `Bearer ${h.serviceToken}` },
        body: new Uint8Array([0xff, 0xff, 0xff]),
      }),
      await rpc("Nope", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }),
    ];
    for (const res of answers) expectNoLeak(`${res.url} ${res.status}`, await res.text());
  });
});
