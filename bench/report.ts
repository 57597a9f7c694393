/**
 * Turns a bench run's JSON into the VerifyKey part of docs/benchmarks.md (the
 * text between the `bench:begin`/`bench:end` markers; every other section of
 * the file is left exactly as it is) and the chart docs/benchmarks.png
 * (throughput and p99 per scenario, Keyward beside the baseline). An SVG of
 * the same chart is written to bench/results/benchmarks.svg.
 *
 *   tsx bench/report.ts [bench/results/full-latest.json]
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { BENCH_DIR, REPO_DIR } from "./lib/children.js";
import { Raster, type Rgb } from "./lib/png.js";
import { type BenchResults, checkTargets, type ScenarioSummary, summariseScenario } from "./lib/results.js";

const BEGIN = "<!-- bench:begin (written by bench/report.ts from bench/results; edit the script, not this text) -->";
const END = "<!-- bench:end -->";
const DOC = path.join(REPO_DIR, "docs", "benchmarks.md");
const PNG = path.join(REPO_DIR, "docs", "benchmarks.png");
const SVG = path.join(BENCH_DIR, "results", "benchmarks.svg");
const PROFILE = path.join(BENCH_DIR, "results", "profile-latest.json");
const CACHE_MEMORY = path.join(BENCH_DIR, "results", "cache-memory-latest.json");

export interface ProfileSummary {
  command: string;
  date: string;
  scenario: string;
  machine: string;
  load: { rps: number; p99Us: number };
  sampledMs: number;
  top: { fn: string; where: string; selfMs: number; selfPct: number }[];
  byArea: { area: string; selfPct: number }[];
}

const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "n/a");
const dec = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");
const ms = (us: number) => (Number.isFinite(us) ? (us / 1000).toFixed(us < 10_000 ? 2 : 1) : "n/a");
const pct = (x: number) => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : "n/a");

function mainTable(rows: ScenarioSummary[]): string {
  const head =
    "| scenario | baseline req/s | Keyward req/s | ratio | baseline p50 / p99 ms | Keyward p50 / p99 ms | p99 ratio | Keyward event-loop delay p99 / max ms | SQLite write tx/s | Keyward CPU µs/req (baseline) | VerifyKey codes | others' CPU % |\n" +
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|";
  const lines = rows.map((s) => {
    const k = s.keyward;
    const b = s.baseline;
    const codes = Object.entries(k.codes)
      .map(([c, n]) => `${c} ${int(n)}`)
      .join(", ");
    const errors = k.errors + b.errors > 0 ? ` — errors: Keyward ${k.errors}, baseline ${b.errors}` : "";
    return (
      `| ${s.spec.title} (\`${s.spec.id}\`) | ${int(b.rps)} | ${int(k.rps)} | ${pct(s.rpsRatio)} | ${ms(b.p50)} / ${ms(b.p99)} | ` +
      `${ms(k.p50)} / ${ms(k.p99)} | ${dec(s.p99Ratio, 2)}× | ${dec(k.eldP99, 2)} / ${dec(k.eldMax, 1)} | ${dec(k.writeTxPerSec, 2)} | ` +
      `${int(k.cpuPerReqUs)} (${int(b.cpuPerReqUs)}) = ${dec(k.cpuPerReqUs / b.cpuPerReqUs, 2)}× | ${codes}${errors} | ${int(k.foreignCpuPct)} / ${int(b.foreignCpuPct)} |`
    );
  });
  return [head, ...lines].join("\n");
}

function discardedCount(results: BenchResults): number {
  return results.scenarios.reduce((n, sc) => n + (sc.discarded?.length ?? 0), 0);
}

function runsTable(results: BenchResults): string {
  const lines = [
    "| scenario | run | side | req/s | p50 µs | p99 µs | p99.9 µs | server CPU % | generator CPU % | ELD p99 / max ms | GC ms/s | write tx | others' CPU % |",
    "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const sc of results.scenarios) {
    const all = [...sc.runs.map((r) => ({ r, kept: true })), ...(sc.discarded ?? []).map((r) => ({ r, kept: false }))];
    all.sort(
      (a, b) =>
        a.r.run - b.r.run ||
        (a.r.side < b.r.side ? -1 : a.r.side > b.r.side ? 1 : 0) ||
        (a.r.attempt ?? 1) - (b.r.attempt ?? 1),
    );
    for (const { r, kept } of all) {
      const cpu = ((r.server.cpuUserMs + r.server.cpuSystemMs) / r.server.elapsedMs) * 100;
      const gc = ((r.server.gc.minorMs + r.server.gc.majorMs + r.server.gc.otherMs) / r.server.elapsedMs) * 1000;
      lines.push(
        `| ${sc.id} | ${r.run}${(r.attempt ?? 1) > 1 ? `, try ${r.attempt}` : ""} | ${r.side}${kept ? "" : " (repeated)"} | ${int(r.load.rps)} | ${int(r.load.latencyUs.p50)} | ${int(r.load.latencyUs.p99)} | ` +
          `${int(r.load.latencyUs.p999)} | ${int(cpu)} | ${int(r.load.generatorCpuPct)} | ${dec(r.server.eld.p99, 2)} / ${dec(r.server.eld.max, 1)} | ` +
          `${dec(gc, 0)} | ${r.writeTx ?? "—"} | ${int(r.foreignCpuPct ?? Number.NaN)} |`,
      );
    }
  }
  return lines.join("\n");
}

function semiSpaceText(results: BenchResults, byId: Map<string, ScenarioSummary>): string {
  // Runs before 2026-11-29 had no fresh main instance: their base is hot-c64, after other scenarios.
  const fresh = byId.get("hot-c64-fresh");
  const base = fresh ?? byId.get("hot-c64");
  const baseInstance = fresh ? "k10k-fresh" : "k10k";
  const alt = byId.get("hot-c64-semispace");
  if (!base || !alt) return "Not measured in this run (scenarios `hot-c64-fresh` and `hot-c64-semispace`).";
  const flags = (id: string) => {
    const f = results.instances.find((i) => i.id === id)?.nodeFlags ?? [];
    return f.length > 0 ? `\`${f.join(" ")}\`` : "V8's default semi-space";
  };
  const gc = (s: ScenarioSummary) => dec(s.keyward.gcMsPerSec, 0);
  return (
    `Hot keys, 64 streams, ${fresh ? "each on an instance that served nothing before" : "the first on an instance that served the scenarios above"}, ` +
    `each against its own alternating baseline: with ${flags(baseInstance)} Keyward reached ` +
    `${pct(base.rpsRatio)} of the baseline (${int(base.keyward.rps)} req/s, p99 ${ms(base.keyward.p99)} ms = ${dec(base.p99Ratio, 2)}× baseline, ` +
    `GC ${gc(base)} ms per second, event-loop delay p99 ${dec(base.keyward.eldP99, 2)} ms); with ${flags("k10k-alt")} ` +
    `${pct(alt.rpsRatio)} (${int(alt.keyward.rps)} req/s, p99 ${ms(alt.keyward.p99)} ms = ${dec(alt.p99Ratio, 2)}× baseline, ` +
    `GC ${gc(alt)} ms per second, event-loop delay p99 ${dec(alt.keyward.eldP99, 2)} ms). ` +
    `CPU per verification: ${int(base.keyward.cpuPerReqUs)} µs vs ${int(alt.keyward.cpuPerReqUs)} µs.` +
    coldSemiSpace(results, byId, flags)
  );
}

function coldSemiSpace(
  results: BenchResults,
  byId: Map<string, ScenarioSummary>,
  flags: (id: string) => string,
): string {
  const base = byId.get("cold-c64-1m");
  const alt = byId.get("cold-c64-1m-semispace");
  const a = results.instances.find((i) => i.id === "k1m");
  const b = results.instances.find((i) => i.id === "k1m-alt");
  if (!base || !alt || !a || !b) return "";
  return (
    `\n\nCold keys with ${int(a.keys)} keys and a full 100k-key cache: ${flags("k1m")} ${pct(base.rpsRatio)} of the baseline, ` +
    `p99 ${ms(base.keyward.p99)} ms, peak RSS ${int(a.peakRss / 1e6)} MB; ${flags("k1m-alt")} ${pct(alt.rpsRatio)}, ` +
    `p99 ${ms(alt.keyward.p99)} ms, peak RSS ${int(b.peakRss / 1e6)} MB.`
  );
}

function crossCheckText(results: BenchResults, byId: Map<string, ScenarioSummary>): string {
  const cc = results.crossCheck;
  const hot = byId.get("hot-c64");
  if (!cc || cc.length < 2 || !hot)
    return "Not run (needs h2load from Debian `nghttp2-client`; skipped in quick mode).";
  const b = cc.find((c) => c.side === "baseline");
  const k = cc.find((c) => c.side === "keyward");
  if (!b || !k) return "Incomplete.";
  return (
    `One run each, hot key, 64 streams on one connection, same request bytes: h2load measured the echo at ${int(b.rps)} req/s ` +
    `(mean ${dec(b.meanMs, 2)} ms) and Keyward at ${int(k.rps)} req/s (mean ${dec(k.meanMs, 2)} ms), a ratio of ${pct(k.rps / b.rps)}; ` +
    `HTTP failures ${b.failed} and ${k.failed}. Our generator in \`hot-c64\` (medians): ${int(hot.baseline.rps)} and ${int(hot.keyward.rps)} req/s, ` +
    `${pct(hot.rpsRatio)}. h2load is a C program and uses less CPU per request; it cannot vary the token or read grpc-status, so it is a cross-check only.`
  );
}

function cacheMemoryText(): string {
  if (!fs.existsSync(CACHE_MEMORY)) return "";
  const c = JSON.parse(fs.readFileSync(CACHE_MEMORY, "utf8")) as {
    keys: number;
    date: string;
    recordBytesPerKey: number;
    cachedKeyBytesPerKey: number;
    pendingUsageBytesPerKey: number;
  };
  return (
    `\n\nWhere the memory goes (\`node --expose-gc --import tsx bench/cache-memory.ts\`, ${c.date}, ${int(c.keys)} keys, heap after full GC): ` +
    `a KeyRecord as the store returns it is ${int(c.recordBytesPerKey)} B; the cache keeps only what verification reads (a slim copy, the derived scope and CIDR checks, the LRU slot): ${int(c.cachedKeyBytesPerKey)} B a key, ` +
    `so a full 100k-key cache holds about ${int((c.cachedKeyBytesPerKey * 100_000) / 1e6)} MB of live heap; usage waiting for the next flush adds ${int(c.pendingUsageBytesPerKey)} B ` +
    `per distinct key verified in the interval. Peak RSS above that is heap V8 has not yet collected (old-space garbage between major GCs), ` +
    `the young generation, code and native memory.`
  );
}

function profileText(): string {
  if (!fs.existsSync(PROFILE)) return "No profile in bench/results yet: run `npx tsx bench/profile.ts`.";
  const p = JSON.parse(fs.readFileSync(PROFILE, "utf8")) as ProfileSummary;
  const top = p.top.map((t, i) => `| ${i + 1} | \`${t.fn}\` | ${t.where} | ${dec(t.selfPct, 1)}% |`).join("\n");
  const areas = p.byArea.map((a) => `${a.area} ${dec(a.selfPct, 1)}%`).join(", ");
  return [
    `\`${p.command}\` — ${p.date}, ${p.machine}; ${p.scenario}: ${int(p.load.rps)} req/s, p99 ${ms(p.load.p99Us)} ms under the profiler; ${int(p.sampledMs)} ms of samples.`,
    "",
    "| # | function | where | self time |",
    "|---:|---|---|---:|",
    top,
    "",
    `Self time by area: ${areas}.`,
  ].join("\n");
}

/** The Markdown block between the markers. */
export function renderMarkdown(results: BenchResults): string {
  const rows = results.scenarios.map(summariseScenario);
  const byId = new Map(rows.map((r) => [r.spec.id, r]));
  const m = results.machine;
  const st = results.settings;
  const targets = checkTargets(results)
    .map((t) => `| ${t.target} | ${t.measured} | ${t.met === null ? "not run" : t.met ? "**met**" : "**missed**"} |`)
    .join("\n");
  const instances = results.instances
    .map(
      (i) =>
        `| \`${i.id}\` | ${int(i.keys)} | ${int(i.cacheSize)} | ${i.nodeFlags.length > 0 ? `\`${i.nodeFlags.join(" ")}\`` : "none"} | ` +
        `${int(i.dbBytes / 1e6)} MB | ${int(i.peakRss / 1e6)} MB | ${int(i.coldKeysRequested)} |`,
    )
    .join("\n");
  const connect = byId.get("connect-h1-c64");
  const hot64 = byId.get("hot-c64");
  const connectLine =
    connect && hot64
      ? `Connect protocol over HTTP/1.1 (64 keep-alive connections, one request in flight on each): ${int(connect.keyward.rps)} req/s, ` +
        `p99 ${ms(connect.keyward.p99)} ms — ${pct(connect.keyward.rps / hot64.keyward.rps)} of Keyward's own gRPC port at 64 streams ` +
        `(${int(hot64.keyward.rps)} req/s) and ${pct(connect.rpsRatio)} of the gRPC echo measured beside it.`
      : "Not measured in this run.";
  return `${BEGIN}
## VerifyKey under load

${results.mode === "quick" ? "**Quick mode** (1 short run per scenario, 10k keys): for iterating, not for conclusions.\n\n" : ""}Measured ${results.startedAt.slice(0, 10)} (${results.startedAt.slice(11, 16)}–${results.finishedAt.slice(11, 16)} UTC) with \`${results.command}\` on ${m.nproc} CPUs (\`nproc\`), ${m.cpu} (/proc/cpuinfo), Node ${m.node}, ${m.kernel}, ${int(m.memTotalMb)} MB RAM.
${st.runs} run${st.runs > 1 ? "s" : ""} of ${st.durationMs / 1000} s per side and scenario after ${st.warmupMs / 1000} s of warm-up, baseline and Keyward alternating (A B A B ...); medians reported.
The chart (\`docs/benchmarks.png\`) shows the same medians.

![VerifyKey throughput and p99, Keyward beside the grpc-js echo baseline](benchmarks.png)

### Targets (issue 7)

| target | measured | |
|---|---|---|
${targets}

### Scenarios

${mainTable(rows)}

"ratio" is Keyward's req/s over the baseline's in the same scenario; "CPU µs/req" is the server process's CPU time (all threads) over the requests it completed in the window — less sensitive to other load on the machine than throughput, and the inverse of the capacity ratio when the server is CPU-bound; "others' CPU" is what processes outside the benchmark used of the whole machine during the measured windows (Keyward / baseline): the machine is shared, and figures taken while it is high are noisy.

### Effect of \`--max-semi-space-size\`

${semiSpaceText(results, byId)}

### Connect port

${connectLine}

### Load generator cross-check (h2load)

${crossCheckText(results, byId)}

### Keyward instances

| instance | keys in the database | cache size | Node flags | database | peak RSS | distinct cold keys requested |
|---|---:|---:|---|---:|---:|---:|
${instances}${cacheMemoryText()}

### CPU profile (hot keys, 64 streams)

${profileText()}

### Running it

- \`npm run bench -- --quick\`: 1 run of 3 s per side and scenario, 10k-key database (cold keys against a 1,000-key cache instead of 1M keys), no waiting for a quiet machine, results on the console and in \`bench/results/quick-latest.json\`; docs untouched unless \`--docs\`. About 3 minutes.
- \`npm run bench\`: the full run above, writes this section and the chart (\`--no-docs\` to keep them). 30-60 minutes, depending on how long it waits for a quiet machine.
- Options: \`--only hot-c64,hot-c1\`, \`--runs 5\`, \`--duration 20\` (s), \`--warmup 2\`, \`--semi-space 64\` (Keyward instances with \`--max-semi-space-size=64\` instead of V8's default, which \`npm start\` gives them; the \`-semispace\` scenarios run with the other setting), \`--pin\` (server on CPU 0, generator on CPU 1), \`--quiet-wait 0\`, \`--no-h2load\`, \`--codec buffer\` (echo without protobufjs decoding).
- \`npx tsx bench/profile.ts\` (\`--target echo\`, \`--tokens cold|limited\`, \`--protocol connect-h1\`, \`--semi-space default\`): CPU profile over a measured window, top self-time functions on the console, the \`.cpuprofile\` in \`bench/results/profiles/\`.
- \`npx tsx bench/seed.ts --keys 1000000\`: seeds \`bench/.data/seed-1000000/\` (the runs do it themselves when missing; 1M keys take about a minute). Tokens are real credentials of those throwaway databases: \`bench/.data/\` is git-ignored.

### How it is measured

- **Processes.** Three, all on 127.0.0.1: the server under test, the load generator, and the orchestrator (\`bench/run.ts\`), which only relays two IPC messages per run. Two CPUs only: the generator competes with the server for CPU, so it is kept cheap, and its CPU share is recorded with every run.
- **Baseline** (\`bench/echo-server.ts\`): a bare \`@grpc/grpc-js\` server with a handler at \`/keyward.v1.KeyService/VerifyKey\` that decodes the request with protobufjs (as a grpc-js + \`@grpc/proto-loader\` server does) and answers with a fixed pre-encoded response: the exact bytes Keyward returned for a hot key, captured at start (codec: \`${st.codec}\`). Same request bytes as Keyward's run.
- **Keyward** (\`bench/service-entry.ts\`): \`startService(loadConfig(env))\` as \`keyward service\` runs it, LOG_LEVEL=info, usage flushed every ${st.usageFlushMs} ms, in-memory rate limiter, a fresh copy of the seeded database per instance. The entry adds only the probe below.
- **Load generator** (\`bench/loadgen.ts\`): a closed loop of N requests in flight over C HTTP/2 connections, each request a pre-encoded gRPC frame of \`VerifyKeyRequest{token, context{ip, method, path}}\`, a different token per request where the scenario says so. It is a minimal HTTP/2 client on a raw socket (\`bench/lib/raw-h2.ts\`: header table size 0, so only static-table and literal headers come back; it reads \`:status\`, \`grpc-status\` from the trailers or a trailers-only answer, and the VerifyKey \`code\` from the body, and counts every non-OK answer). node:http2's client cost ~100 µs of CPU per call here — more than the echo server it measured — and halved the baseline's throughput; h2load (Debian \`nghttp2-client\`) cannot vary the body per request nor read \`grpc-status\`, so it was used only as a cross-check of the baseline's throughput. Latency is from just before the request is written to the end of the trailers, recorded in an HDR histogram (\`perf_hooks.createHistogram\`).
- **Tokens.** Seeded straight into SQLite (\`bench/seed.ts\`, schema created by the store itself): hot = the first ${st.hotKeys} keys, cycled; cold = keys never requested before, taken in order from the ${results.mode === "quick" ? "10k" : "1M"}-key set, each run continuing where the last stopped (so every request misses the cache until the 100k-key cache is full, and after that still misses); limits = ${st.hotKeys} keys with two rate limits (per second and per minute, 10⁹ each) and 10¹⁵ credits so they stay VALID; 5% unknown = every 20th request a well-formed token (valid checksum) that is in no database, each one new.
- **Inside the server** (\`bench/lib/probe.ts\`, in the echo and in Keyward alike): \`monitorEventLoopDelay\` at 1 ms resolution, CPU time (\`process.cpuUsage\`, all threads), GC pauses (PerformanceObserver), peak RSS (\`getrusage\` ru_maxrss, the process's lifetime peak), over exactly the measured window.
- **SQLite write transactions** are counted without touching \`src/\`: SQLite's WAL-index header (\`keyward.db-shm\`) holds a counter (\`iChange\`) that every committed write transaction increments; the orchestrator reads it at the start and end of each window. In the hot scenarios the only writes are usage flushes; with credits, every spend batch is a transaction too.
- **Quiet machine.** ${st.quietWaitMs > 0 ? `Before each run the orchestrator waited (at most ${st.quietWaitMs / 1000} s) until other processes used under 10% of the machine` : "No waiting for a quiet machine (quick mode)"}; ${(st.attempts ?? 1) > 1 ? `a run during which other processes used more than ${st.maxForeignPct}% of the machine was repeated, up to ${st.attempts} attempts in all, the last one kept whatever happened (${discardedCount(results)} runs repeated in all, listed below with the kept ones)` : "no run was repeated"}; the CPU other processes used during each window is recorded (\`/proc/stat\` minus the server's and the generator's own CPU).${st.pinned ? ` CPUs pinned: ${st.pinned}.` : ""}

<details><summary>Every run</summary>

${runsTable(results)}

</details>
${END}`;
}

