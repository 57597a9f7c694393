import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawHttpRequest } from "../../support/raw-http.js";
import { startTestService, type TestService } from "../../support/test-service.js";

/**
 * `authorization` sent twice, a right and a wrong value in either order, is
 * refused as UNAUTHENTICATED on both ports: never accepted for its order,
 * never INTERNAL. Node's own clients refuse to send it twice, so the gRPC
 * port is called with `buf curl` and the Connect port with raw HTTP/1.1.
 */

const run = promisify(execFile);
let t: TestService;
let right: string;
beforeAll(async () => {
  t = await startTestService();
  right = `Bearer ${t.service.serviceToken}`;
});
afterAll(async () => {
  await t.stop();
});

const orders = () => [
  [right, "Bearer wrong"],
  ["Bearer wrong", right],
  [right, right],
];

async function bufCurl(values: string[]): Promise<string> {
  const headers = values.flatMap((value) => ["-H", `authorization: ${value}`]);
  const url = `http://127.0.0.1:${t.service.grpcPort}/keyward.v1.KeyService/CountKeys`;
  try {
    const { stdout } = await run(
      "node_modules/.bin/buf",
      ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...headers, "--data", "{}", url],
      { timeout: 20_000 },
    );
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return `${e.stdout ?? ""}${e.stderr ?? ""}`;
  }
}

function connectCall(values: string[]): Promise<{ status: number; body: string }> {
  const port = t.service.connectPort;
  return rawHttpRequest({
    host: "127.0.0.1",
    port,
    method: "POST",
    path: "/keyward.v1.KeyService/CountKeys",
    headers: [
      ["host", `127.0.0.1:${port}`],
      ["content-type", "application/json"],
      ["content-length", "2"],
      ...values.map((value): [string, string] => ["authorization", value]),
    ],
    body: "{}",
  });
}

describe("authorization sent twice", () => {
  it("is UNAUTHENTICATED on the gRPC port, whichever comes first", async () => {
    for (const values of orders()) {
      const out = await bufCurl(values);
      expect(out).toContain("unauthenticated");
      expect(out).toContain("exactly one authorization header");
    }
    expect(await bufCurl([right])).toContain("{");
  });

  it("is UNAUTHENTICATED on the Connect port, whichever comes first", async () => {
    for (const values of orders()) {
      const answer = await connectCall(values);
      expect(answer.status).toBe(401);
      expect(JSON.parse(answer.body)).toMatchObject({ code: "unauthenticated" });
    }
    expect((await connectCall([right])).status).toBe(200);
  });
});
