import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "./harness.js";

/** Each call of a tRPC batch is authenticated: a batch that revokes its own key makes no change after that. */

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

type BatchAnswer = { result?: { data: unknown }; error?: { message: string; data: { code: string } } }[];

async function batch(token: string, calls: [string, unknown][]): Promise<BatchAnswer> {
  const paths = calls.map(([path]) => path).join(",");
  const body = Object.fromEntries(calls.map(([, input], i) => [String(i), input]));
  const res = await fetch(`${h.url}/trpc/${paths}?batch=1`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return (await res.json()) as BatchAnswer;
}

describe("batches", () => {
  it("[delete my own key, create, create, create] creates nothing after the delete", async () => {
    for (let round = 0; round < 5; round++) {
      const admin = await h.consoleKey("admin");
      const before = (await h.service.countKeys({})).count;
      const answers = await batch(admin.token, [
        ["keys.delete", { id: admin.id, reason: "leaving" }],
        ["keys.create", { name: "after 1" }],
        ["keys.create", { name: "after 2" }],
        ["keys.create", { name: "after 3" }],
      ]);
      expect(answers[0]?.result).toBeDefined();
      for (const answer of answers.slice(1)) {
        expect(answer.error?.data.code).toBe("UNAUTHORIZED");
        expect(answer.error?.message).toBe("this key has been revoked");
      }
      expect((await h.service.countKeys({})).count).toBe(before);
    }
  });

  it("[disable my own key, update] makes no change after the disable", async () => {
    const admin = await h.consoleKey("admin");
    const { key } = await h.client((await h.consoleKey("admin")).token).keys.create.mutate({ name: "target" });
    const answers = await batch(admin.token, [
      ["keys.update", { id: admin.id, enabled: false }],
      ["keys.update", { id: key.id, name: "changed" }],
    ]);
    expect(answers[0]?.result).toBeDefined();
    expect(answers[1]?.error?.data.code).toBe("UNAUTHORIZED");
    expect((await h.service.getKey({ id: key.id })).key?.name).toBe("target");
  });
});

describe("error answers", () => {
  it("carry no stack trace and no server path, signed in or not", async () => {
    const admin = await h.consoleKey("admin");
    for (const token of ["", "kw_wrong", admin.token]) {
      const answers = await batch(token, [
        ["keys.get", { id: "nope" }],
        ["keys.create", { name: "" }],
        ["keys.get", { id: "01890000-0000-7000-8000-000000000000" }],
        ["keys.nope", {}],
      ]);
      const text = JSON.stringify(answers);
      expect(text).toContain("error");
      for (const leak of ["stack", "/src/", "/work/", "node_modules", ".ts:"]) expect(text).not.toContain(leak);
    }
  });
});