/** Replaces the block between the markers, or inserts it after the title; nothing else in the file changes. */
export function spliceDoc(existing: string | undefined, block: string): string {
  if (existing === undefined || existing.trim() === "") return `# Benchmarks\n\n${block}\n`;
  const begin = existing.indexOf("<!-- bench:begin");
  const end = existing.indexOf(END);
  if (begin >= 0 && end > begin) return existing.slice(0, begin) + block + existing.slice(end + END.length);
  const title = /^# .*\n/m.exec(existing);
  if (title && title.index === 0) {
    const at = title[0].length;
    return `${existing.slice(0, at)}\n${block}\n${existing.slice(at)}`;
  }
  return `${block}\n\n${existing}`;
}

// --- the chart ------------------------------------------------------------------

const GREY: Rgb = [150, 150, 150];
const BLUE: Rgb = [33, 102, 172];
const INK: Rgb = [30, 30, 30];
const FAINT: Rgb = [225, 225, 225];

interface ChartRow {
  label: string;
  baseline: [number, number];
  keyward: [number, number];
}

function chartRows(results: BenchResults): ChartRow[] {
  return results.scenarios.map(summariseScenario).map((s) => ({
    label: s.spec.id,
    baseline: [s.baseline.rps, s.baseline.p99 / 1000],
    keyward: [s.keyward.rps, s.keyward.p99 / 1000],
  }));
}

