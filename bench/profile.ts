/**
 * A CPU profile of a server under load, and its top self-time functions.
 *
 *   npx tsx bench/profile.ts                      Keyward, hot keys, 64 streams on 1 connection, 10 s
 *   npx tsx bench/profile.ts --target echo        the grpc-js echo baseline, same load, for comparison
 *   npx tsx bench/profile.ts --tokens cold --keys 1000000 --cache 100000
 *   npx tsx bench/profile.ts --semi-space 64 --duration 20 --concurrency 16
 *   npx tsx bench/profile.ts --protocol connect-h1   Keyward's Connect port (HTTP/1.1, one connection per stream)
 *
 * The server runs V8's sampling profiler (the one behind `node --cpu-prof`,
 * started through node:inspector by bench/lib/probe.ts) during the measured
 * window only, after a warm-up. The raw profile lands in
 * bench/results/profiles/ (open it in Chrome DevTools > Performance, or
 * VS Code); the summary in bench/results/profile-<target>-<tokens>.json
 * (Keyward hot: profile-latest.json, which report.ts puts in the docs).
 *
 * The same by hand, for the whole life of the process:
 *   KEYWARD_DATA_DIR=... KEYWARD_SERVICE_PORT=50051 node --cpu-prof --cpu-prof-dir=bench/results/profiles \
 *     --import tsx bench/service-entry.ts      (then load it, and stop it with SIGTERM)
 */
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import {
  BENCH_DIR,
  forkScript,
  killAll,
  killChildrenOnExit,
  nextMessage,
  REPO_DIR,
  stopChild,
} from "./lib/children.js";
import type { WindowStats } from "./lib/probe.js";
import type { InstanceSpec } from "./lib/results.js";
import { checkInstance, machine, RESULTS_DIR, type Server, seedDir, startEcho, startKeyward } from "./lib/servers.js";
import type { LoadResult } from "./loadgen.js";
import type { ProfileSummary } from "./report.js";

const { values } = parseArgs({
  options: {
    target: { type: "string", default: "keyward" },
    protocol: { type: "string", default: "grpc" },
    tokens: { type: "string", default: "hot" },
    keys: { type: "string", default: "10000" },
    cache: { type: "string", default: "100000" },
    concurrency: { type: "string", default: "64" },
    connections: { type: "string", default: "1" },
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    "semi-space": { type: "string" },
    interval: { type: "string", default: "500" },
    top: { type: "string", default: "15" },
  },
});
const target = values.target;
if (target !== "keyward" && target !== "echo") throw new Error("--target keyward|echo");
const tokens = values.tokens;
if (tokens !== "hot" && tokens !== "cold" && tokens !== "limited") throw new Error("--tokens hot|cold|limited");
const protocol = values.protocol;
if (protocol !== "grpc" && protocol !== "connect-h1") throw new Error("--protocol grpc|connect-h1");
if (protocol === "connect-h1" && target === "echo") throw new Error("the echo has no Connect port");
const durationMs = Math.round(Number(values.duration) * 1000);
const warmupMs = Math.round(Number(values.warmup) * 1000);
if (!(durationMs >= 1000 && durationMs <= 120_000)) throw new Error("--duration 1-120 s");
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const logDir = path.join(RESULTS_DIR, "logs", `profile-${stamp}`);
const profileDir = path.join(RESULTS_DIR, "profiles");
const profileFile = path.join(
  profileDir,
  `${target}-${values.protocol}-${values.tokens}-c${values.concurrency}-${stamp}.cpuprofile`,
);
// As `npm start` runs the service, unless told otherwise ("default": V8's own setting).
const semi = values["semi-space"] ?? "default";
const nodeFlags = semi === "default" ? [] : [`--max-semi-space-size=${semi}`];
const spec: InstanceSpec = { id: "profile", keys: Number(values.keys), cacheSize: Number(values.cache), nodeFlags };
const profilerEnv = { BENCH_CPU_PROFILE: profileFile, BENCH_CPU_PROFILE_INTERVAL_US: values.interval };

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function where(url: string, line: number): string {
  if (url === "") return "(native)";
  let short = url.replace(/^file:\/\//, "");
  if (short.startsWith(REPO_DIR)) short = short.slice(REPO_DIR.length + 1);
  short = short.replace(/^node_modules\//, "");
  return `${short}:${line + 1}`;
}

function area(frame: CpuProfileNode["callFrame"]): string {
  const { url, functionName } = frame;
  if (functionName === "(garbage collector)") return "GC";
  if (functionName === "(program)") return "V8/native (program)";
  if (functionName === "(idle)") return "idle";
  if (url === "") return "native builtins";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] as string;
  if (url.includes("/src/")) return "keyward src/";
  if (url.includes("/bench/")) return "bench probe";
  if (url.startsWith("node:internal/http2")) return "node http2";
  if (url.startsWith("node:")) return "node core";
  return "other";
}

/** Self time per function (name + location), largest first, idle excluded from the percentages. */
export function summariseProfile(profile: CpuProfile, top: number) {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    // A sample's duration runs to the next sample.
    const delta = profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0;
    const id = profile.samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, delta));
  }
  const fns = new Map<string, { fn: string; where: string; area: string; us: number }>();
  const areas = new Map<string, number>();
  let busyUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = byNode.get(id);
    if (!node) continue;
    const a = area(node.callFrame);
    if (a === "idle") {
      idleUs += us;
      continue;
    }
    busyUs += us;
    areas.set(a, (areas.get(a) ?? 0) + us);
    const fn = node.callFrame.functionName || "(anonymous)";
    const loc = where(node.callFrame.url, node.callFrame.lineNumber);
    const key = `${fn} ${loc}`;
    const entry = fns.get(key) ?? { fn, where: loc, area: a, us: 0 };
    entry.us += us;
    fns.set(key, entry);
  }
  const sorted = [...fns.values()].sort((a, b) => b.us - a.us);
  return {
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    top: sorted.slice(0, top).map((f) => ({
      fn: f.fn,
      where: `${f.where} (${f.area})`,
      selfMs: f.us / 1000,
      selfPct: (f.us / busyUs) * 100,
    })),
    byArea: [...areas.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([name, us]) => ({ area: name, selfPct: (us / busyUs) * 100 })),
  };
}

