import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestService, type TestService } from "../../support/test-service.js";

let t: TestService;
beforeAll(async () => {
  t = await startTestService({ KEYWARD_LOG_LIMIT_PER_KEY: "3" });
});
afterAll(async () => {
  await t.stop();
});

describe("the request log cap", () => {
  it("keeps at most KEYWARD_LOG_LIMIT_PER_KEY rows per key per flush while counts stay exact", async () => {
    const { key, token } = await t.admin.unary("createKey", { name: "Busy" });
    const id = key?.id ?? "";
    await Promise.all(Array.from({ length: 10 }, () => t.caller.unary("verifyKey", { token })));
    const usage = await t.admin.unary("getKeyUsage", { id });
    expect(usage.total).toBe(10n);
    expect((await t.admin.unary("getKey", { id })).key?.requestCount).toBe(10n);
    expect((await t.admin.unary("listKeyLogs", { id })).logs).toHaveLength(3);
    // The next flush interval starts a fresh allowance.
    await t.caller.unary("verifyKey", { token });
    await t.service.keys.usage({ id });
    expect((await t.admin.unary("listKeyLogs", { id })).logs).toHaveLength(4);
  });
});
