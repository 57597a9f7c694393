/**
 * `npm run bench`: VerifyKey under load, Keyward beside a bare grpc-js echo
 * server, alternating A B A B in the same run so that the machine's drift
 * cancels out in the ratios.
 *
 *   npm run bench -- --quick          1 run of 3 s per scenario, 10k-key database, console only
 *   npm run bench                     3 runs of 10 s per scenario (10k and 1M keys), writes docs
 *   npm run bench -- --only hot-c64,hot-c1 --runs 5 --duration 20
 *   npm run bench -- --semi-space 64  Keyward instances with --max-semi-space-size=64
 *                                     (the default is V8's own, as `npm start` runs it; the
 *                                     -semispace scenarios run with the other setting)
 *   npm run bench -- --no-docs        full mode without touching docs/ (--docs writes them in quick mode)
 *
 * Every process is separate (servers, load generator, this orchestrator), on
 * 127.0.0.1, bounded in time, and killed when the run ends or fails.
 * Data (databases and tokens) lives in bench/.data/, results in bench/results/.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { BENCH_DIR, forkScript, killAll, killChildrenOnExit, nextMessage, stopChild } from "./lib/children.js";
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
import {
  checkInstance,
  DATA_DIR,
  machine,
  machineCpu,
  RESULTS_DIR,
  type Server,
  seedDir,
  startEcho,
  startKeyward,
  USAGE_FLUSH_MS,
  walChangeCounter,
} from "./lib/servers.js";
import { encodeVerifyRequest, grpcFrame, VERIFY_PATH } from "./lib/wire.js";
import type { LoadResult } from "./loadgen.js";

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
    "no-h2load": { type: "boolean", default: false },
    pin: { type: "boolean", default: false },
    "large-keys": { type: "string", default: "1000000" },
    "hot-keys": { type: "string", default: "10" },
    "cold-count": { type: "string", default: "300000" },
    "quiet-wait": { type: "string" },
    "max-foreign": { type: "string", default: "15" },
    attempts: { type: "string" },
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
// Keyward is measured as `npm start` runs it (V8's default semi-space); "64" (or another size in MB)
// measures --max-semi-space-size=<that>.
const semiSpace = values["semi-space"] ?? "default";
const pinned = values.pin ? "server: cpu 0, load generator: cpu 1" : null;
if (!(runs >= 1 && runs <= 20 && durationMs >= 500 && durationMs <= 120_000 && warmupMs <= 30_000)) {
  throw new Error("--runs 1-20, --duration 0.5-120 s, --warmup up to 30 s");
}
/** Before each run, wait up to this long for other processes to use < QUIET_PCT of the machine. */
const quietWaitMs = Math.round(Number(values["quiet-wait"] ?? (quick ? 0 : 120)) * 1000);
const QUIET_PCT = 10;
/** A run during which other processes used more than this share of the machine (%) is repeated... */
const maxForeignPct = Number(values["max-foreign"]);
/** ...at most this many attempts in all; the last attempt is kept whatever happened. */
const attempts = Math.max(1, Number(values.attempts ?? (quick ? 1 : 4)));

const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const LOG_DIR = path.join(RESULTS_DIR, "logs", stamp);

// --- what runs ---------------------------------------------------------------

const mainFlags = semiSpace === "default" ? [] : [`--max-semi-space-size=${semiSpace}`];
const altFlags = semiSpace === "default" ? ["--max-semi-space-size=64"] : [];
const semiLabel = (flags: string[]) => (flags.length > 0 ? flags.join(" ") : "V8 default semi-space");

