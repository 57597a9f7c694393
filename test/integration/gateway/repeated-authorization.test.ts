import { request } from "node:http";
import { afterAll, beforeAll, expect, it } from "vitest";
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
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: "/trpc/me",
        // Raw headers are sent as given, one line per value; Host is ours to write.
        headers: [["host", url.host], ...values.map((value) => ["authorization", value])].flat(),
      },
      (res) => {
        let body = "";
        res.on("data", (chunk) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end();
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
