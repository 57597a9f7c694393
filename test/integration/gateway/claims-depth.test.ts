import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "./harness.js";

/** Deeply nested claims are refused the same way, arrays or objects, at any depth: a 400 naming the path. */

let h: Harness;
let token: string;
beforeAll(async () => {
  h = await startHarness();
  token = (await h.consoleKey("admin")).token;
});
afterAll(async () => {
  await h.close();
});

/** JSON text of a value nested `depth` deep, written out (JSON.stringify itself overflows the stack at 20,000). */
function nested(depth: number, kind: "array" | "object" | "mixed"): string {
  const opens: string[] = [];
  const closes: string[] = [];
  for (let i = 0; i < depth; i++) {
    const array = kind === "array" || (kind === "mixed" && i % 2 === 0);
    opens.push(array ? "[" : '{"a":');
    closes.push(array ? "]" : "}");
  }
  return `${opens.join("")}1${closes.reverse().join("")}`;
}

async function call(path: string, fields: string) {
  const res = await fetch(`${h.url}/trpc/${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: `{${fields}}`,
  });
  return { status: res.status, body: (await res.json()) as { error?: { message: string; data: { code: string } } } };
}

describe("claims nested too deep", () => {
  it.each([
    ["array", 33],
    ["array", 900],
    ["array", 20_000],
    ["object", 100],
    ["object", 900],
    ["mixed", 901],
  ] as const)("%s nested %i deep is a 400 naming claims, on create and on update", async (kind, depth) => {
    const created = await call("keys.create", `"name":"deep","claims":{"deep":${nested(depth, kind)}}`);
    expect(created.status).toBe(400);
    expect(created.body.error?.data.code).toBe("BAD_REQUEST");
    expect(created.body.error?.message).toMatch(/^claims\.deep.*nested deeper than 32 levels/);

    const { key } = await h.client(token).keys.create.mutate({ name: "shallow" });
    const updated = await call("keys.update", `"id":"${key.id}","claims":{"deep":${nested(depth, kind)}}`);
    expect(updated.status).toBe(400);
    expect(updated.body.error?.message).toMatch(/^claims\.deep.*nested deeper than 32 levels/);
  });

  it("32 levels are fine", async () => {
    const created = await call("keys.create", `"name":"ok","claims":{"deep":${nested(31, "mixed")}}`);
    expect(created.status).toBe(200);
  });
});