const instances: InstanceSpec[] = [
  { id: "k10k", keys: 10_000, cacheSize: 100_000, nodeFlags: mainFlags },
  // The semi-space comparison runs on two instances that served nothing before it: an instance that
  // has served the scenarios above measured ~10% fewer req/s than a fresh one with the same flags.
  { id: "k10k-fresh", keys: 10_000, cacheSize: 100_000, nodeFlags: mainFlags },
  { id: "k10k-alt", keys: 10_000, cacheSize: 100_000, nodeFlags: altFlags },
  ...(quick
    ? [{ id: "k10k-c1000", keys: 10_000, cacheSize: 1000, nodeFlags: mainFlags }]
    : [
        { id: "k1m", keys: largeKeys, cacheSize: 100_000, nodeFlags: mainFlags },
        { id: "k1m-alt", keys: largeKeys, cacheSize: 100_000, nodeFlags: altFlags },
      ]),
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
  grpc("hot-c64-fresh", `hot keys, 64 streams, a fresh instance, ${semiLabel(mainFlags)}`, "k10k-fresh", 64),
  grpc("hot-c64-semispace", `hot keys, 64 streams, a fresh instance, ${semiLabel(altFlags)}`, "k10k-alt", 64),
  ...(quick
    ? [grpc("cold-c64", "cold keys (10k keys, 1,000-key cache), 64 streams", "k10k-c1000", 64, { tokens: "cold" })]
    : [
        grpc("hot-c64-1m", `hot keys, 64 streams, ${largeKeys.toLocaleString("en-US")} keys`, "k1m", 64),
        grpc("cold-c64-1m", `cold keys, 64 streams, ${largeKeys.toLocaleString("en-US")} keys`, "k1m", 64, {
          tokens: "cold",
        }),
        grpc(
          "cold-c64-1m-semispace",
          `cold keys, 64 streams, ${largeKeys.toLocaleString("en-US")} keys, ${semiLabel(altFlags)}`,
          "k1m-alt",
          64,
          { tokens: "cold" },
        ),
      ]),
];
const only = values.only?.split(",").map((s) => s.trim());
const scenarios = only ? allScenarios.filter((s) => only.includes(s.id)) : allScenarios;
if (scenarios.length === 0)
  throw new Error(`no scenario matches --only; known: ${allScenarios.map((s) => s.id).join(", ")}`);

// --- processes -----------------------------------------------------------------

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
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

// --- one measured run ------------------------------------------------------------

const cursors = new Map<string, { cold: number; unknown: number }>();
const filled = new Set<string>();

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

/**
 * Before the first cold run on an instance: request `cacheSize` never-seen keys
 * (not measured), so that the cold runs see a full cache that evicts on every
 * miss, and peak RSS is taken with the cache full.
 */