const LAYOUT = { width: 1320, labelW: 230, top: 104, rowH: 46, bar: 14, gap: 3, panelGap: 40, right: 20 };

function panels() {
  const { width, labelW, panelGap, right } = LAYOUT;
  const panelW = (width - labelW - panelGap - right) / 2;
  return [
    { x: labelW, w: panelW, title: "Throughput, requests/s (median)", unit: "" },
    { x: labelW + panelW + panelGap, w: panelW, title: "p99 latency, ms (median)", unit: " ms" },
  ];
}

function fmtValue(v: number, panel: number): string {
  if (!Number.isFinite(v)) return "n/a";
  return panel === 0 ? Math.round(v).toLocaleString("en-US") : v < 10 ? v.toFixed(2) : v.toFixed(1);
}

type Panel = ReturnType<typeof panels>[number];

/** Every bar of one panel, baseline then Keyward per row, scaled to the panel's largest value: what both renderers draw. */
function panelBars(rows: ChartRow[], p: Panel, pi: number) {
  const { top, rowH, bar, gap } = LAYOUT;
  const max = Math.max(
    ...rows.flatMap((row) => [row.baseline[pi] ?? 0, row.keyward[pi] ?? 0]).filter(Number.isFinite),
    1e-9,
  );
  const barMax = p.w - 90;
  return rows.flatMap((row, i) =>
    (
      [
        [0, row.baseline[pi] ?? 0, GREY],
        [1, row.keyward[pi] ?? 0, BLUE],
      ] as const
    ).map(([k, value, color]) => ({
      row: i,
      y: top + i * rowH,
      by: top + i * rowH + k * (bar + gap) + 4,
      w: Number.isFinite(value) ? Math.max(1, (value / max) * barMax) : 0,
      label: fmtValue(value, pi),
      color,
    })),
  );
}

