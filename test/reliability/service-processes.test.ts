/**
 * KEYWARD_SERVICE_PROCESSES: `keyward service` and `keyward start` both run
 * N service processes; SIGTERM drains them all, and service processes never
 * outlive their primary, even one killed with SIGKILL.
 */

import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { startClusterProcess } from "../support/cluster-process.js";
import { freePort } from "../support/free-port.js";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "keyward-processes-"));
  dirs.push(dir);
  return dir;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function allGone(pids: number[], limitMs = 10_000): Promise<boolean> {
  const started = Date.now();
  while (pids.some(alive)) {
    if (Date.now() - started > limitMs) return false;
    await sleep(50);
  }
  return true;
}

describe("several service processes", () => {
  it("keyward service: SIGTERM drains every process and the primary exits 0", async () => {
    const cluster = await startClusterProcess(dataDir(), 3);
    const pids = cluster.servicePids();
    expect(pids).toHaveLength(3);
    expect(await cluster.stop()).toBe(0);
    expect(await allGone(pids)).toBe(true);
    expect(cluster.log().match(/"key service stopped"/g)?.length ?? 0).toBeGreaterThanOrEqual(1);
  });

  it("service processes stop when their primary is killed with SIGKILL", async () => {
    const cluster = await startClusterProcess(dataDir(), 2);
    const pids = cluster.servicePids();
    cluster.child.kill("SIGKILL");
    expect(await allGone(pids)).toBe(true);
  });

  it("a service process that dies is replaced behind the same ports", async () => {
    const cluster = await startClusterProcess(dataDir(), 2);
    try {
      const [victim] = cluster.servicePids();
      process.kill(victim as number, "SIGKILL");
      const started = Date.now();
      while (cluster.servicePids().length < 3 && Date.now() - started < 15_000) await sleep(50);
      expect(cluster.servicePids()).toHaveLength(3);
      expect(cluster.log()).toContain("a service process exited; starting another");
    } finally {
      await cluster.stop();
    }
  });

  it("keyward start runs the gateway and the workers beside N service processes", async () => {
    const gatewayPort = await freePort();
    const child = spawn(process.execPath, [resolve(import.meta.dirname, "../../bin/keyward-dev.js"), "start"], {
      env: {
        ...process.env,
        KEYWARD_DATA_DIR: dataDir(),
        KEYWARD_SERVICE_PORT: String(await freePort()),
        KEYWARD_CONNECT_PORT: String(await freePort()),
        KEYWARD_GATEWAY_PORT: String(gatewayPort),
        KEYWARD_SERVICE_PROCESSES: "2",
        KEYWARD_QUEUE_PREFIX: `processes-${process.pid}`,
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let log = "";
    child.stdout.on("data", (chunk: Buffer) => {
      log += chunk.toString();
    });
    const exited = once(child, "exit");
    const started = Date.now();
    while (!/"parts":\["service","gateway","workers"\]/.test(log)) {
      if (Date.now() - started > 30_000 || child.exitCode !== null) throw new Error(`did not start:\n${log}`);
      await sleep(50);
    }
    const pids = [...log.matchAll(/"pid":(\d+)[^\n]*"key service listening"/g)].map((m) => Number(m[1]));
    expect(new Set(pids).size).toBe(2);
    const health = await fetch(`http://127.0.0.1:${gatewayPort}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ service: "ok" });
    child.kill("SIGTERM");
    const [code] = await exited;
    expect(code).toBe(0);
    expect(await allGone(pids)).toBe(true);
  });
});
