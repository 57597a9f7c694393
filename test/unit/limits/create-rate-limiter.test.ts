import { describe, expect, it } from "vitest";
import { createRateLimiter, MemoryRateLimiter } from "../../../src/service/limits/index.js";

describe("createRateLimiter", () => {
  it("keeps limits in memory when they are not shared", async () => {
    const limiter = createRateLimiter({ shared: false, onRedisDown: "open", maxEntries: 10 });
    expect(limiter).toBeInstanceOf(MemoryRateLimiter);
    await limiter.close();
  });

  it("refuses shared limits without a Redis URL", () => {
    expect(() => createRateLimiter({ shared: true, onRedisDown: "open" })).toThrow(/redisUrl/);
  });
});
