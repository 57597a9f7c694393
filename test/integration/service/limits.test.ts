import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RefillInterval } from "../../../src/gen/keyward/v1/key_pb.js";
import { VerifyCode } from "../../../src/gen/keyward/v1/verify_pb.js";
import { resolveServiceToken } from "../../../src/shared/service-token.js";
import { startChildService } from "../../support/child-service.js";
import { createKeyServiceGrpcClient } from "../../support/grpc-client.js";
import { startTestService, type TestService } from "../../support/test-service.js";

let t: TestService;
beforeAll(async () => {
  t = await startTestService();
});
afterAll(async () => {
  await t.stop();
});

const verify = (token: string, extra: Record<string, unknown> = {}) => t.caller.unary("verifyKey", { token, ...extra });

describe("rate limits", () => {
  it("allow a burst up to the limit, then answer RATE_LIMITED with the reset time, then reset", async () => {
    const { token } = await t.admin.unary("createKey", {
      name: "Limited",
      ratelimits: [{ name: "per-second", limit: 3, durationSeconds: 1 }],
    });
    for (let i = 0; i < 3; i++) {
      const ok = await verify(token);
      expect([ok.code, ok.ratelimit?.name, ok.ratelimit?.limit, ok.ratelimit?.remaining]).toEqual([
        VerifyCode.VALID,
        "per-second",
        3,
        BigInt(2 - i),
      ]);
    }
    const limited = await verify(token);
    expect(limited).toMatchObject({ valid: false, code: VerifyCode.RATE_LIMITED });
    expect(limited.ratelimit).toMatchObject({ name: "per-second", limit: 3, remaining: 0n });
    const resetAt =
      Number(limited.ratelimit?.resetTime?.seconds) * 1000 + (limited.ratelimit?.resetTime?.nanos ?? 0) / 1e6;
    expect(resetAt).toBeGreaterThan(t.clock.now);
    expect(resetAt).toBeLessThanOrEqual(t.clock.now + 1000);
    t.clock.advance(1000);
    expect((await verify(token)).code).toBe(VerifyCode.VALID);
  });

  it("spend the request's cost, and apply only the named limits when names are given", async () => {
    const { token } = await t.admin.unary("createKey", {
      name: "Costly",
      ratelimits: [
        { name: "minute", limit: 10, durationSeconds: 60 },
        { name: "burst", limit: 2, durationSeconds: 1 },
      ],
    });
    expect((await verify(token, { cost: 6n, ratelimits: ["minute"] })).code).toBe(VerifyCode.VALID);
    expect((await verify(token, { cost: 5n, ratelimits: ["minute"] })).code).toBe(VerifyCode.RATE_LIMITED);
    expect((await verify(token, { cost: 4n, ratelimits: ["minute"] })).code).toBe(VerifyCode.VALID);
    // All limits: "minute" is used up now.
    const both = await verify(token);
    expect([both.code, both.ratelimit?.name]).toEqual([VerifyCode.RATE_LIMITED, "minute"]);
  });

  it("let exactly `limit` of 100 concurrent verifications through", async () => {
    const { token } = await t.admin.unary("createKey", {
      name: "Crowded",
      ratelimits: [{ name: "window", limit: 10, durationSeconds: 60 }],
    });
    const results = await Promise.all(Array.from({ length: 100 }, () => verify(token)));
    expect(results.filter((r) => r.valid)).toHaveLength(10);
    expect(results.filter((r) => r.code === VerifyCode.RATE_LIMITED)).toHaveLength(90);
  });
});

