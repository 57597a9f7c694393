import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestService, type TestService } from "../../support/test-service.js";

let t: TestService;
beforeAll(async () => {
  t = await startTestService();
});
afterAll(async () => {
  await t.stop();
});

describe("GET /metrics on the Connect port", () => {
  it("counts verifications by outcome, times them, and reports the cache, without any token", async () => {
    const { token } = await t.admin.unary("createKey", { name: "Measured" });
    await t.caller.unary("verifyKey", { token });
    await t.caller.unary("verifyKey", { token });
    await t.caller.unary("verifyKey", { token: `${token.slice(0, -1)}!` });
    const response = await fetch(`http://127.0.0.1:${t.service.connectPort}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/plain");
    const text = await response.text();
    expect(text).toContain('keyward_verifications_total{code="valid"} 2');
    expect(text).toContain('keyward_verifications_total{code="malformed"} 1');
    expect(text).toContain("keyward_verify_duration_seconds_count 3");
    expect(text).toMatch(/keyward_key_cache_lookups\{result="hit"\} 2/);
    expect(text).toMatch(/keyward_key_cache_keys 1/);
    expect(text).toContain("keyward_service_process_resident_memory_bytes");
    expect(text).not.toContain(token.slice(3));
  });
});
