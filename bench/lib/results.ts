/**
 * The shape of a bench run's JSON results, the medians the docs report, and
 * the targets evaluated on them. Shared by run.ts (console) and
 * report.ts (docs/benchmarks.md and the chart).
 */
import type { LoadResult } from "../loadgen.js";
import type { WindowStats } from "./probe.js";

export type Side = "baseline" | "keyward";

export interface RunRecord {
  side: Side;
  run: number;
  load: LoadResult;
  server: WindowStats;
  /** SQLite write transactions committed in the window (WAL-index change counter), Keyward only. */
  writeTx?: number;
  /** CPU used by other processes on the machine during the window, % of all CPUs. */
  foreignCpuPct?: number;
  /** 1 for the first try; later when earlier tries were repeated because of other load. */
  attempt?: number;
}

export interface ScenarioSpec {
  id: string;
  title: string;
  /** Which Keyward instance serves it (see InstanceSpec). */
  instance: string;
  protocol: "grpc" | "connect-h1";
  concurrency: number;
  connections: number;
  tokens: "hot" | "cold" | "limited";
  /** Every n-th request carries an unknown (well-formed, not stored) token; 0 = none. */
  unknownEvery: number;
}

export interface InstanceSpec {
  id: string;
  keys: number;
  cacheSize: number;
  nodeFlags: string[];
}

export interface InstanceRecord extends InstanceSpec {
  dbBytes: number;
  /** Peak RSS over the instance's life (getrusage ru_maxrss), bytes. */
  peakRss: number;
  /** Distinct cold keys requested from it (an upper bound on its cache fill), 0 if none. */
  coldKeysRequested: number;
  walBytesAtEnd: number;
}

export interface BenchResults {
  mode: "quick" | "full";
  command: string;
  startedAt: string;
  finishedAt: string;
  machine: { nproc: number; cpu: string; node: string; kernel: string; memTotalMb: number };
  settings: {
    runs: number;
    durationMs: number;
    warmupMs: number;
    codec: string;
    hotKeys: number;
    usageFlushMs: number;
    pinned: string | null;
    quietWaitMs: number;
    maxForeignPct?: number;
    attempts?: number;
  };
  instances: InstanceRecord[];
  /** h2load (nghttp2) against the same servers with the same body: a cross-check of the generator, one run each. */
  crossCheck?: { side: Side; instance: string; concurrency: number; rps: number; meanMs: number; failed: number }[];
  /** `discarded`: runs repeated because other processes were busy (kept for the record, not in the medians). */
  scenarios: (ScenarioSpec & { runs: RunRecord[]; discarded?: RunRecord[] })[];
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export interface SideSummary {
  rps: number;
  p50: number;
  p99: number;
  p999: number;
  errors: number;
  /** Server CPU (all threads) per completed request, µs. */
  cpuPerReqUs: number;
  serverCpuPct: number;
  generatorCpuPct: number;
  eldP99: number;
  eldMax: number;
  gcMsPerSec: number;
  writeTxPerSec: number;
  foreignCpuPct: number;
  codes: Record<string, number>;
}

export interface ScenarioSummary {
  spec: ScenarioSpec;
  baseline: SideSummary;
  keyward: SideSummary;
  rpsRatio: number;
  p99Ratio: number;
}

function summarise(runs: RunRecord[]): SideSummary {
  const m = (f: (r: RunRecord) => number) => median(runs.map(f));
  const codes: Record<string, number> = {};
  for (const r of runs) for (const [code, n] of Object.entries(r.load.codes)) codes[code] = (codes[code] ?? 0) + n;
  const cpuMs = (r: RunRecord) => r.server.cpuUserMs + r.server.cpuSystemMs;
  const gcMs = (r: RunRecord) => r.server.gc.minorMs + r.server.gc.majorMs + r.server.gc.otherMs;
  return {
    rps: m((r) => r.load.rps),
    p50: m((r) => r.load.latencyUs.p50),
    p99: m((r) => r.load.latencyUs.p99),
    p999: m((r) => r.load.latencyUs.p999),
    errors: runs.reduce((n, r) => n + Object.values(r.load.errors).reduce((a, b) => a + b, 0), 0),
    cpuPerReqUs: m((r) => (cpuMs(r) * 1000) / Math.max(1, r.load.requests)),
    serverCpuPct: m((r) => (cpuMs(r) / r.server.elapsedMs) * 100),
    generatorCpuPct: m((r) => r.load.generatorCpuPct),
    eldP99: m((r) => r.server.eld.p99),
    eldMax: m((r) => r.server.eld.max),
    gcMsPerSec: m((r) => gcMs(r) / (r.server.elapsedMs / 1000)),
    writeTxPerSec: m((r) => (r.writeTx ?? Number.NaN) / (r.server.elapsedMs / 1000)),
    foreignCpuPct: m((r) => r.foreignCpuPct ?? Number.NaN),
    codes,
  };
}

export function summariseScenario(scenario: ScenarioSpec & { runs: RunRecord[] }): ScenarioSummary {
  const baseline = summarise(scenario.runs.filter((r) => r.side === "baseline"));
  const keyward = summarise(scenario.runs.filter((r) => r.side === "keyward"));
  return {
    spec: scenario,
    baseline,
    keyward,
    rpsRatio: keyward.rps / baseline.rps,
    p99Ratio: keyward.p99 / baseline.p99,
  };
}

export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean | null;
}

const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
const fmt = (x: number, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : "n/a");

