/**
 * Console sessions kept in Redis: several real gateways on one Redis (and
 * one key service) share them, a restart signs nobody out, signing out on
 * one gateway ends the session on all, Redis holds nothing a cookie or the
 * token could be rebuilt from, and without Redis sign-in answers 503 while
 * Bearer calls go on working.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../../src/config.js";
import { type RunningGateway, startGateway } from "../../../src/gateway/server.js";
import { createLogger } from "../../../src/shared/logger.js";
import { eventually } from "../../support/eventually.js";
import { freePort } from "../../support/free-port.js";
import { dropPrefix, requireRedis, SHARED_REDIS_URL, uniquePrefix } from "../../support/redis.js";
import { type Harness, startHarness } from "../gateway/harness.js";

const UNAVAILABLE = "sessions are unavailable: Redis cannot be reached; try again shortly";
const logger = createLogger("silent");
const prefix = uniquePrefix();
let h: Harness;
let config: Config;
let redis: Redis;
const running: RunningGateway[] = [];

async function gateway(overrides: Partial<Config> = {}): Promise<{ url: string; close(): Promise<void> }> {
  const started = await startGateway(
    { ...config, ...overrides },
    { logger, serviceToken: h.serviceToken, serviceUrl: h.serviceUrl },
  );
  running.push(started);
  return { url: `http://127.0.0.1:${started.port}`, close: () => started.close() };
}

beforeAll(async () => {
  await requireRedis();
  redis = new Redis(SHARED_REDIS_URL);
  h = await startHarness({ startGateway: false });
  // KEYWARD_QUEUE_PREFIX is read from the config object, so this file's sessions (and queues) meet no other's.
  config = { ...h.config, REDIS_URL: SHARED_REDIS_URL, KEYWARD_QUEUE_PREFIX: prefix };
});
afterAll(async () => {
  await Promise.all(running.map((g) => g.close()));
  await h?.close();
  redis?.disconnect();
  await dropPrefix(SHARED_REDIS_URL, prefix);
});

interface SignedIn {
  status: number;
  body: unknown;
  setCookies: string[];
  /** "keyward_session=…; keyward_csrf=…", as a browser sends them back. */
  cookieHeader: string;
  /** The session cookie's value, `<id>.<key>`. */
  session: string;
  csrf: string;
}

async function signIn(base: string, apiKey: string): Promise<SignedIn> {
  const res = await fetch(`${base}/trpc/session.signIn`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-keyward-csrf": "sign-in" },
    body: JSON.stringify({ apiKey }),
    signal: AbortSignal.timeout(10_000),
  });
  const setCookies = res.headers.getSetCookie();
  const pairs = setCookies.map((c) => c.split(";", 1)[0] as string);
  const value = (name: string) => pairs.find((p) => p.startsWith(`${name}=`))?.slice(name.length + 1) ?? "";
  return {
    status: res.status,
    body: await res.json(),
    setCookies,
    cookieHeader: pairs.join("; "),
    session: value("keyward_session"),
    csrf: value("keyward_csrf"),
  };
}

function call(base: string, path: string, init: { cookie?: string; csrf?: string; bearer?: string; body?: unknown }) {
  const headers: Record<string, string> = {};
  if (init.cookie) headers.cookie = init.cookie;
  if (init.csrf) headers["x-keyward-csrf"] = init.csrf;
  if (init.bearer) headers.authorization = `Bearer ${init.bearer}`;
  const signal = AbortSignal.timeout(10_000);
  if (init.body === undefined) return fetch(`${base}/trpc/${path}`, { headers, signal });
  headers["content-type"] = "application/json";
  return fetch(`${base}/trpc/${path}`, { method: "POST", headers, body: JSON.stringify(init.body), signal });
}

async function emailOf(res: Response): Promise<string> {
  expect(res.status).toBe(200);
  return ((await res.json()) as { result: { data: { email: string } } }).result.data.email;
}

