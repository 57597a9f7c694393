/**
 * `npm run bench`: VerifyKey under load, Keyward beside a bare grpc-js echo
 * server, alternating A B A B in the same run so that the machine's drift
 * cancels out in the ratios.
 *
 *   npm run bench -- --quick          1 run of 3 s per scenario, 10k-key database, console only
 *   npm run bench                     3 runs of 10 s per scenario (10k and 1M keys), writes docs
 *   npm run bench -- --only hot-c64,hot-c1 --runs 5 --duration 20
 *   npm run bench -- --semi-space 64  every Keyward instance with --max-semi-space-size=64
 *   npm run bench -- --no-docs        full mode without touching docs/ (--docs writes them in quick mode)
 *
 * Every process is separate (servers, load generator, this orchestrator), on
 * 127.0.0.1, bounded in time, and killed when the run ends or fails.
 * Data (databases and tokens) lives in bench/.data/, results in bench/results/.
 */
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { BENCH_DIR, baseEnv, forkScript, killAll, killChildrenOnExit, nextMessage, stopChild } from "./lib/children.js";
import { verifyOnce } from "./lib/grpc-once.js";
import type { WindowStats } from "./lib/probe.js";
import {
  type BenchResults,
  checkTargets,
  type InstanceRecord,
  type InstanceSpec,
  type RunRecord,
  type ScenarioSpec,
  type Side,
  summariseScenario,
} from "./lib/results.js";
import type { LoadResult } from "./loadgen.js";
import { readTokens, seed } from "./seed.js";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    runs: { type: "string" },
    duration: { type: "string" },
    warmup: { type: "string" },
    only: { type: "string" },
    "semi-space": { type: "string" },
    codec: { type: "string", default: "protobufjs" },
    docs: { type: "boolean" },
    "no-docs": { type: "boolean", default: false },
    pin: { type: "boolean", default: false },
    "large-keys": { type: "string", default: "1000000" },
    "hot-keys": { type: "string", default: "10" },
    "cold-count": { type: "string", default: "300000" },
    "quiet-wait": { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  process.stdout.write(fs.readFileSync(new URL(import.meta.url), "utf8").split("*/")[0] ?? "");
  process.exit(0);
}

const quick = values.quick;
const runs = Number(values.runs ?? (quick ? 1 : 3));
const durationMs = Math.round(Number(values.duration ?? (quick ? 3 : 10)) * 1000);
const warmupMs = Math.round(Number(values.warmup ?? (quick ? 1 : 2)) * 1000);
const writeDocs = values["no-docs"] ? false : (values.docs ?? !quick);
const hotKeys = Number(values["hot-keys"]);
const largeKeys = Number(values["large-keys"]);
const coldCount = Number(values["cold-count"]);
const semiSpace = values["semi-space"];
const pinned = values.pin ? "server: cpu 0, load generator: cpu 1" : null;
if (!(runs >= 1 && runs <= 20 && durationMs >= 500 && durationMs <= 120_000 && warmupMs <= 30_000)) {
  throw new Error("--runs 1-20, --duration 0.5-120 s, --warmup up to 30 s");
}
const USAGE_FLUSH_MS = 1000;
/** Before each run, wait up to this long for other processes to use < QUIET_PCT of the machine. */
const quietWaitMs = Math.round(Number(values["quiet-wait"] ?? (quick ? 0 : 120)) * 1000);
const QUIET_PCT = 10;

const DATA_DIR = path.join(BENCH_DIR, ".data");
const RESULTS_DIR = path.join(BENCH_DIR, "results");
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const LOG_DIR = path.join(RESULTS_DIR, "logs", stamp);

// --- what runs ---------------------------------------------------------------

const mainFlags = semiSpace ? [`--max-semi-space-size=${semiSpace}`] : [];
const altFlags = semiSpace === "64" ? [] : ["--max-semi-space-size=64"];
const semiLabel = (flags: string[]) => (flags.length > 0 ? flags.join(" ") : "V8 default semi-space");

const instances: InstanceSpec[] = [
  { id: "k10k", keys: 10_000, cacheSize: 100_000, nodeFlags: mainFlags },
  { id: "k10k-alt", keys: 10_000, cacheSize: 100_000, nodeFlags: altFlags },
  ...(quick
    ? [{ id: "k10k-c1000", keys: 10_000, cacheSize: 1000, nodeFlags: mainFlags }]
    : [{ id: "k1m", keys: largeKeys, cacheSize: 100_000, nodeFlags: mainFlags }]),
];