async function main(): Promise<void> {
  fs.mkdirSync(profileDir, { recursive: true });
  let keyward: Server | undefined;
  let echo: Server | undefined;
  let gen: ReturnType<typeof forkScript> | undefined;
  try {
    keyward = await startKeyward(spec, {
      logDir,
      env: target === "keyward" ? profilerEnv : undefined,
      log: console.log,
    });
    const response = await checkInstance(keyward, spec);
    let server: Server = keyward;
    if (target === "echo") {
      await stopChild(keyward.child);
      keyward = undefined;
      echo = await startEcho(response.toString("hex"), "protobufjs", { logDir, env: profilerEnv, nodeFlags });
      server = echo;
    }
    const dir = seedDir(spec.keys);
    const file = tokens === "limited" ? "limited.txt" : "tokens.txt";
    const port = protocol === "connect-h1" ? server.connectPort : server.grpcPort;
    const args = ["--port", String(port), "--protocol", protocol, "--concurrency", values.concurrency];
    args.push("--connections", values.connections);
    args.push("--warmup-ms", String(warmupMs), "--duration-ms", String(durationMs), "--tokens", path.join(dir, file));
    if (tokens === "cold") args.push("--offset", "10", "--count", String(Math.min(300_000, spec.keys - 10)));
    else args.push("--count", "10");
    gen = forkScript(path.join(BENCH_DIR, "loadgen.ts"), args, { logFile: path.join(logDir, "loadgen.log") });
    const child = server.child;
    gen.on("message", (message: { t?: string }) => {
      if (message.t === "measure-start") child.send({ t: "start" });
      else if (message.t === "measure-end") child.send({ t: "stop" });
    });
    const window = nextMessage<{ t: "window"; stats: WindowStats }>(child, "window", warmupMs + durationMs + 60_000);
    const written = nextMessage<{ t: "profile"; file: string }>(child, "profile", warmupMs + durationMs + 120_000);
    const { result } = await nextMessage<{ t: "result"; result: LoadResult }>(
      gen,
      "result",
      warmupMs + durationMs + 60_000,
    );
    const { stats } = await window;
    await written;
    const profile = JSON.parse(fs.readFileSync(profileFile, "utf8")) as CpuProfile;
    const s = summariseProfile(profile, Number(values.top));
    const m = machine();
    const scenario = `${target === "keyward" ? "Keyward" : "grpc-js echo"}${protocol === "connect-h1" ? " (Connect, HTTP/1.1)" : ""}, ${tokens} keys, ${values.concurrency} streams on ${values.connections} connection(s)${nodeFlags.length ? `, ${nodeFlags.join(" ")}` : ""}`;
    const summary: ProfileSummary = {
      command: `npx tsx bench/profile.ts ${process.argv.slice(2).join(" ")}`.trim(),
      date: new Date().toISOString().slice(0, 16).replace("T", " "),
      scenario,
      machine: `${m.nproc} CPUs, ${m.cpu}, Node ${m.node}`,
      load: { rps: result.rps, p99Us: result.latencyUs.p99 },
      sampledMs: s.busyMs + s.idleMs,
      top: s.top,
      byArea: s.byArea,
    };
    const name =
      target === "keyward" &&
      protocol === "grpc" &&
      tokens === "hot" &&
      values.concurrency === "64" &&
      !nodeFlags.length
        ? "profile-latest.json"
        : `profile-${target}-${protocol}-${tokens}-c${values.concurrency}${nodeFlags.length ? "-semispace" : ""}.json`;
    fs.writeFileSync(
      path.join(RESULTS_DIR, name),
      `${JSON.stringify({ ...summary, window: stats, profileFile }, null, 2)}\n`,
    );
    console.log(
      `${scenario}: ${Math.round(result.rps)} req/s, p99 ${(result.latencyUs.p99 / 1000).toFixed(1)} ms (under the profiler)`,
    );
    console.log(`samples: ${s.busyMs.toFixed(0)} ms busy, ${s.idleMs.toFixed(0)} ms idle on the main thread`);
    console.log(`\ntop ${s.top.length} self time (share of busy samples):`);
    s.top.forEach((t, i) => {
      console.log(`${String(i + 1).padStart(3)}. ${t.selfPct.toFixed(1).padStart(5)}%  ${t.fn}  ${t.where}`);
    });
    console.log("\nby area:");
    for (const a of s.byArea) console.log(`  ${a.selfPct.toFixed(1).padStart(5)}%  ${a.area}`);
    console.log(
      `\nprofile: ${path.relative(process.cwd(), profileFile)}\nsummary: ${path.relative(process.cwd(), path.join(RESULTS_DIR, name))}`,
    );
  } finally {
    if (gen) await stopChild(gen, 5000);
    if (keyward) await stopChild(keyward.child);
    if (echo) await stopChild(echo.child);
    killAll();
  }
}

killChildrenOnExit();
await main();