/** The Redis keys of this file's console sessions. */
async function sessionKeys(): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", `${prefix}:console-session:*`, "COUNT", 500);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0");
  return keys;
}

/** Every key name and every value in the whole Redis, whatever its type. */
async function everythingInRedis(): Promise<string[]> {
  const texts: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", "*", "COUNT", 500);
    cursor = next;
    for (const key of keys) {
      texts.push(key);
      const type = await redis.type(key);
      if (type === "string") texts.push((await redis.get(key)) ?? "");
      else if (type === "hash") texts.push(...Object.entries(await redis.hgetall(key)).flat());
      else if (type === "list") texts.push(...(await redis.lrange(key, 0, -1)));
      else if (type === "set") texts.push(...(await redis.smembers(key)));
      else if (type === "zset") texts.push(...(await redis.zrange(key, "0", "-1")));
      else if (type === "stream") texts.push(JSON.stringify(await redis.xrange(key, "-", "+")));
    }
  } while (cursor !== "0");
  return texts;
}

describe("console sessions shared by gateways on one Redis", () => {
  let a: { url: string; close(): Promise<void> };
  let b: { url: string; close(): Promise<void> };
  beforeAll(async () => {
    a = await gateway();
    b = await gateway();
  });

  it("a session started on one gateway works on another, and outlives the first gateway's restart", async () => {
    const admin = await h.consoleKey("admin", "shared@example.com");
    const s = await signIn(a.url, admin.token);
    expect(s.status).toBe(200);
    expect(await emailOf(await call(b.url, "me", { cookie: s.cookieHeader }))).toBe("shared@example.com");
    const change = await call(b.url, "keys.create", { cookie: s.cookieHeader, csrf: s.csrf, body: { name: "on b" } });
    expect(change.status).toBe(200);

    await a.close();
    a = await gateway();
    expect(await emailOf(await call(a.url, "me", { cookie: s.cookieHeader }))).toBe("shared@example.com");
    // The CSRF token came back from Redis too: a change without it is still refused on the new gateway.
    expect((await call(a.url, "keys.create", { cookie: s.cookieHeader, body: { name: "no csrf" } })).status).toBe(403);
    const again = await call(a.url, "keys.create", { cookie: s.cookieHeader, csrf: s.csrf, body: { name: "on a" } });
    expect(again.status).toBe(200);
  });

  it("signing out on one gateway ends the session on the other, and deletes it from Redis", async () => {
    const admin = await h.consoleKey("admin");
    const s = await signIn(a.url, admin.token);
    expect(s.status).toBe(200);
    const before = await sessionKeys();
    expect((await call(b.url, "me", { cookie: s.cookieHeader })).status).toBe(200);

    const out = await call(b.url, "session.signOut", { cookie: s.cookieHeader, csrf: s.csrf, body: {} });
    expect(out.status).toBe(200);
    expect((await call(a.url, "me", { cookie: s.cookieHeader })).status).toBe(401);
    expect((await call(b.url, "me", { cookie: s.cookieHeader })).status).toBe(401);
    const after = await sessionKeys();
    expect(after.length).toBe(before.length - 1);
  });

  it("an expired session is gone: Redis has dropped it and no gateway accepts its cookie", async () => {
    // The config's 1-minute floor is for operators; a 2-second life keeps this test short.
    const brief = await gateway({ KEYWARD_SESSION_TTL: "2s" });
    const admin = await h.consoleKey("admin");
    const before = await sessionKeys();
    const s = await signIn(brief.url, admin.token);
    expect(s.status).toBe(200);
    expect(s.setCookies.find((c) => c.startsWith("keyward_session="))).toContain("Max-Age=2;");
    const added = (await sessionKeys()).filter((key) => !before.includes(key));
    expect(added).toHaveLength(1);
    const pttl = await redis.pttl(added[0] as string);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(2_000);
    expect((await call(b.url, "me", { cookie: s.cookieHeader })).status).toBe(200);

    await eventually(async () => expect(await redis.exists(added[0] as string)).toBe(0), 10_000);
    for (const url of [brief.url, a.url, b.url]) {
      expect((await call(url, "me", { cookie: s.cookieHeader })).status).toBe(401);
    }
  });

  it("Redis holds neither the token nor the cookie's id or key", async () => {
    const admin = await h.consoleKey("admin");
    const s = await signIn(a.url, admin.token);
    expect(s.status).toBe(200);
    const [id, key] = s.session.split(".") as [string, string];
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const keyBytes = Buffer.from(key, "base64url");
    const secrets = [
      admin.token,
      s.session,
      id,
      key,
      keyBytes.toString("hex"),
      keyBytes.toString("base64"),
      Buffer.from(id, "base64url").toString("hex"),
      Buffer.from(admin.token).toString("base64url"),
      Buffer.from(admin.token).toString("hex"),
    ];
    const texts = await everythingInRedis();
    // What is there is the session: its CSRF token is in Redis (the scan saw it).
    expect(texts.some((text) => text.includes(s.csrf))).toBe(true);
    for (const secret of secrets) {
      const found = texts.filter((text) => text.includes(secret));
      expect({ secret, found }).toEqual({ secret, found: [] });
    }
  });
});

