import { randomUUID } from "node:crypto";
import net from "node:net";
import { performance } from "node:perf_hooks";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RateLimitRule } from "../../src/service/keys/model.js";
import { MemoryRateLimiter } from "../../src/service/limits/memory-rate-limiter.js";
import type { RateLimitDecision } from "../../src/service/limits/rate-limiter.js";
import { RedisRateLimiter, type RedisRateLimiterOptions } from "../../src/service/limits/redis-rate-limiter.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const perTenSeconds: RateLimitRule = { name: "api", limit: 5, durationSeconds: 10 };

let admin: Redis;
let prefix: string;
const opened: RedisRateLimiter[] = [];
const proxies: RedisProxy[] = [];

/**
 * Tests of the script's decisions give Redis 2 s to answer: with the 50 ms default, a busy
 * machine (parallel test runs on two cores) delays replies past it, and the fail-closed
 * fallback would answer instead. The tests of slowness set their own timeout.
 */
function limiter(options: Partial<RedisRateLimiterOptions> = {}): RedisRateLimiter {
  const created = new RedisRateLimiter({
    url: REDIS_URL,
    onRedisDown: "closed",
    keyPrefix: prefix,
    commandTimeoutMs: 2_000,
    ...options,
  });
  opened.push(created);
  return created;
}

/** A limiter that has reached Redis, so a slow start on a busy machine cannot look like an outage. */
async function connectedLimiter(options: Partial<RedisRateLimiterOptions> = {}): Promise<RedisRateLimiter> {
  const created = limiter(options);
  await created.ready();
  return created;
}

async function keysUnder(pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await admin.scan(cursor, "MATCH", pattern, "COUNT", 1_000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== "0");
  return found;
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await work();
  return { value, ms: performance.now() - start };
}

function captureLogs() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

/** Why Redis cannot be used, if it cannot; every test then fails with it (none is skipped). */
let redisProblem: Error | undefined;

beforeAll(async () => {
  let lastError: Error | undefined;
  admin = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  admin.on("error", (err: Error) => {
    lastError = err;
  });
  try {
    await admin.connect();
    await admin.ping();
  } catch (err) {
    const cause = lastError ?? (err as Error);
    redisProblem = new Error(
      `These tests need a real Redis at ${REDIS_URL} (set REDIS_URL to point elsewhere): ${cause.message}`,
    );
  }
});

afterAll(async () => {
  if (admin.status === "ready") await admin.quit();
  else admin.disconnect();
});

// A fresh prefix per test, so tests (and parallel runs) never see each other's keys.
beforeEach(() => {
  if (redisProblem) throw redisProblem;
  prefix = `keyward-test:rl:${randomUUID()}:`;
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((l) => l.close()));
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
  if (redisProblem) return;
  const leftovers = await keysUnder(`${prefix}*`);
  if (leftovers.length > 0) await admin.del(...leftovers);
});

