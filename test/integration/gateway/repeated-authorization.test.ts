import { afterAll, beforeAll, expect, it } from "vitest";
import { rawHttpRequest } from "../../support/raw-http.js";
import { type Harness, startHarness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

function me(values: string[]): Promise<{ status: number; body: string }> {
  const url = new URL(h.url);
  return rawHttpRequest({
    host: url.hostname,
    port: url.port,
    path: "/trpc/me",
    headers: [["host", url.host], ...values.map((value): [string, string] => ["authorization", value])],
  });
}

it("an Authorization header sent twice is refused, whichever value comes first", async () => {
  const right = `Bearer ${(await h.consoleKey("admin")).token}`;
  for (const values of [
    [right, "Bearer kw_wrong"],
    ["Bearer kw_wrong", right],
    [right, right],
  ]) {
    const answer = await me(values);
    expect(answer.status).toBe(401);
    expect(answer.body).toContain("exactly one Authorization header");
  }
  expect((await me([right])).status).toBe(200);
});
