/**
 * Starting the servers under test: a Keyward instance on a fresh copy of a
 * seeded database (bench/service-entry.ts), and the echo baseline
 * (bench/echo-server.ts). Shared by run.ts and profile.ts.
 */
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { readTokens, seed } from "../seed.js";
import { BENCH_DIR, baseEnv, forkScript, nextMessage } from "./children.js";
import { verifyOnce } from "./grpc-once.js";
import type { InstanceSpec } from "./results.js";

export const DATA_DIR = path.join(BENCH_DIR, ".data");
export const RESULTS_DIR = path.join(BENCH_DIR, "results");
export const USAGE_FLUSH_MS = 1000;

export interface Server {
  child: ChildProcess;
  grpcPort: number;
  connectPort: number;
  dataDir?: string;
}

export const seedDir = (keys: number) => path.join(DATA_DIR, `seed-${keys}`);

export interface StartOptions {
  logDir: string;
  /** `taskset -c` CPU list for the server. */
  cpus?: string;
  /** Extra environment, e.g. BENCH_CPU_PROFILE for the probe. */
  env?: Record<string, string>;
  log?: (line: string) => void;
}

export async function startKeyward(spec: InstanceSpec, options: StartOptions): Promise<Server> {
  const source = seedDir(spec.keys);
  await seed(source, spec.keys, { log: options.log });
  const dataDir = path.join(DATA_DIR, "run", spec.id);
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(dataDir, { recursive: true });
  // A fresh copy per instance: earlier runs' usage rows and logs do not carry over.
  fs.copyFileSync(path.join(source, "keyward.db"), path.join(dataDir, "keyward.db"));
  const child = forkScript(path.join(BENCH_DIR, "service-entry.ts"), [], {
    nodeFlags: spec.nodeFlags,
    env: {
      ...baseEnv(),
      KEYWARD_DATA_DIR: dataDir,
      KEYWARD_HOST: "127.0.0.1",
      KEYWARD_SERVICE_PORT: "0",
      KEYWARD_CONNECT_PORT: "0",
      KEYWARD_CACHE_SIZE: String(spec.cacheSize),
      KEYWARD_USAGE_FLUSH_MS: String(USAGE_FLUSH_MS),
      LOG_LEVEL: "info",
      ...options.env,
    },
    logFile: path.join(options.logDir, `keyward-${spec.id}.log`),
    cpus: options.cpus,
  });
  const ready = await nextMessage<{ t: "ready"; grpcPort: number; connectPort: number }>(child, "ready", 120_000);
  return { child, grpcPort: ready.grpcPort, connectPort: ready.connectPort, dataDir };
}

export async function startEcho(
  responseHex: string,
  codec: string,
  options: StartOptions & { nodeFlags?: string[] },
): Promise<Server> {
  const child = forkScript(path.join(BENCH_DIR, "echo-server.ts"), ["--response", responseHex, "--codec", codec], {
    logFile: path.join(options.logDir, "echo.log"),
    cpus: options.cpus,
    nodeFlags: options.nodeFlags,
    env: options.env ? { ...baseEnv(), ...options.env } : undefined,
  });
  const ready = await nextMessage<{ t: "ready"; grpcPort: number }>(child, "ready", 60_000);
  return { child, grpcPort: ready.grpcPort, connectPort: 0 };
}

/** Checks that the instance answers as the scenarios assume, and returns a hot key's response bytes. */
export async function checkInstance(server: Server, spec: InstanceSpec): Promise<Buffer> {
  const dir = seedDir(spec.keys);
  const hot = readTokens(path.join(dir, "tokens.txt"), 0, 1)[0] as string;
  const limited = readTokens(path.join(dir, "limited.txt"), 0, 1)[0] as string;
  const unknown = readTokens(path.join(dir, "unknown.txt"), 0, 1)[0] as string;
  const expect = async (token: string, code: string, what: string) => {
    const answer = await verifyOnce(server.grpcPort, token, true);
    if (answer.grpcStatus !== "0" || answer.code !== code) {
      throw new Error(
        `${spec.id}: ${what} answered grpc-status ${answer.grpcStatus}, ${answer.code}; expected 0, ${code}`,
      );
    }
    return answer.message;
  };
  const response = await expect(hot, "VALID", "a hot key");
  await expect(limited, "VALID", "a limited key");
  await expect(unknown, "NOT_FOUND", "an unknown token");
  return response;
}

/** SQLite's WAL-index header counter `iChange`, bumped once per committed write transaction (u32, native order). */
export function walChangeCounter(dataDir: string): number {
  const fd = fs.openSync(path.join(dataDir, "keyward.db-shm"), "r");
  try {
    const header = Buffer.alloc(12);
    fs.readSync(fd, header, 0, 12, 0);
    return os.endianness() === "LE" ? header.readUInt32LE(8) : header.readUInt32BE(8);
  } finally {
    fs.closeSync(fd);
  }
}

/** Busy and total CPU time of the whole machine so far, ms (from /proc/stat; USER_HZ = 100). */
export function machineCpu(): { busyMs: number; totalMs: number } {
  const line = fs.readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return { busyMs: (total - idle) * 10, totalMs: total * 10 };
}

/** The machine as the docs describe it. */
export function machine(): { nproc: number; cpu: string; node: string; kernel: string; memTotalMb: number } {
  const cpuinfo = fs.readFileSync("/proc/cpuinfo", "utf8");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? "unknown";
  return {
    nproc: os.availableParallelism(),
    cpu: model.trim(),
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    memTotalMb: Math.round(os.totalmem() / 1e6),
  };
}
