import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "./harness.js";

/** The curl-ability promise: plain HTTP and JSON, no tRPC client. */
let h: Harness;
let admin: string;
beforeAll(async () => {
  h = await startHarness();
  admin = (await h.consoleKey("admin", "ops@example.com")).token;
});
afterAll(async () => {
  await h.close();
});

describe("plain HTTP", () => {
  it("POST /trpc/keys.create with a curl -d body (no JSON content type) creates a key", async () => {
    const res = await fetch(`${h.url}/trpc/keys.create`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/x-www-form-urlencoded" },
      body: JSON.stringify({ name: "curl", permission: "sending_access", domainId: "dom_1", expiresInSeconds: 3600 }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: { data: { key: Record<string, unknown>; token: string } } };
    const { key, token } = body.result.data;
    expect(token).toMatch(/^kw_[0-9A-Za-z]{38}$/);
    expect(key).toMatchObject({
      name: "curl",
      permission: "sending_access",
      domainId: "dom_1",
      status: "active",
      createdBy: "ops@example.com",
      requestCount: 0,
      lastUsedTime: null,
    });
    expect(key.createTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Date.parse(key.expireTime as string) - Date.parse(key.createTime as string)).toBe(3600_000);
  });

  it("POST with application/json works too", async () => {
    const res = await fetch(`${h.url}/trpc/keys.create`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "json" }),
    });
    expect(res.status).toBe(200);
  });

  it("GET /trpc/keys.list?input=... lists keys newest first", async () => {
    const input = encodeURIComponent(JSON.stringify({ pageSize: 2 }));
    const res = await fetch(`${h.url}/trpc/keys.list?input=${input}`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: { data: { keys: { name: string }[]; nextPageToken: string | null } } };
    expect(body.result.data.keys.map((k) => k.name)).toEqual(["json", "curl"]);
    expect(typeof body.result.data.nextPageToken).toBe("string");
  });

  it("GET /trpc/keys.list with no input lists the first page", async () => {
    const res = await fetch(`${h.url}/trpc/keys.list`, { headers: { authorization: `Bearer ${admin}` } });
    expect(res.status).toBe(200);
  });

  it("a bad input is 400 with the field named", async () => {
    const res = await fetch(`${h.url}/trpc/keys.create`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}` },
      body: JSON.stringify({ name: "   " }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string; data: { code: string; field: string } } };
    expect(body.error.data).toMatchObject({ code: "BAD_REQUEST", field: "name" });
    expect(body.error.message).toBe("name: must be 1-100 characters after trimming");
  });

  it("no token is 401", async () => {
    const res = await fetch(`${h.url}/trpc/keys.list`);
    expect(res.status).toBe(401);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(/Authorization/);
  });

  it("a batch of queries answers each call", async () => {
    const input = encodeURIComponent(JSON.stringify({ 0: {}, 1: { pageSize: 1 } }));
    const res = await fetch(`${h.url}/trpc/me,keys.list?batch=1&input=${input}`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as [
      { result: { data: { email: string } } },
      { result: { data: { keys: unknown[] } } },
    ];
    expect(body[0].result.data.email).toBe("ops@example.com");
    expect(body[1].result.data.keys).toHaveLength(1);
  });

  it("GET /healthz is 200 with security headers and no CORS", async () => {
    const res = await fetch(`${h.url}/healthz`, { headers: { origin: "https://evil.example" } });
    expect(res.status).toBe(200);
    await expect(res.json()).resolves.toEqual({ status: "ok", service: "ok", queue: "ok" });
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("an unknown path is a JSON 404", async () => {
    const res = await fetch(`${h.url}/nope`);
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
    const body = (await res.json()) as { error: { data: { code: string } } };
    expect(body.error.data.code).toBe("NOT_FOUND");
  });

  it("an unknown procedure is a 404", async () => {
    const res = await fetch(`${h.url}/trpc/keys.nope`, { headers: { authorization: `Bearer ${admin}` } });
    expect(res.status).toBe(404);
  });

  it("a body over the limit is 413", async () => {
    const res = await fetch(`${h.url}/trpc/keys.create`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "big", description: "x".repeat(2 * 1024 * 1024) }),
    });
    expect(res.status).toBe(413);
  });

  it("a chunked body over the limit is 413", async () => {
    const big = new TextEncoder().encode(JSON.stringify({ name: "big", description: "x".repeat(2 * 1024 * 1024) }));
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < big.length; i += 65536) controller.enqueue(big.slice(i, i + 65536));
        controller.close();
      },
    });
    const res = await fetch(`${h.url}/trpc/keys.create`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body,
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(413);
  });
});