describe("RedisRateLimiter against a real Redis", () => {
  it("allows a burst up to the limit, refuses without consuming, and allows again after the window", async () => {
    const rl = await connectedLimiter();
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) {
      await expect(rl.check("key_1", [perTenSeconds], 1, t0 + i)).resolves.toEqual({
        allowed: true,
        state: { name: "api", limit: 5, remaining: 4 - i, resetAt: t0 + i + 10_000 },
      });
    }
    for (let i = 0; i < 10; i++) {
      await expect(rl.check("key_1", [perTenSeconds], 1, t0 + 100 + i)).resolves.toEqual({
        allowed: false,
        state: { name: "api", limit: 5, remaining: 0, resetAt: t0 + 10_000 },
      });
    }
    await expect(rl.check("key_1", [perTenSeconds], 1, t0 + 9_999)).resolves.toMatchObject({ allowed: false });
    // Only the first entry has left at t0 + 10 s, and the refusals left nothing behind.
    await expect(rl.check("key_1", [perTenSeconds], 1, t0 + 10_000)).resolves.toEqual({
      allowed: true,
      state: { name: "api", limit: 5, remaining: 0, resetAt: t0 + 20_000 },
    });
    await expect(rl.check("key_1", [perTenSeconds], 5, t0 + 20_004)).resolves.toEqual({
      allowed: true,
      state: { name: "api", limit: 5, remaining: 0, resetAt: t0 + 30_004 },
    });
  });

  it("applies several limits all-or-nothing", async () => {
    const rl = await connectedLimiter();
    const t0 = Date.now();
    const perSecond: RateLimitRule = { name: "per-second", limit: 5, durationSeconds: 1 };
    const perMinute: RateLimitRule = { name: "per-minute", limit: 2, durationSeconds: 60 };
    await rl.check("key_1", [perSecond, perMinute], 2, t0);
    for (let i = 0; i < 10; i++) {
      await expect(rl.check("key_1", [perSecond, perMinute], 1, t0 + 1 + i)).resolves.toEqual({
        allowed: false,
        state: { name: "per-minute", limit: 2, remaining: 0, resetAt: t0 + 60_000 },
      });
    }
    await expect(rl.check("key_1", [perSecond], 3, t0 + 20)).resolves.toEqual({
      allowed: true,
      state: { name: "per-second", limit: 5, remaining: 0, resetAt: t0 + 1_020 },
    });
  });

  it("decides exactly as the in-memory limiter over a random timeline", async () => {
    const rl = await connectedLimiter();
    const memory = new MemoryRateLimiter();
    const a: RateLimitRule = { name: "a", limit: 7, durationSeconds: 1 };
    const b: RateLimitRule = { name: "b", limit: 15, durationSeconds: 5 };
    const subsets = [[a], [b], [a, b], [b, a]];
    let seed = 42;
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    let now = Date.now();
    let allowed = 0;
    for (let i = 0; i < 400; i++) {
      now += Math.floor(next() * 120);
      const rules = subsets[Math.floor(next() * subsets.length)] as RateLimitRule[];
      const cost = Math.floor(next() * 4);
      const expected = memory.check("key_1", rules, cost, now);
      const actual = await rl.check("key_1", rules, cost, now);
      expect({ i, ...actual }).toEqual({ i, ...expected });
      if (actual.allowed) allowed++;
    }
    // The timeline must exercise both outcomes to prove anything.
    expect(allowed).toBeGreaterThan(50);
    expect(allowed).toBeLessThan(350);
  });

  it("two replicas share one limit: 100 parallel checks against a limit of 10 allow exactly 10", async () => {
    const replicas = await Promise.all([connectedLimiter(), connectedLimiter()]);
    const rule: RateLimitRule = { name: "shared", limit: 10, durationSeconds: 60 };
    const now = Date.now();
    const decisions = await Promise.all(
      Array.from({ length: 100 }, (_, i) => (replicas[i % 2] as RedisRateLimiter).check("key_1", [rule], 1, now)),
    );
    expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
    // Both replicas answered from Redis, not from the fallback: every refusal carries the real state.
    expect(decisions.filter((d) => !d.allowed).every((d) => d.state?.resetAt === now + 60_000)).toBe(true);
  });

  it("reset(keyId) deletes the key's state in Redis and only that key's", async () => {
    const rl = await connectedLimiter();
    const other: RateLimitRule = { name: "other", limit: 3, durationSeconds: 30 };
    const now = Date.now();
    await rl.check("key_a", [perTenSeconds, other], 3, now);
    await rl.check("key_b", [perTenSeconds], 5, now);
    rl.reset("key_a");
    // Commands on one connection run in order: the reset is done before this check.
    await expect(rl.check("key_a", [perTenSeconds], 5, now + 1)).resolves.toMatchObject({ allowed: true });
    await expect(rl.check("key_b", [perTenSeconds], 1, now + 1)).resolves.toMatchObject({ allowed: false });
    expect(await keysUnder(`${prefix}{key_a}:r:other`)).toEqual([]);
  });

  it("lets idle state expire: every key it writes has a TTL of at most the window plus 1 s", async () => {
    const rl = await connectedLimiter();
    const hourly: RateLimitRule = { name: "hourly", limit: 100, durationSeconds: 3_600 };
    await rl.check("key_1", [perTenSeconds, hourly], 1, Date.now());
    const keys = await keysUnder(`${prefix}*`);
    expect(keys.sort()).toEqual([`${prefix}{key_1}`, `${prefix}{key_1}:r:api`, `${prefix}{key_1}:r:hourly`]);
    const ttls = Object.fromEntries(await Promise.all(keys.map(async (k) => [k, await admin.pttl(k)] as const)));
    expect(ttls[`${prefix}{key_1}:r:api`]).toBeGreaterThan(10_000);
    expect(ttls[`${prefix}{key_1}:r:api`]).toBeLessThanOrEqual(11_000);
    // The hash lives as long as the longest log.
    expect(ttls[`${prefix}{key_1}`]).toBeGreaterThan(3_600_000);
    expect(ttls[`${prefix}{key_1}`]).toBeLessThanOrEqual(3_601_000);
  });
});