function renderPng(results: BenchResults): Buffer {
  const rows = chartRows(results);
  const { width, top, rowH, bar } = LAYOUT;
  const height = top + rows.length * rowH + 40;
  const r = new Raster(width, height);
  r.text(
    16,
    14,
    `VerifyKey: Keyward beside a bare grpc-js echo (${results.startedAt.slice(0, 10)}, ${results.mode} mode)`,
    INK,
    3,
  );
  r.fillRect(16, 52, 16, 14, GREY);
  r.text(38, 53, "baseline: grpc-js echo", INK, 2);
  r.fillRect(330, 52, 16, 14, BLUE);
  r.text(352, 53, "Keyward", INK, 2);
  r.text(
    470,
    53,
    `${results.machine.nproc} CPUs, Node ${results.machine.node}, ${results.settings.runs} x ${results.settings.durationMs / 1000} s runs`,
    INK,
    2,
  );
  panels().forEach((p, pi) => {
    r.text(p.x, top - 26, p.title, INK, 2);
    r.fillRect(p.x, top - 4, 1, rows.length * rowH, INK);
    rows.forEach((_row, i) => {
      if (i % 2 === 1) r.fillRect(p.x + 1, top + i * rowH - 4, p.w, rowH, [247, 247, 247]);
    });
    for (const b of panelBars(rows, p, pi)) {
      r.fillRect(p.x + 1, b.by, b.w, bar, b.color);
      r.text(p.x + b.w + 6, b.by, b.label, INK, 2);
    }
    rows.forEach((_row, i) => {
      r.fillRect(p.x + 1, top + i * rowH + rowH - 5, p.w, 1, FAINT);
    });
  });
  rows.forEach((row, i) => {
    r.text(16, top + i * rowH + 12, row.label, INK, 2);
  });
  return r.toPng();
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function renderSvg(results: BenchResults): string {
  const rows = chartRows(results);
  const { width, top, rowH, bar } = LAYOUT;
  const height = top + rows.length * rowH + 40;
  const hex = (c: Rgb) => `#${c.map((v) => v.toString(16).padStart(2, "0")).join("")}`;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="14">`,
    "<title>VerifyKey throughput and p99, Keyward beside the grpc-js echo baseline</title>",
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="16" y="34" font-size="20">${escapeXml(`VerifyKey: Keyward beside a bare grpc-js echo (${results.startedAt.slice(0, 10)}, ${results.mode} mode)`)}</text>`,
    `<rect x="16" y="52" width="16" height="14" fill="${hex(GREY)}"/><text x="38" y="64">baseline: grpc-js echo</text>`,
    `<rect x="330" y="52" width="16" height="14" fill="${hex(BLUE)}"/><text x="352" y="64">Keyward</text>`,
  ];
  panels().forEach((p, pi) => {
    parts.push(`<text x="${p.x}" y="${top - 12}">${escapeXml(p.title)}</text>`);
    parts.push(`<line x1="${p.x}" y1="${top - 4}" x2="${p.x}" y2="${top - 4 + rows.length * rowH}" stroke="black"/>`);
    for (const b of panelBars(rows, p, pi)) {
      parts.push(`<rect x="${p.x + 1}" y="${b.by}" width="${b.w.toFixed(1)}" height="${bar}" fill="${hex(b.color)}"/>`);
      parts.push(`<text x="${(p.x + b.w + 6).toFixed(1)}" y="${b.by + 12}">${b.label}</text>`);
    }
  });
  rows.forEach((row, i) => {
    parts.push(`<text x="16" y="${top + i * rowH + 24}">${escapeXml(row.label)}</text>`);
  });
  parts.push("</svg>");
  return parts.join("\n");
}

/** Writes docs/benchmarks.md (the block), docs/benchmarks.png and the SVG; returns the paths written. */
export async function writeReport(results: BenchResults): Promise<string[]> {
  fs.mkdirSync(path.dirname(DOC), { recursive: true });
  const existing = fs.existsSync(DOC) ? fs.readFileSync(DOC, "utf8") : undefined;
  fs.writeFileSync(DOC, spliceDoc(existing, renderMarkdown(results)));
  fs.writeFileSync(PNG, renderPng(results));
  fs.mkdirSync(path.dirname(SVG), { recursive: true });
  fs.writeFileSync(SVG, renderSvg(results));
  return [DOC, PNG, SVG].map((f) => path.relative(process.cwd(), f));
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const file = process.argv[2] ?? path.join(BENCH_DIR, "results", "full-latest.json");
  const results = JSON.parse(fs.readFileSync(file, "utf8")) as BenchResults;
  const written = await writeReport(results);
  console.log(`wrote ${written.join(", ")}`);
}