/** The targets, each met, missed, or null when its scenario was not run. */
export function checkTargets(results: BenchResults): TargetCheck[] {
  const s = new Map(results.scenarios.map((sc) => [sc.id, summariseScenario(sc)]));
  const out: TargetCheck[] = [];
  const need = (id: string) => s.get(id);

  const hot64 = need("hot-c64");
  out.push(
    hot64
      ? {
          target: "Hot keys, 64 streams: ≥ 90% of baseline req/s",
          measured: `${fmt(hot64.keyward.rps)} vs ${fmt(hot64.baseline.rps)} req/s = ${pct(hot64.rpsRatio)}`,
          met: hot64.rpsRatio >= 0.9,
        }
      : { target: "Hot keys, 64 streams: ≥ 90% of baseline req/s", measured: "not run", met: null },
  );
  out.push(
    hot64
      ? {
          target: "Hot keys, 64 streams: p99 ≤ 1.5× baseline p99",
          measured: `${fmt(hot64.keyward.p99)} vs ${fmt(hot64.baseline.p99)} µs = ${hot64.p99Ratio.toFixed(2)}×`,
          met: hot64.p99Ratio <= 1.5,
        }
      : { target: "Hot keys, 64 streams: p99 ≤ 1.5× baseline p99", measured: "not run", met: null },
  );
  const hot1 = need("hot-c1");
  out.push(
    hot1
      ? {
          target: "1 stream: p50 within 50 µs of baseline",
          measured: `${fmt(hot1.keyward.p50)} vs ${fmt(hot1.baseline.p50)} µs = +${fmt(hot1.keyward.p50 - hot1.baseline.p50)} µs`,
          met: hot1.keyward.p50 - hot1.baseline.p50 <= 50,
        }
      : { target: "1 stream: p50 within 50 µs of baseline", measured: "not run", met: null },
  );
  const big = need("hot-c64-1m");
  if (hot64 && big) {
    // Each against its own baseline run, so that drift between the two scenarios cancels out.
    const rpsChange = big.rpsRatio / hot64.rpsRatio - 1;
    const p99Change = big.p99Ratio / hot64.p99Ratio - 1;
    out.push({
      target: "1M keys vs 10k keys: within 10% on throughput and p99",
      measured:
        `throughput ${rpsChange >= 0 ? "+" : ""}${(rpsChange * 100).toFixed(1)}%, p99 ${p99Change >= 0 ? "+" : ""}${(p99Change * 100).toFixed(1)}% ` +
        `(ratios to baseline: ${pct(big.rpsRatio)} vs ${pct(hot64.rpsRatio)}; p99 ${big.p99Ratio.toFixed(2)}× vs ${hot64.p99Ratio.toFixed(2)}×)`,
      // "Within" as a bound on degradation: 1M keys may not be more than 10% slower or 10% worse at p99.
      met: rpsChange >= -0.1 && p99Change <= 0.1,
    });
  } else out.push({ target: "1M keys vs 10k keys: within 10% on throughput and p99", measured: "not run", met: null });
  const cold = need("cold-c64-1m") ?? need("cold-c64");
  out.push(
    cold
      ? {
          target: "Cold keys: ≥ 60% of baseline req/s",
          measured: `${fmt(cold.keyward.rps)} vs ${fmt(cold.baseline.rps)} req/s = ${pct(cold.rpsRatio)}${cold.spec.id === "cold-c64" ? " (quick: 10k keys, 1,000-key cache)" : ""}`,
          met: cold.rpsRatio >= 0.6,
        }
      : { target: "Cold keys: ≥ 60% of baseline req/s", measured: "not run", met: null },
  );
  const limits = need("limits-c64");
  out.push(
    limits
      ? {
          target: "Rate limits + credits: ≥ 80% of baseline req/s",
          measured: `${fmt(limits.keyward.rps)} vs ${fmt(limits.baseline.rps)} req/s = ${pct(limits.rpsRatio)}`,
          met: limits.rpsRatio >= 0.8,
        }
      : { target: "Rate limits + credits: ≥ 80% of baseline req/s", measured: "not run", met: null },
  );
  out.push(
    hot64
      ? {
          target: "Event-loop delay p99 < 5 ms under full load, usage flushing",
          // The baseline's own figure says how much of the delay is the transport's batching at saturation.
          measured: `p99 ${fmt(hot64.keyward.eldP99, 2)} ms, max ${fmt(hot64.keyward.eldMax, 1)} ms (hot, 64 streams; the echo baseline under the same load: p99 ${fmt(hot64.baseline.eldP99, 2)} ms, max ${fmt(hot64.baseline.eldMax, 1)} ms)`,
          met: hot64.keyward.eldP99 < 5,
        }
      : { target: "Event-loop delay p99 < 5 ms under full load, usage flushing", measured: "not run", met: null },
  );
  out.push(
    hot64
      ? {
          target: "Usage flushing: ≤ 2 SQLite write transactions/s",
          measured: `${fmt(hot64.keyward.writeTxPerSec, 2)} tx/s at ${fmt(hot64.keyward.rps)} verifications/s (hot, 64 streams: every write is a usage flush)`,
          met: hot64.keyward.writeTxPerSec <= 2,
        }
      : { target: "Usage flushing: ≤ 2 SQLite write transactions/s", measured: "not run", met: null },
  );
  const large = results.instances.find((i) => i.keys >= 1_000_000 && i.cacheSize >= 100_000);
  out.push(
    large
      ? {
          target: "Peak RSS, 1M keys in the database, 100k-key cache: < 400 MB",
          measured: `${fmt(large.peakRss / 1e6)} MB (after ${large.coldKeysRequested.toLocaleString("en-US")} distinct cold keys requested)`,
          met: large.peakRss < 400e6 && large.coldKeysRequested >= large.cacheSize,
        }
      : { target: "Peak RSS, 1M keys in the database, 100k-key cache: < 400 MB", measured: "not run", met: null },
  );
  return out;
}
