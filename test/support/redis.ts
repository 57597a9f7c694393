import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";

/** The real Redis the tests use: REDIS_URL, else the local default. */
export const SHARED_REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** Fails (never skips) when Redis cannot be reached, saying what to do. */
export async function requireRedis(url: string = SHARED_REDIS_URL): Promise<void> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on("error", () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(
      `Redis is not reachable at ${url} (${(error as Error).message}). These tests need a real Redis: start redis-server, or point REDIS_URL at one.`,
    );
  } finally {
    redis.disconnect();
  }
}

/** Deletes every key of a test's queue prefix, so the shared Redis keeps nothing of it. */
export async function dropPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on("error", () => undefined);
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== "0");
  } catch {
    // Redis already gone (the outage test's own server): nothing to clean.
  } finally {
    redis.disconnect();
  }
}

/** A queue prefix no other test uses. */
export function uniquePrefix(): string {
  return `kwtest-${randomBytes(5).toString("hex")}`;
}