describe("credits", () => {
  it("spend exactly the 50 credits 200 concurrent verifications race for", async () => {
    const { key, token } = await t.admin.unary("createKey", { name: "Fifty", remaining: 50n });
    const results = await Promise.all(Array.from({ length: 200 }, () => verify(token)));
    expect(results.filter((r) => r.valid)).toHaveLength(50);
    expect(results.filter((r) => r.code === VerifyCode.USAGE_EXCEEDED)).toHaveLength(150);
    expect(
      results
        .filter((r) => r.valid)
        .map((r) => r.remaining)
        .sort((a, b) => Number(a) - Number(b)),
    ).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i)));
    const { key: after } = await t.admin.unary("getKey", { id: key?.id });
    expect(after?.remaining).toBe(0n);
  });

  it("refuse a cost larger than the balance without spending, and accept cost 0", async () => {
    const { key, token } = await t.admin.unary("createKey", { name: "Costed", remaining: 5n });
    expect(await verify(token, { cost: 6n })).toMatchObject({ valid: false, code: VerifyCode.USAGE_EXCEEDED });
    expect(await verify(token, { cost: 5n })).toMatchObject({ valid: true, remaining: 0n });
    expect(await verify(token, { cost: 0n })).toMatchObject({ valid: true, remaining: 0n });
    await t.admin.unary("updateKey", { id: key?.id, updateMask: { paths: ["remaining"] }, remaining: 2n });
    expect(await verify(token)).toMatchObject({ valid: true, remaining: 1n });
  });

  it("refill daily, lazily on verification and in the sweep", async () => {
    const lazy = await t.admin.unary("createKey", {
      name: "Daily lazy",
      remaining: 2n,
      refill: { interval: RefillInterval.DAILY, amount: 2n },
    });
    const swept = await t.admin.unary("createKey", {
      name: "Daily swept",
      remaining: 2n,
      refill: { interval: RefillInterval.DAILY, amount: 5n },
    });
    for (const { token } of [lazy, swept]) {
      await verify(token, { cost: 2n });
      expect((await verify(token)).code).toBe(VerifyCode.USAGE_EXCEEDED);
    }
    t.clock.advance(86_400_000);
    expect(await verify(lazy.token)).toMatchObject({ valid: true, remaining: 1n });
    await t.admin.unary("runSweep", {});
    const { key } = await t.admin.unary("getKey", { id: swept.key?.id });
    expect(key?.remaining).toBe(5n);
    expect(await verify(swept.token)).toMatchObject({ valid: true, remaining: 4n });
  });
});

describe("across processes", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("keep a spent credit across kill -9", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "keyward-credits-"));
    dirs.push(dataDir);
    const first = await startChildService(dataDir);
    const client = createKeyServiceGrpcClient(`127.0.0.1:${first.grpcPort}`, {
      token: resolveServiceToken({ dataDir }),
    });
    const { key, token } = await client.unary("createKey", { name: "Durable credits", remaining: 20n });
    const results = await Promise.all(Array.from({ length: 8 }, () => client.unary("verifyKey", { token })));
    expect(results.every((r) => r.valid)).toBe(true);
    first.child.kill("SIGKILL");
    await first.exited;
    client.close();

    const second = await startChildService(dataDir);
    const again = createKeyServiceGrpcClient(`127.0.0.1:${second.grpcPort}`, {
      token: resolveServiceToken({ dataDir }),
    });
    try {
      const { key: after } = await again.unary("getKey", { id: key?.id });
      expect(after?.remaining).toBe(12n);
    } finally {
      again.close();
      second.child.kill("SIGKILL");
      await second.exited;
    }
  });

  it("share a rate limit between two service replicas through Redis", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "keyward-replicas-"));
    dirs.push(dataDir);
    // A generous timeout: on a loaded CI machine a slow answer would otherwise fail open and let extra calls through.
    const env = {
      KEYWARD_RATELIMIT_REDIS: "true",
      KEYWARD_RATELIMIT_REDIS_TIMEOUT_MS: "5000",
      REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    };
    const a = await startChildService(dataDir, env);
    const b = await startChildService(dataDir, env);
    const serviceToken = resolveServiceToken({ dataDir });
    const clientA = createKeyServiceGrpcClient(`127.0.0.1:${a.grpcPort}`, { token: serviceToken });
    const clientB = createKeyServiceGrpcClient(`127.0.0.1:${b.grpcPort}`, { token: serviceToken });
    try {
      const { token } = await clientA.unary("createKey", {
        name: "Shared limit",
        ratelimits: [{ name: "shared", limit: 10, durationSeconds: 60 }],
      });
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? clientA : clientB).unary("verifyKey", { token })),
      );
      expect(results.filter((r) => r.valid)).toHaveLength(10);
      expect(results.filter((r) => r.code === VerifyCode.RATE_LIMITED)).toHaveLength(90);
    } finally {
      clientA.close();
      clientB.close();
      for (const child of [a, b]) {
        child.child.kill("SIGKILL");
        await child.exited;
      }
    }
  });
});
