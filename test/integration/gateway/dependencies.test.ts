/**
 * What the gateway says about what it depends on: /healthz names the key
 * service's and the job queue's state (and stays 200 "ok" while the gateway
 * itself answers), the Connect port has its own /healthz, and /metrics
 * reports each queue's depth by state, without hanging when Redis is away.
 */
import { randomBytes } from "node:crypto";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../../src/config.js";
import { type RunningGateway, startGateway } from "../../../src/gateway/server.js";
import { createLogger } from "../../../src/shared/logger.js";
import { EXPORT_QUEUE, SWEEP_QUEUE } from "../../../src/shared/queues/queues.js";
import { dropPrefix, freePort, SHARED_REDIS_URL } from "../workers/harness.js";
import { eventually, type Harness, startHarness } from "./harness.js";

const logger = createLogger("silent");
let h: Harness;
/** Started by each test that needs one, closed after it. */
let gateway: RunningGateway | undefined;

beforeAll(async () => {
  h = await startHarness({ startGateway: false });
});
afterAll(async () => {
  await h?.close();
});

async function start(overrides: Partial<Config>, serviceUrl = h.serviceUrl): Promise<string> {
  await gateway?.close();
  gateway = await startGateway({ ...h.config, ...overrides } as Config, {
    logger,
    serviceToken: h.serviceToken,
    serviceUrl,
  });
  return `http://127.0.0.1:${gateway.port}`;
}

/** GET `url`; an answer that hangs fails the test (a liveness bound, not a timing figure). */
async function answerOf(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, text: await res.text() };
}

describe("GET /healthz", () => {
  afterAll(async () => {
    await gateway?.close();
    gateway = undefined;
  });

  it("says ok with the service and the queue up", async () => {
    const url = await start({ REDIS_URL: SHARED_REDIS_URL });
    // The queue's first Redis connection may still be opening just after start.
    await eventually(async () => {
      const res = await fetch(`${url}/healthz`);
      expect(res.status).toBe(200);
      await expect(res.json()).resolves.toEqual({ status: "ok", service: "ok", queue: "ok" });
    });
  });

  it("is 200 and names the queue unavailable when Redis cannot be reached, within seconds", async () => {
    const url = await start({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    const answer = await answerOf(`${url}/healthz`);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toEqual({ status: "ok", service: "ok", queue: "unavailable" });
    // The gateway's procedures that need no queue still answer.
    const admin = await h.consoleKey("admin");
    const me = await fetch(`${url}/trpc/me`, { headers: { authorization: `Bearer ${admin.token}` } });
    expect(me.status).toBe(200);
  });

  it("is 200 and names the service unavailable when the service is down", async () => {
    const url = await start({ REDIS_URL: SHARED_REDIS_URL }, `http://127.0.0.1:${await freePort()}`);
    const answer = await answerOf(`${url}/healthz`);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toEqual({ status: "ok", service: "unavailable", queue: "ok" });
  });

  it("refuses other methods with 405", async () => {
    const url = await start({ REDIS_URL: SHARED_REDIS_URL });
    const res = await fetch(`${url}/healthz`, { method: "POST", body: "{}" });
    expect(res.status).toBe(405);
    await expect(res.json()).resolves.toMatchObject({ error: { data: { code: "METHOD_NOT_SUPPORTED" } } });
    expect((await fetch(`${url}/healthz`, { method: "HEAD" })).status).toBe(200);
  });
});

describe("GET /healthz on the service's Connect port", () => {
  it("is 200 with the store's state and how far behind the change record the cache is", async () => {
    const res = await fetch(`${h.serviceUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: "ok", store: "ok", changes: "following" });
    expect(body.changeLagMs).toBeTypeOf("number");
  });
});

describe("keyward_queue_jobs on the gateway's /metrics", () => {
  const prefix = `kwdepth-${randomBytes(4).toString("hex")}`;
  afterAll(async () => {
    await gateway?.close();
    gateway = undefined;
    await dropPrefix(SHARED_REDIS_URL, prefix);
  });

  it("counts each queue's jobs by state at scrape time", async () => {
    const url = await start({ REDIS_URL: SHARED_REDIS_URL, KEYWARD_QUEUE_PREFIX: prefix } as Partial<Config>);
    const connection = { url: SHARED_REDIS_URL };
    const exportsQueue = new Queue(EXPORT_QUEUE, { connection, prefix });
    const sweepsQueue = new Queue(SWEEP_QUEUE, { connection, prefix });
    try {
      await exportsQueue.add("export", { exportId: "a" });
      await exportsQueue.add("export", { exportId: "b" });
      await exportsQueue.add("export", { exportId: "c" }, { delay: 60_000 });
      await sweepsQueue.add("sweep", {}, { delay: 60_000 });
      await eventually(async () => {
        const text = await (await fetch(`${url}/metrics`)).text();
        expect(text).toContain('keyward_queue_jobs{queue="exports",state="waiting"} 2');
        expect(text).toContain('keyward_queue_jobs{queue="exports",state="delayed"} 1');
        expect(text).toContain('keyward_queue_jobs{queue="exports",state="failed"} 0');
        expect(text).toContain('keyward_queue_jobs{queue="sweeps",state="delayed"} 1');
        expect(text).toContain('keyward_queue_jobs{queue="sweeps",state="waiting"} 0');
        expect(text).toContain("keyward_queue_up 1");
      });
      await exportsQueue.add("export", { exportId: "d" });
      const text = await (await fetch(`${url}/metrics`)).text();
      expect(text).toContain('keyward_queue_jobs{queue="exports",state="waiting"} 3');
    } finally {
      await exportsQueue.close();
      await sweepsQueue.close();
    }
  });

  it("answers without queue figures when Redis cannot be reached", async () => {
    const url = await start({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    for (let i = 0; i < 3; i++) {
      const answer = await answerOf(`${url}/metrics`);
      expect(answer.status).toBe(200);
      expect(answer.text).toContain("keyward_queue_up 0");
      expect(answer.text).not.toMatch(/^keyward_queue_jobs\{/m);
      expect(answer.text).toContain("keyward_gateway_request_duration_seconds");
    }
  });
});