const grpc = (
  id: string,
  title: string,
  instance: string,
  concurrency: number,
  more: Partial<ScenarioSpec> = {},
): ScenarioSpec => ({
  id,
  title,
  instance,
  protocol: "grpc",
  concurrency,
  connections: 1,
  tokens: "hot",
  unknownEvery: 0,
  ...more,
});

const allScenarios: ScenarioSpec[] = [
  grpc("hot-c1", "hot keys, 1 stream", "k10k", 1),
  grpc("hot-c16", "hot keys, 16 streams", "k10k", 16),
  grpc("hot-c64", "hot keys, 64 streams", "k10k", 64),
  grpc("hot-c64x4", "hot keys, 64 streams on 4 connections", "k10k", 64, { connections: 4 }),
  grpc("limits-c64", "2 rate limits + credits, 64 streams", "k10k", 64, { tokens: "limited" }),
  grpc("invalid5-c64", "hot keys + 5% unknown tokens, 64 streams", "k10k", 64, { unknownEvery: 20 }),
  {
    ...grpc("connect-h1-c64", "Connect protocol, HTTP/1.1, 64 connections (baseline: gRPC echo)", "k10k", 64),
    protocol: "connect-h1",
  },
  grpc("hot-c64-semispace", `hot keys, 64 streams, ${semiLabel(altFlags)}`, "k10k-alt", 64),
  ...(quick
    ? [grpc("cold-c64", "cold keys (10k keys, 1,000-key cache), 64 streams", "k10k-c1000", 64, { tokens: "cold" })]
    : [
        grpc("hot-c64-1m", `hot keys, 64 streams, ${largeKeys.toLocaleString("en-US")} keys`, "k1m", 64),
        grpc("cold-c64-1m", `cold keys, 64 streams, ${largeKeys.toLocaleString("en-US")} keys`, "k1m", 64, {
          tokens: "cold",
        }),
      ]),
];
const only = values.only?.split(",").map((s) => s.trim());
const scenarios = only ? allScenarios.filter((s) => only.includes(s.id)) : allScenarios;
if (scenarios.length === 0)
  throw new Error(`no scenario matches --only; known: ${allScenarios.map((s) => s.id).join(", ")}`);

// --- processes -----------------------------------------------------------------

interface Server {
  child: ChildProcess;
  grpcPort: number;
  connectPort: number;
  dataDir?: string;
}

const seedDir = (keys: number) => path.join(DATA_DIR, `seed-${keys}`);

/** SQLite's WAL-index header counter `iChange`, bumped once per committed write transaction (u32, native order). */
function walChangeCounter(dataDir: string): number {
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
function machineCpu(): { busyMs: number; totalMs: number } {
  const line = fs.readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return { busyMs: (total - idle) * 10, totalMs: total * 10 };
}

/** Waits (bounded) until the machine is nearly idle; returns the busy share of the last second, %. */
async function waitQuiet(): Promise<number> {
  if (quietWaitMs <= 0) return Number.NaN;
  const deadline = Date.now() + quietWaitMs;
  let said = false;
  for (;;) {
    const a = machineCpu();
    await new Promise((r) => setTimeout(r, 1000));
    const b = machineCpu();
    const busy = ((b.busyMs - a.busyMs) / Math.max(1, b.totalMs - a.totalMs)) * 100;
    if (busy < QUIET_PCT || Date.now() >= deadline) {
      if (said) console.log(`  machine busy ${busy.toFixed(0)}%${busy < QUIET_PCT ? "" : " (gave up waiting)"}`);
      return busy;
    }
    if (!said) console.log(`  waiting for other processes to quieten (machine ${busy.toFixed(0)}% busy)...`);
    said = true;
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

async function startKeyward(spec: InstanceSpec): Promise<Server> {
  const source = seedDir(spec.keys);
  await seed(source, spec.keys, { log: (line) => console.log(line) });
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
    },
    logFile: path.join(LOG_DIR, `keyward-${spec.id}.log`),
    cpus: values.pin ? "0" : undefined,
  });
  const ready = await nextMessage<{ t: "ready"; grpcPort: number; connectPort: number }>(child, "ready", 120_000);
  return { child, grpcPort: ready.grpcPort, connectPort: ready.connectPort, dataDir };
}

async function startEcho(responseHex: string): Promise<Server> {
  const child = forkScript(
    path.join(BENCH_DIR, "echo-server.ts"),
    ["--response", responseHex, "--codec", values.codec],
    {
      logFile: path.join(LOG_DIR, "echo.log"),
      cpus: values.pin ? "0" : undefined,
    },
  );
  const ready = await nextMessage<{ t: "ready"; grpcPort: number }>(child, "ready", 60_000);
  return { child, grpcPort: ready.grpcPort, connectPort: 0 };
}