async function fillCache(server: Server, spec: InstanceSpec): Promise<void> {
  const cursor = cursors.get(spec.id) ?? { cold: hotKeys, unknown: 0 };
  cursors.set(spec.id, cursor);
  const count = Math.min(spec.cacheSize, spec.keys - hotKeys);
  const started = Date.now();
  const gen = forkScript(
    path.join(BENCH_DIR, "loadgen.ts"),
    [
      ...["--port", String(server.grpcPort), "--concurrency", "64", "--warmup-ms", "0", "--duration-ms", "300000"],
      ...["--tokens", path.join(seedDir(spec.keys), "tokens.txt"), "--offset", String(cursor.cold)],
      ...["--count", String(count), "--max-requests", String(count)],
    ],
    { logFile: path.join(LOG_DIR, "loadgen.log"), cpus: values.pin ? "1" : undefined },
  );
  try {
    const { result } = await nextMessage<{ t: "result"; result: LoadResult }>(gen, "result", 330_000);
    cursor.cold += result.issued;
    console.log(
      `  cache fill on ${spec.id}: ${result.issued.toLocaleString("en-US")} new keys in ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
  } finally {
    await stopChild(gen, 5000);
  }
}

/**
 * h2load against the echo and Keyward, hot key, 64 streams on one connection:
 * a cross-check that our generator is not what limits the baseline. h2load
 * sends one fixed body and sees only HTTP status, so it is not the main tool.
 */
async function h2loadCrossCheck(echo: Server | undefined, keyward: Server, spec: InstanceSpec) {
  const h2load = ["/usr/bin/h2load", "/usr/local/bin/h2load"].find((p) => fs.existsSync(p));
  if (h2load === undefined || echo === undefined) return undefined;
  const token = fs.readFileSync(path.join(seedDir(spec.keys), "tokens.txt"), "utf8").split("\n", 1)[0] as string;
  const body = path.join(DATA_DIR, "h2load-body.bin");
  fs.writeFileSync(body, grpcFrame(encodeVerifyRequest(token, true)), { mode: 0o600 });
  const out: NonNullable<BenchResults["crossCheck"]> = [];
  for (const [side, server] of [
    ["baseline", echo],
    ["keyward", keyward],
  ] as const) {
    await waitQuiet();
    const args = [
      "-D",
      String(durationMs / 1000),
      `--warm-up-time=${warmupMs / 1000}`,
      "-c",
      "1",
      "-m",
      "64",
      "-t",
      "1",
    ];
    args.push("-d", body, "-H", "content-type: application/grpc", "-H", "te: trailers");
    args.push(`http://127.0.0.1:${server.grpcPort}${VERIFY_PATH}`);
    const text = await new Promise<string>((resolve) => {
      execFile(h2load, args, { timeout: durationMs + warmupMs + 30_000 }, (_error, stdout) => resolve(String(stdout)));
    });
    const rps = Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(text)?.[1] ?? Number.NaN);
    const mean = /time for request:\s+\S+\s+\S+\s+(\S+)/.exec(text)?.[1] ?? "";
    const meanMs = mean.endsWith("us")
      ? Number.parseFloat(mean) / 1000
      : Number.parseFloat(mean) * (mean.endsWith("ms") ? 1 : 1000);
    const failed = Number(/(\d+) failed/.exec(text)?.[1] ?? Number.NaN);
    out.push({ side, instance: spec.id, concurrency: 64, rps, meanMs, failed });
    console.log(
      `h2load cross-check ${side.padEnd(8)} ${Math.round(rps)} req/s, mean ${meanMs.toFixed(2)} ms, ${failed} failed (HTTP)`,
    );
  }
  return out;
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
      maxForeignPct,
      attempts,
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
      const keyward = await startKeyward(spec, {
        logDir: LOG_DIR,
        cpus: values.pin ? "0" : undefined,
        log: console.log,
      });
      const record: InstanceRecord = { ...spec, dbBytes: 0, peakRss: 0, coldKeysRequested: 0, walBytesAtEnd: 0 };
      results.instances.push(record);
      try {
        const response = await checkInstance(keyward, spec);
        echo ??= await startEcho(response.toString("hex"), values.codec, {
          logDir: LOG_DIR,
          cpus: values.pin ? "0" : undefined,
        });
        for (const scenario of mine) {
          if (scenario.tokens === "cold" && !filled.has(spec.id)) {
            filled.add(spec.id);
            await fillCache(keyward, spec);
          }
          const entry = { ...scenario, runs: [] as RunRecord[], discarded: [] as RunRecord[] };
          results.scenarios.push(entry);
          for (let run = 1; run <= runs; run++) {
            for (const side of ["baseline", "keyward"] as const) {
              for (let attempt = 1; ; attempt++) {
                await waitQuiet();
                const r = await measure(side, side === "baseline" ? echo : keyward, scenario, run);
                r.attempt = attempt;
                if (side === "keyward") record.peakRss = Math.max(record.peakRss, r.server.maxRss);
                console.log(runLine(scenario, r));
                // Repeat a run during which other processes took a real share of the machine (not a judgement on its figures).
                if ((r.foreignCpuPct ?? 0) > maxForeignPct && attempt < attempts) {
                  entry.discarded.push(r);
                  console.log(`  repeating: other processes used ${(r.foreignCpuPct ?? 0).toFixed(0)}% of the machine`);
                  continue;
                }
                entry.runs.push(r);
                break;
              }
            }
          }
          const s = summariseScenario(entry);
          console.log(
            `  => ${scenario.id}: Keyward ${Math.round(s.keyward.rps)} req/s = ${(s.rpsRatio * 100).toFixed(0)}% of baseline, p99 ${s.p99Ratio.toFixed(2)}× baseline`,
          );
        }
        record.coldKeysRequested = (cursors.get(spec.id)?.cold ?? hotKeys) - hotKeys;
        if (spec.id === "k10k" && !quick && !values["no-h2load"]) {
          results.crossCheck = await h2loadCrossCheck(echo, keyward, spec);
        }
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
