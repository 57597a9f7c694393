/**
 * Console sessions against a real Redis (REDIS_URL), under a prefix of this
 * file's own that is dropped afterwards. Without Redis these tests fail.
 */
import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createSessionStore,
  csrfMatches,
  type SessionStore,
  SessionsUnavailableError,
} from "../../src/gateway/console-session.js";
import { sessionKey } from "../../src/gateway/session-redis.js";
import { createLogger } from "../../src/shared/logger.js";
import { freePort } from "../support/free-port.js";
import { dropPrefix, requireRedis, SHARED_REDIS_URL, uniquePrefix } from "../support/redis.js";

const TOKEN = `kw_${"a".repeat(38)}`;
const prefix = uniquePrefix();
const logger = createLogger("silent");
let redis: Redis;
const opened: SessionStore[] = [];

function store(options: { ttlMs?: number; now?: () => number; redisUrl?: string } = {}): SessionStore {
  const made = createSessionStore({
    ttlMs: options.ttlMs ?? 60_000,
    redisUrl: options.redisUrl ?? SHARED_REDIS_URL,
    prefix,
    logger,
    now: options.now,
  });
  opened.push(made);
  return made;
}

/** The Redis key a cookie's session is filed under: SHA-256 of the id, never the id. */
function keyOf(cookie: string): string {
  const id = cookie.split(".")[0] as string;
  return sessionKey(prefix, createHash("sha256").update(id).digest("base64url"));
}

beforeAll(async () => {
  await requireRedis();
  redis = new Redis(SHARED_REDIS_URL);
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  redis?.disconnect();
  await dropPrefix(SHARED_REDIS_URL, prefix);
});

describe("console sessions in Redis", () => {
  it("open gives back the token and CSRF token of a cookie it made", async () => {
    const sessions = store();
    const made = await sessions.create(TOKEN);
    expect(made.cookie).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    expect(made.cookie).not.toContain(TOKEN);
    expect(await sessions.open(made.cookie)).toEqual({ token: TOKEN, csrf: made.csrf, expiresAt: made.expiresAt });
  });

  it("keeps in Redis only the sealed token, the CSRF token and the expiry, under the id's SHA-256, for the TTL", async () => {
    const sessions = store({ ttlMs: 60_000 });
    const made = await sessions.create(TOKEN);
    const [id, key] = made.cookie.split(".") as [string, string];
    const stored = await redis.get(keyOf(made.cookie));
    expect(stored).not.toBeNull();
    const value = JSON.parse(stored as string) as Record<string, unknown>;
    expect(Object.keys(value).sort()).toEqual(["csrf", "expiresAt", "iv", "sealed", "tag"]);
    expect(value.csrf).toBe(made.csrf);
    expect(value.expiresAt).toBe(made.expiresAt);
    const keyHex = Buffer.from(key, "base64url").toString("hex");
    for (const secret of [TOKEN, id, key, keyHex, Buffer.from(TOKEN).toString("base64url")]) {
      expect(stored).not.toContain(secret);
      expect(keyOf(made.cookie)).not.toContain(secret);
    }
    const ttl = await redis.pttl(keyOf(made.cookie));
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it("ends sessions at their time, and on destroy, which deletes the Redis key", async () => {
    let now = 1_000_000;
    const sessions = store({ ttlMs: 60_000, now: () => now });
    const a = await sessions.create(TOKEN);
    const b = await sessions.create(TOKEN);
    now += 59_999;
    expect((await sessions.open(a.cookie))?.token).toBe(TOKEN);
    await sessions.destroy(b.cookie);
    expect(await redis.exists(keyOf(b.cookie))).toBe(0);
    expect(await sessions.open(b.cookie)).toBeUndefined();
    now += 1;
    // Past expiresAt by the gateway's clock, though Redis would keep it for another minute.
    expect(await sessions.open(a.cookie)).toBeUndefined();
    expect(await redis.exists(keyOf(a.cookie))).toBe(0);
  });

  it("is gone once Redis's TTL runs out, even by a clock that never moves", async () => {
    const sessions = store({ ttlMs: 300, now: () => 1_000_000 });
    const made = await sessions.create(TOKEN);
    expect((await sessions.open(made.cookie))?.token).toBe(TOKEN);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(await redis.exists(keyOf(made.cookie))).toBe(0);
    expect(await sessions.open(made.cookie)).toBeUndefined();
  });

  it("is shared by every store on the same Redis and prefix: another gateway opens and ends it", async () => {
    const first = store();
    const second = store();
    const made = await first.create(TOKEN);
    expect((await second.open(made.cookie))?.token).toBe(TOKEN);
    await second.destroy(made.cookie);
    expect(await first.open(made.cookie)).toBeUndefined();
  });

  it("refuses a cookie whose id is right but whose key is not", async () => {
    const sessions = store();
    const made = await sessions.create(TOKEN);
    const [id] = made.cookie.split(".");
    const other = (await sessions.create(TOKEN)).cookie.split(".")[1];
    expect(await sessions.open(`${id}.${other}`)).toBeUndefined();
    expect(await sessions.open(undefined)).toBeUndefined();
    expect(await sessions.open("not-a-cookie")).toBeUndefined();
    // The forged cookie did not end the real one.
    expect((await sessions.open(made.cookie))?.token).toBe(TOKEN);
  });

  it("treats a Redis value that is not a session of ours as no session", async () => {
    const sessions = store();
    const made = await sessions.create(TOKEN);
    const real = JSON.parse((await redis.get(keyOf(made.cookie))) as string) as Record<string, string>;
    const put = (value: string) => redis.set(keyOf(made.cookie), value, "PX", 60_000);

    await put("not json");
    expect(await sessions.open(made.cookie)).toBeUndefined();
    const { tag, ...withoutTag } = real;
    await put(JSON.stringify(withoutTag));
    expect(await sessions.open(made.cookie)).toBeUndefined();
    // GCM's tag cut short still verifies the same bytes unless its length is enforced.
    const shortTag = Buffer.from(tag as string, "base64url")
      .subarray(0, 4)
      .toString("base64url");
    await put(JSON.stringify({ ...real, tag: shortTag }));
    expect(await sessions.open(made.cookie)).toBeUndefined();
    await put(JSON.stringify(real));
    expect((await sessions.open(made.cookie))?.token).toBe(TOKEN);
  });

  it("refuses quickly with SessionsUnavailableError when Redis cannot be reached", async () => {
    const sessions = store({ redisUrl: `redis://127.0.0.1:${await freePort()}` });
    const started = Date.now();
    await expect(sessions.create(TOKEN)).rejects.toBeInstanceOf(SessionsUnavailableError);
    await expect(sessions.open(`${"A".repeat(22)}.${"B".repeat(43)}`)).rejects.toThrow(
      "sessions are unavailable: Redis cannot be reached",
    );
    await expect(sessions.destroy(`${"A".repeat(22)}.${"B".repeat(43)}`)).rejects.toBeInstanceOf(
      SessionsUnavailableError,
    );
    // A bound against hanging (the first connection is waited for up to a second), not a timing figure.
    expect(Date.now() - started).toBeLessThan(5_000);
    // Nothing that is not a cookie of ours needs Redis.
    expect(await sessions.open("not-a-cookie")).toBeUndefined();
    expect(await sessions.open(undefined)).toBeUndefined();
  });

  it("compares CSRF tokens exactly", () => {
    expect(csrfMatches("abc", "abc")).toBe(true);
    expect(csrfMatches("abc", "abd")).toBe(false);
    expect(csrfMatches("abc", "ab")).toBe(false);
    expect(csrfMatches("abc", undefined)).toBe(false);
  });
});
