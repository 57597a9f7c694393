import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

describe("GET /metrics on the gateway", () => {
  it("reports requests by procedure and status, and never a token or a query", async () => {
    const admin = await h.consoleKey("admin");
    await h.client(admin.token).keys.list.query({});
    await fetch(`${h.url}/trpc/keys.list?input=%7B%7D`);
    const response = await fetch(`${h.url}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toMatch(/keyward_gateway_request_duration_seconds_count\{route="trpc:keys.list",status="200"\} 1/);
    expect(text).toMatch(/keyward_gateway_request_duration_seconds_count\{route="trpc:keys.list",status="401"\} 1/);
    expect(text).toContain("keyward_gateway_process_resident_memory_bytes");
    expect(text).not.toContain(admin.token.slice(3));
    expect(text).not.toContain("input=");
  });
});