describe("a gateway whose Redis cannot be reached", () => {
  let down: { url: string; close(): Promise<void> };
  beforeAll(async () => {
    down = await gateway({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
  });

  it("answers sign-in 503 with a clear message, sets no cookie, and leaks no stack or path", async () => {
    const admin = await h.consoleKey("admin");
    const s = await signIn(down.url, admin.token);
    expect(s.status).toBe(503);
    expect(s.body).toEqual({
      error: {
        message: UNAVAILABLE,
        code: expect.any(Number),
        data: expect.objectContaining({ code: "SERVICE_UNAVAILABLE", httpStatus: 503 }),
      },
    });
    expect(JSON.stringify(s.body)).not.toMatch(/stack|\/work\/|node_modules|\bat \w/);
    expect(s.setCookies).toEqual([]);
  });

  it("answers a cookie call 503 and keeps the cookie, which works again on a gateway that reaches Redis", async () => {
    const up = await gateway();
    const admin = await h.consoleKey("admin", "patient@example.com");
    const s = await signIn(up.url, admin.token);
    expect(s.status).toBe(200);

    for (const res of [
      await call(down.url, "me", { cookie: s.cookieHeader }),
      await call(down.url, "keys.create", { cookie: s.cookieHeader, csrf: s.csrf, body: { name: "no redis" } }),
      await call(down.url, "session.signOut", { cookie: s.cookieHeader, csrf: s.csrf, body: {} }),
    ]) {
      expect(res.status).toBe(503);
      expect(res.headers.getSetCookie()).toEqual([]);
      const body = (await res.json()) as { error: { message: string; data: { code: string } } };
      expect(body.error.message).toBe(UNAVAILABLE);
      expect(body.error.data.code).toBe("SERVICE_UNAVAILABLE");
    }
    const download = await fetch(`${down.url}/exports/01890000-0000-7000-8000-000000000000/download?expires=1&sig=x`, {
      headers: { cookie: s.cookieHeader },
      signal: AbortSignal.timeout(10_000),
    });
    expect(download.status).toBe(503);
    expect(((await download.json()) as { error: { message: string } }).error.message).toBe(UNAVAILABLE);

    expect(await emailOf(await call(up.url, "me", { cookie: s.cookieHeader }))).toBe("patient@example.com");
  });

  it("serves Bearer calls, reads and changes, without Redis", async () => {
    const admin = await h.consoleKey("admin", "bearer@example.com");
    expect(await emailOf(await call(down.url, "me", { bearer: admin.token }))).toBe("bearer@example.com");
    const created = await call(down.url, "keys.create", { bearer: admin.token, body: { name: "made without redis" } });
    expect(created.status).toBe(200);
  });
});