/** Checks that the instance answers as the scenarios assume, and returns a hot key's response bytes. */
async function checkInstance(server: Server, spec: InstanceSpec): Promise<Buffer> {
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

// --- one measured run ------------------------------------------------------------

const cursors = new Map<string, { cold: number; unknown: number }>();

async function measure(side: Side, server: Server, scenario: ScenarioSpec, run: number): Promise<RunRecord> {
  const spec = instances.find((i) => i.id === scenario.instance) as InstanceSpec;
  const dir = seedDir(spec.keys);
  const cursor = cursors.get(spec.id) ?? { cold: hotKeys, unknown: 0 };
  cursors.set(spec.id, cursor);
  const args = ["--warmup-ms", String(warmupMs), "--duration-ms", String(durationMs)];
  args.push("--concurrency", String(scenario.concurrency));
  // The baseline has only the gRPC port: the Connect scenario's baseline is the gRPC echo at the same concurrency.
  const protocol = side === "baseline" ? "grpc" : scenario.protocol;
  args.push(
    "--protocol",
    protocol,
    "--connections",
    String(protocol === "grpc" ? scenario.connections : scenario.concurrency),
  );
  args.push("--port", String(protocol === "connect-h1" ? server.connectPort : server.grpcPort));
  if (scenario.tokens === "hot")
    args.push("--tokens", path.join(dir, "tokens.txt"), "--offset", "0", "--count", String(hotKeys));
  else if (scenario.tokens === "limited")
    args.push("--tokens", path.join(dir, "limited.txt"), "--count", String(hotKeys));
  else {
    const pool = spec.keys - hotKeys;
    args.push("--tokens", path.join(dir, "tokens.txt"), "--offset", String(cursor.cold));
    args.push("--count", String(Math.min(coldCount, pool)));
  }
  if (scenario.unknownEvery > 0) {
    args.push("--unknown", path.join(dir, "unknown.txt"), "--unknown-offset", String(cursor.unknown));
    args.push("--unknown-every", String(scenario.unknownEvery));
  }

  const gen = forkScript(path.join(BENCH_DIR, "loadgen.ts"), args, {
    logFile: path.join(LOG_DIR, "loadgen.log"),
    cpus: values.pin ? "1" : undefined,
  });
  const window = nextMessage<{ t: "window"; stats: WindowStats }>(
    server.child,
    "window",
    warmupMs + durationMs + 60_000,
  );
  let changesAtStart: number | undefined;
  let changesAtEnd: number | undefined;
  let cpuAtStart = machineCpu();
  let cpuAtEnd = cpuAtStart;
  gen.on("message", (message: { t?: string }) => {
    if (message.t === "measure-start") {
      server.child.send({ t: "start" });
      cpuAtStart = machineCpu();
      if (side === "keyward" && server.dataDir) changesAtStart = walChangeCounter(server.dataDir);
    } else if (message.t === "measure-end") {
      server.child.send({ t: "stop" });
      cpuAtEnd = machineCpu();
      if (side === "keyward" && server.dataDir) changesAtEnd = walChangeCounter(server.dataDir);
    }
  });
  try {
    const { result } = await nextMessage<{ t: "result"; result: LoadResult }>(
      gen,
      "result",
      warmupMs + durationMs + 60_000,
    );
    const { stats } = await window;
    if (side === "keyward") {
      if (scenario.tokens === "cold") cursor.cold += result.issued;
      if (scenario.unknownEvery > 0) cursor.unknown += Math.ceil(result.issued / scenario.unknownEvery);
    }
    const writeTx =
      changesAtStart !== undefined && changesAtEnd !== undefined ? (changesAtEnd - changesAtStart) >>> 0 : undefined;
    // What the rest of the machine (other people's processes) used meanwhile, % of all CPUs.
    const ours = stats.cpuUserMs + stats.cpuSystemMs + (result.generatorCpuPct / 100) * result.windowMs;
    const foreignCpuPct = Math.max(
      0,
      ((cpuAtEnd.busyMs - cpuAtStart.busyMs - ours) / Math.max(1, cpuAtEnd.totalMs - cpuAtStart.totalMs)) * 100,
    );
    return { side, run, load: result, server: stats, writeTx, foreignCpuPct };
  } finally {
    await stopChild(gen, 5000);
  }
}

function runLine(scenario: ScenarioSpec, r: RunRecord): string {
  const l = r.load;
  const errors = Object.entries(l.errors)
    .map(([k, n]) => `${k}:${n}`)
    .join(" ");
  const codes = Object.entries(l.codes)
    .map(([k, n]) => `${k}:${n}`)
    .join(" ");
  const tx = r.writeTx === undefined ? "" : ` | write tx/s ${(r.writeTx / (r.server.elapsedMs / 1000)).toFixed(2)}`;
  return (
    `${scenario.id.padEnd(18)} run ${r.run} ${r.side.padEnd(8)} ${Math.round(l.rps).toString().padStart(6)} req/s` +
    ` p50 ${l.latencyUs.p50.toFixed(0).padStart(6)} µs p99 ${l.latencyUs.p99.toFixed(0).padStart(6)} µs` +
    ` | ELD p99 ${r.server.eld.p99.toFixed(2)} max ${r.server.eld.max.toFixed(1)} ms` +
    ` | server CPU ${(((r.server.cpuUserMs + r.server.cpuSystemMs) / r.server.elapsedMs) * 100).toFixed(0)}%` +
    ` gen CPU ${l.generatorCpuPct.toFixed(0)}% others ${(r.foreignCpuPct ?? 0).toFixed(0)}%${tx} | ${codes}${errors ? ` | errors ${errors}` : ""}`
  );
}

// --- the whole run -------------------------------------------------------------------

function machine(): BenchResults["machine"] {
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

async function main(): Promise<BenchResults> {
  const startedAt = new Date().toISOString();
  const results: BenchResults = {
    mode: quick ? "quick" : "full",
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    startedAt,
    finishedAt: "",
    machine: machine(),
    settings: {
      runs,
      durationMs,
      warmupMs,
      codec: values.codec,
      hotKeys,
      usageFlushMs: USAGE_FLUSH_MS,
      pinned,
      quietWaitMs,
    },
    instances: [],
    scenarios: [],
  };
  console.log(
    `bench (${results.mode}): ${scenarios.length} scenarios × ${runs} runs × 2 sides × ${durationMs / 1000} s (+${warmupMs / 1000} s warm-up); ` +
      `${results.machine.nproc} CPUs, ${results.machine.cpu}, Node ${results.machine.node}; logs in ${path.relative(process.cwd(), LOG_DIR)}`,
  );
  let echo: Server | undefined;
  try {
    for (const spec of instances) {
      const mine = scenarios.filter((s) => s.instance === spec.id);
      if (mine.length === 0) continue;
      const keyward = await startKeyward(spec);
      const record: InstanceRecord = { ...spec, dbBytes: 0, peakRss: 0, coldKeysRequested: 0, walBytesAtEnd: 0 };
      results.instances.push(record);
      try {
        const response = await checkInstance(keyward, spec);
        echo ??= await startEcho(response.toString("hex"));
        for (const scenario of mine) {
          const entry = { ...scenario, runs: [] as RunRecord[] };
          results.scenarios.push(entry);
          for (let run = 1; run <= runs; run++) {
            for (const side of ["baseline", "keyward"] as const) {
              await waitQuiet();
              const r = await measure(side, side === "baseline" ? echo : keyward, scenario, run);
              entry.runs.push(r);
              console.log(runLine(scenario, r));
              if (side === "keyward") record.peakRss = Math.max(record.peakRss, r.server.maxRss);
            }
          }
          const s = summariseScenario(entry);
          console.log(
            `  => ${scenario.id}: Keyward ${Math.round(s.keyward.rps)} req/s = ${(s.rpsRatio * 100).toFixed(0)}% of baseline, p99 ${s.p99Ratio.toFixed(2)}× baseline`,
          );
        }
        record.coldKeysRequested = (cursors.get(spec.id)?.cold ?? hotKeys) - hotKeys;
      } finally {
        if (keyward.dataDir) {
          record.dbBytes = fileSize(path.join(keyward.dataDir, "keyward.db"));
          record.walBytesAtEnd = fileSize(path.join(keyward.dataDir, "keyward.db-wal"));
        }
        await stopChild(keyward.child);
      }
    }
  } finally {
    if (echo) await stopChild(echo.child);
    killAll();
  }
  results.finishedAt = new Date().toISOString();
  return results;
}

killChildrenOnExit();
const results = await main();
fs.mkdirSync(RESULTS_DIR, { recursive: true });
const file = path.join(RESULTS_DIR, `${results.mode}-${stamp}.json`);
fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
fs.writeFileSync(path.join(RESULTS_DIR, `${results.mode}-latest.json`), `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nresults: ${path.relative(process.cwd(), file)}`);
console.log("\ntargets:");
for (const t of checkTargets(results)) {
  console.log(`  ${t.met === null ? "—    " : t.met ? "MET  " : "MISS "} ${t.target}: ${t.measured}`);
}
if (writeDocs) {
  const { writeReport } = await import("./report.js");
  const written = await writeReport(results);
  console.log(`\nwrote ${written.join(", ")}`);
}