describe("RedisRateLimiter when Redis is down or slow", () => {
  const DOWN_URL = "redis://127.0.0.1:1";

  it("fails open at once, with one warn line however many calls fail", async () => {
    const { logger, lines } = captureLogs();
    const rl = limiter({ url: DOWN_URL, onRedisDown: "open", logger });
    for (let i = 0; i < 50; i++) {
      const { value, ms } = await timed(() => rl.check("key_1", [perTenSeconds], 1, Date.now()));
      expect(value).toEqual({ allowed: true });
      expect(ms).toBeLessThan(1_000);
    }
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toBe("rate-limit Redis unavailable; failing open");
  });

  it("fails closed at once, refusing with the first limit", async () => {
    const rl = limiter({ url: DOWN_URL, onRedisDown: "closed" });
    const now = Date.now();
    const { value, ms } = await timed(() => rl.check("key_1", [perTenSeconds], 1, now));
    expect(value).toEqual({
      allowed: false,
      state: { name: "api", limit: 5, remaining: 0, resetAt: now + 1_000 },
    });
    expect(ms).toBeLessThan(1_000);
  });

  it("answers by policy within the command timeout when Redis stops replying, and recovers", async () => {
    const proxy = await RedisProxy.start(REDIS_URL);
    proxies.push(proxy);
    const rl = await connectedLimiter({ url: proxy.url, onRedisDown: "closed", commandTimeoutMs: 250 });
    const now = Date.now();
    await expect(rl.check("key_1", [perTenSeconds], 1, now)).resolves.toMatchObject({
      allowed: true,
      state: { remaining: 4 },
    });

    proxy.stall();
    const { value, ms } = await timed(() => rl.check("key_1", [perTenSeconds], 1, now + 1));
    expect(value).toEqual({ allowed: false, state: { name: "api", limit: 5, remaining: 0, resetAt: now + 1_001 } });
    expect(ms).toBeGreaterThanOrEqual(240);
    expect(ms).toBeLessThan(1_500);

    proxy.resume();
    // The timed-out script did run on Redis (one unit), which is why this reads 2, not 3.
    await expect(rl.check("key_1", [perTenSeconds], 1, now + 2)).resolves.toMatchObject({
      allowed: true,
      state: { remaining: 2 },
    });
  });

  it("reconnects by itself when Redis comes back", async () => {
    const proxy = await RedisProxy.start(REDIS_URL);
    proxies.push(proxy);
    const rl = await connectedLimiter({ url: proxy.url, onRedisDown: "open", commandTimeoutMs: 250 });
    const now = Date.now();
    await expect(rl.check("key_1", [perTenSeconds], 1, now)).resolves.toMatchObject({ state: { remaining: 4 } });

    await proxy.stop();
    await expect(rl.check("key_1", [perTenSeconds], 1, now + 1)).resolves.toEqual({ allowed: true });

    await proxy.listenAgain();
    const deadline = Date.now() + 5_000;
    let decision: RateLimitDecision = { allowed: true };
    while (decision.state === undefined && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      decision = await rl.check("key_1", [perTenSeconds], 1, now + 2);
    }
    expect(decision).toMatchObject({ allowed: true, state: { remaining: 3 } });
  });
});

/**
 * A TCP proxy in front of the real Redis that can hold back Redis's replies
 * (a slow Redis) or go away and come back on the same port (an outage).
 */
class RedisProxy {
  private server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private stalled = false;
  private held: (() => void)[] = [];

  private constructor(
    private readonly upstream: URL,
    private port: number,
  ) {
    this.server = this.createServer();
  }

  static async start(redisUrl: string): Promise<RedisProxy> {
    const proxy = new RedisProxy(new URL(redisUrl), 0);
    await proxy.listen();
    return proxy;
  }

  /** The Redis URL (credentials kept) that goes through this proxy. */
  get url(): string {
    const url = new URL(this.upstream.href);
    url.hostname = "127.0.0.1";
    url.port = String(this.port);
    return url.href;
  }

  stall(): void {
    this.stalled = true;
  }

  resume(): void {
    this.stalled = false;
    for (const release of this.held.splice(0)) release();
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async listenAgain(): Promise<void> {
    this.server = this.createServer();
    await this.listen();
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.port, "127.0.0.1", () => {
        this.port = (this.server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  private createServer(): net.Server {
    return net.createServer((client) => {
      const upstream = net.connect(Number(this.upstream.port || 6379), this.upstream.hostname);
      this.sockets.add(client);
      this.sockets.add(upstream);
      client.on("data", (chunk) => upstream.write(chunk));
      upstream.on("data", (chunk) => {
        if (this.stalled) this.held.push(() => client.write(chunk));
        else client.write(chunk);
      });
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on("close", end);
      upstream.on("close", end);
      client.on("error", end);
      upstream.on("error", end);
    });
  }
}
