import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.js";
import { type RunningGateway, startGateway } from "../../../src/gateway/server.js";
import { createLogger } from "../../../src/shared/logger.js";
import { freePort } from "../workers/harness.js";
import { eventually, type Harness, startHarness } from "./harness.js";

/** /healthz says each dependency's state; /metrics shows the export queue's depth; neither hangs on Redis. */

const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

describe("with Redis and the service up", () => {
  it("/healthz is ok everywhere, on the gateway and on the service's Connect port", async () => {
    const h: Harness = await startHarness();
    cleanup.push(() => h.close());
    await eventually(async () => {
      const res = await fetch(`${h.url}/healthz`);
      expect(await res.json()).toEqual({ status: "ok", service: "ok", queue: "ok" });
    });
    const service = await fetch(`${h.serviceUrl}/healthz`);
    expect(service.status).toBe(200);
    expect(await service.json()).toEqual({ status: "ok" });

    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    expect(metrics).toMatch(/keyward_queue_jobs\{queue="exports",state="waiting"\} \d+/);
    expect(metrics).toMatch(/keyward_queue_jobs\{queue="exports",state="failed"\} \d+/);
  });
});

describe("with Redis and the service unreachable", () => {
  let gateway: RunningGateway;
  it("/healthz answers 200, naming what is unavailable, and /metrics leaves the queue out", async () => {
    const dir = mkdtempSync(join(tmpdir(), "keyward-health-"));
    const config = loadConfig({
      KEYWARD_DATA_DIR: dir,
      KEYWARD_GATEWAY_PORT: "0",
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      LOG_LEVEL: "silent",
    });
    gateway = await startGateway(config, {
      logger: createLogger("silent"),
      serviceToken: "s".repeat(40),
      serviceUrl: `http://127.0.0.1:${await freePort()}`,
    });
    cleanup.push(async () => {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const res = await fetch(`http://127.0.0.1:${gateway.port}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", service: "unavailable", queue: "unavailable" });
    const metrics = await (await fetch(`http://127.0.0.1:${gateway.port}/metrics`)).text();
    expect(metrics).not.toMatch(/keyward_queue_jobs\{/);
  });
});
