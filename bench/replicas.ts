/**
 * `npm run bench:replicas`: Keyward as several replicas and several processes.
 *
 *   1. propagation  DeleteKey through one replica -> REVOKED on the others, under
 *                   verification load: 3 replicas on one PostgreSQL database, and
 *                   `keyward service` with KEYWARD_SERVICE_PROCESSES=2 on SQLite.
 *   2. stores       hot and cold VerifyKey on PostgreSQL beside SQLite, each as a
 *                   ratio to the grpc-js echo (bench/echo-server.ts) in the same run.
 *   3. processes    KEYWARD_SERVICE_PROCESSES=1 and 2 beside a 1- and a 2-process
 *                   grpc-js echo (node:cluster), several connections.
 *
 *   npm run bench:replicas                     full run, writes docs/benchmarks.md
 *   npm run bench:replicas -- --quick          a short look (fewer trials, 1 run of 3 s), console only
 *   npm run bench:replicas -- --no-docs        full run without touching docs/ (--docs writes them in quick mode)
 *   npm run bench:replicas -- --only propagation,stores,processes
 *   npm run bench:replicas -- --trials 300 --runs 5 --duration 10
 *   npm run bench:replicas -- --from bench/results/replicas-full-latest.json
 *                                            rewrites the docs from a run's results, measures nothing
 *   npm run bench:replicas -- --from a.json,b.json
 *                                            the same from several runs, each part from the last one that measured it
 *
 * Every process is separate (service replicas, echo servers, load generators,
 * this orchestrator), on 127.0.0.1, bounded in time, and killed when the run
 * ends or fails. PostgreSQL must answer at BENCH_PG_URL (default
 * postgres://postgres@127.0.0.1:5432/postgres): the run creates a database
 * keyward_bench_<random> there and drops it at the end. Data lives in
 * bench/.data/, results in bench/results/replicas-*.json.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import pg from "pg";
import { KEY_CHANGES_CHANNEL } from "../src/service/store/migrations.js";
import { freePort } from "../test/support/free-port.js";
import {
  BENCH_DIR,
  baseEnv,
  forkScript,
  killAll,
  killChildrenOnExit,
  nextMessage,
  REPO_DIR,
  spawnCommand,
  stopChild,
} from "./lib/children.js";
import { verifyOnce } from "./lib/grpc-once.js";
import { H2Client } from "./lib/h2-client.js";
import {
  BENCH_PG_URL,
  type BenchDatabase,
  backendPids,
  createBenchDatabase,
  seedPostgresFromSqlite,
} from "./lib/postgres.js";
import type { WindowStats } from "./lib/probe.js";
import { cpuSample, cpuSince, loadAverage, processTree, socketOwner } from "./lib/procfs.js";
import { median } from "./lib/results.js";
import { DATA_DIR, machine, machineCpu, RESULTS_DIR, seedDir } from "./lib/servers.js";
import type { LoadResult } from "./loadgen.js";
import { seed } from "./seed.js";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    trials: { type: "string" },
    runs: { type: "string" },
    duration: { type: "string" },
    warmup: { type: "string" },
    keys: { type: "string", default: "100000" },
    "cold-cache": { type: "string", default: "1000" },
    "hot-keys": { type: "string", default: "10" },
    "load-concurrency": { type: "string", default: "8" },
    "load-rate": { type: "string", default: "2000" },
    load: { type: "string" },
    "quiet-wait": { type: "string" },
    "max-foreign": { type: "string", default: "20" },
    attempts: { type: "string" },
    docs: { type: "boolean" },
    "no-docs": { type: "boolean", default: false },
    from: { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  process.stdout.write(fs.readFileSync(new URL(import.meta.url), "utf8").split("*/")[0] ?? "");
  process.exit(0);
}

const quick = values.quick;
const trials = Number(values.trials ?? (quick ? 40 : 200));
const runs = Number(values.runs ?? (quick ? 1 : 3));
const durationMs = Math.round(Number(values.duration ?? (quick ? 3 : 10)) * 1000);
const warmupMs = Math.round(Number(values.warmup ?? (quick ? 1 : 2)) * 1000);
const seedKeys = Number(values.keys);
const coldCache = Number(values["cold-cache"]);
const hotKeys = Number(values["hot-keys"]);
/** Streams each load generator keeps in flight against each replica during the propagation trials. */
const loadConcurrency = Number(values["load-concurrency"]);
/** The paced load beside the propagation trials: requests a second per service process. */
const loadRate = Number(values["load-rate"]);
const loadKinds = (values.load?.split(",").map((s) => s.trim()) ?? ["paced", "closed"]) as LoadKind[];
for (const kind of loadKinds) if (kind !== "paced" && kind !== "closed") throw new Error("--load: paced, closed");
if (!(loadRate > 0)) throw new Error("--load-rate must be positive");
const quietWaitMs = Math.round(Number(values["quiet-wait"] ?? (quick ? 0 : 30)) * 1000);
/** A measured window during which other processes used more than this share of the machine (%) is repeated... */
const maxForeignPct = Number(values["max-foreign"]);
/** ...at most this many attempts in all; the last attempt is kept whatever happened. */
const attempts = Math.max(1, Number(values.attempts ?? (quick ? 1 : 3)));
const writeDocs = values["no-docs"] ? false : (values.docs ?? (!quick || values.from !== undefined));
const PARTS = ["propagation", "stores", "processes"] as const;
type Part = (typeof PARTS)[number];
const only = (values.only?.split(",").map((s) => s.trim()) ?? [...PARTS]) as Part[];
for (const part of only) if (!PARTS.includes(part)) throw new Error(`--only: unknown part ${part}; known: ${PARTS}`);
if (!(trials >= 10 && trials <= 5000 && runs >= 1 && runs <= 20 && durationMs >= 500 && durationMs <= 120_000)) {
  throw new Error("--trials 10-5000, --runs 1-20, --duration 0.5-120 s");
}
if (!(seedKeys >= 10_000 && coldCache >= 10 && coldCache < seedKeys / 10)) {
  throw new Error("--keys at least 10,000 and --cold-cache well below a tenth of it");
}

/** What Keyward promises (test/integration/coherence): a change is seen everywhere within this. */
const PROPAGATION_BOUND_MS = 100;
/** A poll that has not seen REVOKED after this long gives up (counted as a miss). */
const POLL_LIMIT_MS = 5000;
/** The trials of one setup stop after this long whatever their number (the load beside them lasts 590 s at most). */
const TRIALS_LIMIT_MS = 480_000;
/** Node flags of the replicas: none, as `npm start` runs them. */
const SEMI_SPACE: string[] = [];
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const LOG_DIR = path.join(RESULTS_DIR, "logs", `replicas-${stamp}`);
const SERVICE_TOKEN = `bench-${randomBytes(24).toString("hex")}`;
const KEYWARD_BIN = path.join(REPO_DIR, "bin", "keyward.js");
const log = (line: string) => console.log(line);

// --- servers ------------------------------------------------------------------------

interface Server {
  name: string;
  child: ChildProcess;
  grpcPort: number;
  /** The root of the server's processes (a cluster's primary). */
  pid: number;
  /** The processes that serve calls (the cluster's workers, or the one process). */
  servingPids(): number[];
  stop(): Promise<void>;
}

function serviceEnv(dataDir: string, more: Record<string, string>): Record<string, string> {
  fs.mkdirSync(dataDir, { recursive: true });
  return {
    ...baseEnv(),
    KEYWARD_DATA_DIR: dataDir,
    KEYWARD_HOST: "127.0.0.1",
    KEYWARD_SERVICE_TOKEN: SERVICE_TOKEN,
    KEYWARD_USAGE_FLUSH_MS: "1000",
    LOG_LEVEL: "info",
    ...more,
  };
}

/** The service as bench/service-entry.ts runs it (startService + the probe), ports chosen by the OS. */
async function startEntry(name: string, dataDir: string, env: Record<string, string>): Promise<Server> {
  const child = forkScript(path.join(BENCH_DIR, "service-entry.ts"), [], {
    nodeFlags: SEMI_SPACE,
    env: serviceEnv(dataDir, { KEYWARD_SERVICE_PORT: "0", KEYWARD_CONNECT_PORT: "0", ...env }),
    logFile: path.join(LOG_DIR, `${name}.log`),
  });
  const ready = await nextMessage<{ t: "ready"; grpcPort: number }>(child, "ready", 120_000);
  const pid = child.pid as number;
  return { name, child, grpcPort: ready.grpcPort, pid, servingPids: () => [pid], stop: () => stopChild(child) };
}

/** `node bin/keyward.js service` (the compiled command) with KEYWARD_SERVICE_PROCESSES=processes. */
async function startCommand(
  name: string,
  dataDir: string,
  processes: number,
  env: Record<string, string> = {},
): Promise<Server> {
  const grpcPort = await freePort();
  const connectPort = await freePort();
  let output = "";
  const readyLine = processes > 1 ? '"service processes listening"' : '"key service listening"';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  const child = spawnCommand(process.execPath, [...SEMI_SPACE, KEYWARD_BIN, "service"], {
    env: serviceEnv(dataDir, {
      KEYWARD_SERVICE_PORT: String(grpcPort),
      KEYWARD_CONNECT_PORT: String(connectPort),
      KEYWARD_SERVICE_PROCESSES: String(processes),
      ...env,
    }),
    logFile: path.join(LOG_DIR, `${name}.log`),
    onOutput: (chunk) => {
      output += chunk;
      if (output.includes(readyLine)) onReady();
      if (output.length > 100_000) output = output.slice(-10_000);
    },
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await Promise.race([
    ready,
    exited.then(() => {
      throw new Error(`${name}: keyward service exited before listening; see ${LOG_DIR}/${name}.log`);
    }),
    sleep(120_000).then(() => {
      throw new Error(`${name}: not listening within 120 s`);
    }),
  ]);
  const pid = child.pid as number;
  return {
    name,
    child,
    grpcPort,
    pid,
    servingPids: () => (processes > 1 ? processTree(pid).filter((p) => p !== pid) : [pid]),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const kill = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(kill);
    },
  };
}

async function startEchoServer(name: string, responseHex: string, processes: number): Promise<Server> {
  const child = forkScript(
    path.join(BENCH_DIR, "echo-server.ts"),
    ["--response", responseHex, "--processes", String(processes)],
    { logFile: path.join(LOG_DIR, `${name}.log`) },
  );
  const ready = await nextMessage<{ t: "ready"; grpcPort: number; pids?: number[] }>(child, "ready", 60_000);
  const pid = child.pid as number;
  return {
    name,
    child,
    grpcPort: ready.grpcPort,
    pid,
    servingPids: () => ready.pids ?? [pid],
    stop: () => stopChild(child, 6000),
  };
}

/** A fresh data directory holding a copy of a seeded SQLite database. */
function copyOfSeed(keys: number, name: string): string {
  const dir = path.join(DATA_DIR, "replicas", name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(path.join(seedDir(keys), "keyward.db"), path.join(dir, "keyward.db"));
  return dir;
}

const tokensFile = (keys: number) => path.join(seedDir(keys), "tokens.txt");

function readLines(file: string, count: number): string[] {
  return fs.readFileSync(file, "utf8").split("\n").filter(Boolean).slice(0, count);
}

/** Checks that a server answers VALID for a hot key, and returns the answer's bytes (the echo repeats them). */
async function hotAnswer(server: Server, keys: number): Promise<Buffer> {
  const token = readLines(tokensFile(keys), 1)[0] as string;
  const answer = await verifyOnce(server.grpcPort, token, true);
  if (answer.grpcStatus !== "0" || answer.code !== "VALID") {
    throw new Error(`${server.name}: a hot key answered grpc-status ${answer.grpcStatus}, ${answer.code}`);
  }
  return answer.message;
}

// --- load and what the machine did meanwhile --------------------------------------------

interface CpuWindow {
  elapsedMs: number;
  /** The server's processes (all of a cluster), % of one core. */
  serverCpuPct: number;
  /** Each serving process, % of one core (shows whether both processes of a cluster worked). */
  servingCpuPct: number[];
  /** PostgreSQL backends of the bench database, % of one core. */
  pgCpuPct: number;
  /** Everything else on the machine (other people's processes), % of all CPUs. */
  foreignCpuPct: number;
}

interface Sample {
  at: number;
  ours: Map<number, number>;
  server: Map<number, number>;
  serving: Map<number, number>;
  pg: Map<number, number>;
  machine: { busyMs: number; totalMs: number };
}

/** Now, for the window's bounds; the backends of `pgDatabase` (when given) are looked up first (a few ms). */
async function sample(server: Server | undefined, pgDatabase: string | undefined): Promise<Sample> {
  const pgPids = pgDatabase === undefined ? [] : await backendPids(pgDatabase);
  return {
    at: performance.now(),
    ours: cpuSample(processTree(process.pid)),
    server: cpuSample(server ? processTree(server.pid) : []),
    serving: cpuSample(server ? server.servingPids() : []),
    pg: cpuSample(pgPids),
    machine: machineCpu(),
  };
}

function cpuWindow(a: Sample, b: Sample): CpuWindow {
  const elapsedMs = b.at - a.at;
  const ours = cpuSince(a.ours, b.ours);
  const pgMs = cpuSince(a.pg, b.pg);
  const machineMs = b.machine.busyMs - a.machine.busyMs;
  const totalMs = Math.max(1, b.machine.totalMs - a.machine.totalMs);
  return {
    elapsedMs,
    serverCpuPct: (cpuSince(a.server, b.server) / elapsedMs) * 100,
    servingCpuPct: [...b.serving.keys()].map(
      (pid) => (((b.serving.get(pid) ?? 0) - (a.serving.get(pid) ?? 0)) / elapsedMs) * 100,
    ),
    pgCpuPct: (pgMs / elapsedMs) * 100,
    foreignCpuPct: Math.max(0, ((machineMs - ours - pgMs) / totalMs) * 100),
  };
}

/** Waits (bounded by --quiet-wait) until the machine is nearly idle; returns its busy share, %. */
async function waitQuiet(): Promise<void> {
  if (quietWaitMs <= 0) return;
  const deadline = Date.now() + quietWaitMs;
  let said = false;
  for (;;) {
    const a = machineCpu();
    await sleep(1000);
    const b = machineCpu();
    const busy = ((b.busyMs - a.busyMs) / Math.max(1, b.totalMs - a.totalMs)) * 100;
    if (busy < 10 || Date.now() >= deadline) {
      if (said) log(`  machine ${busy.toFixed(0)}% busy${busy < 10 ? "" : " (gave up waiting)"}`);
      return;
    }
    if (!said) log(`  waiting for other processes to quieten (machine ${busy.toFixed(0)}% busy)...`);
    said = true;
  }
}

interface LoadOptions {
  port: number;
  concurrency: number;
  connections: number;
  tokens: { file: string; offset: number; count: number };
  warmupMs: number;
  durationMs: number;
}

function loadArgs(o: LoadOptions): string[] {
  return [
    ...["--port", String(o.port), "--concurrency", String(o.concurrency), "--connections", String(o.connections)],
    ...["--warmup-ms", String(o.warmupMs), "--duration-ms", String(o.durationMs)],
    ...["--tokens", o.tokens.file, "--offset", String(o.tokens.offset), "--count", String(o.tokens.count)],
  ];
}

/**
 * measureOnce, repeated (up to --attempts) while other people's processes took
 * more than --max-foreign % of the machine during the window.
 */
async function measure(server: Server, o: LoadOptions, pgDatabase?: string) {
  for (let attempt = 1; ; attempt++) {
    await waitQuiet();
    let r: Awaited<ReturnType<typeof measureOnce>>;
    try {
      r = await measureOnce(server, o, pgDatabase);
    } catch (error) {
      // A load generator killed from outside (this machine is shared) loses one window, not the run.
      if (attempt >= Math.max(2, attempts)) throw error;
      log(`  repeating ${server.name}: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    if (r.cpu.foreignCpuPct <= maxForeignPct || attempt >= attempts) return { ...r, attempt };
    log(`  repeating ${server.name}: other processes used ${r.cpu.foreignCpuPct.toFixed(0)}% of the machine`);
  }
}

/** One measured window of bench/loadgen.ts against `server`, with the CPU of everyone involved. */
async function measureOnce(
  server: Server,
  o: LoadOptions,
  pgDatabase?: string,
): Promise<{ load: LoadResult; cpu: CpuWindow }> {
  const gen = forkScript(path.join(BENCH_DIR, "loadgen.ts"), loadArgs(o), {
    logFile: path.join(LOG_DIR, "loadgen.log"),
  });
  let start: Promise<Sample> | undefined;
  let end: Promise<Sample> | undefined;
  gen.on("message", (message: { t?: string }) => {
    if (message.t === "measure-start") start = sample(server, pgDatabase);
    else if (message.t === "measure-end") end = sample(server, pgDatabase);
  });
  try {
    const { result } = await nextMessage<{ t: "result"; result: LoadResult }>(
      gen,
      "result",
      o.warmupMs + o.durationMs + 60_000,
    );
    if (start === undefined || end === undefined) throw new Error("loadgen: no measured window");
    return { load: result, cpu: cpuWindow(await start, await end) };
  } finally {
    await stopChild(gen, 5000);
  }
}

const sum = (xs: Record<string, number>) => Object.values(xs).reduce((a, b) => a + b, 0);
const codesText = (codes: Record<string, number>) =>
  Object.entries(codes)
    .map(([k, n]) => `${k}:${n}`)
    .join(" ");

// --- 1. propagation ------------------------------------------------------------------

type Setup = "postgres-3-replicas" | "sqlite-2-processes";
type LoadKind = "paced" | "closed";

interface PropagationRow {
  /** `<setup>/<load kind>` */
  id: string;
  setup: Setup;
  /** paced: --load-rate requests a second per service process; closed: as fast as answers come. */
  loadKind: LoadKind;
  title: string;
  trials: number;
  /** Milliseconds from DeleteKey's acknowledgement to the first REVOKED, per (trial × other process); Infinity = never within POLL_LIMIT_MS. */
  observations: number[];
  /** VerifyKey calls the pollers made before REVOKED, per observation. */
  polls: number[];
  /** Answers other than REVOKED from a process once PROPAGATION_BOUND_MS had passed since the acknowledgement. */
  lateAnswers: number;
  /** Trials whose new key did not verify VALID on another process at once. */
  notValidAtOnce: number;
  /** The load beside the trials, one entry per load generator. */
  load: {
    port: number;
    offeredRate: number;
    concurrency: number;
    connections: number;
    rps: number;
    p99Us: number;
    errors: number;
    codes: Record<string, number>;
  }[];
  cpu: CpuWindow;
  trialMs: number;
  /**
   * PostgreSQL only: when a LISTEN connection of this orchestrator got each
   * delete's NOTIFY, ms after DeleteKey's acknowledgement (negative: before it).
   */
  notifyMs?: number[];
  /** Each replica's own view of the trials (bench/lib/probe.ts): event-loop delay and GC. */
  replicaWindows?: WindowStats[];
  attempt?: number;
  /** Earlier attempts, repeated because other processes were busy (kept for the record, not in the figures). */
  discarded?: { foreignCpuPct: number; p50: number; p99: number; max: number }[];
  /** Which server process each probe connection reached (cluster only). */
  connections?: { localPort: number; pid: number | undefined }[];
}

async function pollUntilRevoked(client: H2Client, token: string, ack: number): Promise<{ ms: number; polls: number }> {
  let polls = 0;
  for (;;) {
    const answer = await client.verify(token);
    polls++;
    if (answer.code === "REVOKED") return { ms: answer.at - ack, polls };
    if (answer.at - ack > POLL_LIMIT_MS) return { ms: Number.POSITIVE_INFINITY, polls };
  }
}

/**
 * The trials: create a key through entrance A (A rotates), verify it on every
 * other entrance (now cached there), DeleteKey through A, then poll VerifyKey
 * on every other entrance from the acknowledgement until REVOKED; once the
 * bound has passed, ask every other entrance once more (must be REVOKED).
 */
async function runTrials(entrances: H2Client[], count: number) {
  const observations: number[] = [];
  /** Per trial: when DeleteKey was sent and when its acknowledgement arrived (performance.now()). */
  const deletes: { sentAt: number; ack: number }[] = [];
  const polls: number[] = [];
  let lateAnswers = 0;
  let notValidAtOnce = 0;
  const deadline = performance.now() + TRIALS_LIMIT_MS;
  for (let trial = 0; trial < count; trial++) {
    if (performance.now() > deadline) {
      log(`  stopped after ${trial} trials: the trials may take ${TRIALS_LIMIT_MS / 1000} s at most`);
      break;
    }
    const from = trial % entrances.length;
    const origin = entrances[from] as H2Client;
    const others = entrances.filter((_, i) => i !== from);
    const { id, token } = await origin.createKey(`propagation trial ${trial}`);
    for (const other of others) {
      let answer = await other.verify(token);
      if (answer.code !== "VALID") {
        notValidAtOnce++;
        const until = performance.now() + 5000;
        while (answer.code !== "VALID" && performance.now() < until) answer = await other.verify(token);
        if (answer.code !== "VALID") throw new Error(`trial ${trial}: the new key answers ${answer.code} elsewhere`);
      }
    }
    const sentAt = performance.now();
    const ack = await origin.deleteKey(id, "bench:replicas propagation trial");
    deletes.push({ sentAt, ack });
    const seen = await Promise.all(others.map((other) => pollUntilRevoked(other, token, ack)));
    for (const s of seen) {
      observations.push(s.ms);
      polls.push(s.polls);
    }
    const wait = PROPAGATION_BOUND_MS - (performance.now() - ack);
    if (wait > 0) await sleep(wait);
    for (const other of others) if ((await other.verify(token)).code !== "REVOKED") lateAnswers++;
    if ((trial + 1) % 50 === 0) log(`  ${trial + 1}/${count} trials`);
  }
  return { trials: deletes.length, observations, polls, lateAnswers, notValidAtOnce, deletes };
}

/** Load generators against each port for as long as `work` runs; returns their results beside work's. */
async function underLoad<T>(
  targets: { port: number; connections: number; rate: number }[],
  work: () => Promise<T>,
  server: Server | undefined,
  pgDatabase: string | undefined,
): Promise<{ result: T; load: PropagationRow["load"]; cpu: CpuWindow; ms: number }> {
  const gens = targets.map((t) =>
    forkScript(
      path.join(BENCH_DIR, "loadgen.ts"),
      [
        ...loadArgs({
          port: t.port,
          concurrency: loadConcurrency * t.connections,
          connections: t.connections,
          tokens: { file: tokensFile(seedKeys), offset: 0, count: hotKeys },
          warmupMs: 1000,
          durationMs: 590_000,
        }),
        ...["--rate", String(t.rate)],
      ],
      { logFile: path.join(LOG_DIR, "loadgen.log") },
    ),
  );
  try {
    await Promise.all(gens.map((g) => nextMessage(g, "measure-start", 60_000)));
    const results = gens.map((g) => nextMessage<{ t: "result"; result: LoadResult }>(g, "result", 660_000));
    const before = await sample(server, pgDatabase);
    const result = await work();
    const after = await sample(server, pgDatabase);
    for (const g of gens) g.send({ t: "stop" });
    const load = (await Promise.all(results)).map(({ result: r }, i) => ({
      port: targets[i]?.port as number,
      offeredRate: r.offeredRate,
      concurrency: r.concurrency,
      connections: r.connections,
      rps: r.rps,
      p99Us: r.latencyUs.p99,
      errors: sum(r.errors),
      codes: r.codes,
    }));
    return { result, load, cpu: cpuWindow(before, after), ms: after.at - before.at };
  } finally {
    await Promise.all(gens.map((g) => stopChild(g, 5000)));
  }
}

/** The trials again (up to --attempts) while other people's processes took more than --max-foreign % of the machine. */
async function withAttempts(label: string, once: () => Promise<PropagationRow>): Promise<PropagationRow> {
  const discarded: PropagationRow["discarded"] = [];
  for (let attempt = 1; ; attempt++) {
    await waitQuiet();
    const row = await once();
    if (row.cpu.foreignCpuPct <= maxForeignPct || attempt >= attempts) return { ...row, attempt, discarded };
    const s = propagationSummary(row);
    discarded.push({ foreignCpuPct: row.cpu.foreignCpuPct, p50: s.p50, p99: s.p99, max: s.max });
    log(
      `  repeating the trials (${label}): other processes used ${row.cpu.foreignCpuPct.toFixed(0)}% of the machine ` +
        `(this attempt: p50 ${f1(s.p50)} ms, p99 ${f1(s.p99)} ms, max ${f1(s.max)} ms)`,
    );
  }
}

async function propagationPostgres(db: BenchDatabase): Promise<PropagationRow[]> {
  log("\npropagation: 3 replicas on one PostgreSQL database");
  const replicas = await Promise.all(
    [0, 1, 2].map((i) =>
      startEntry(`replica-${i}`, path.join(DATA_DIR, "replicas", `pg-replica-${i}`), { DATABASE_URL: db.url }),
    ),
  );
  const entrances = replicas.map((r) => new H2Client(r.grpcPort, SERVICE_TOKEN));
  const listener = new pg.Client({ connectionString: db.url });
  const notifications: number[] = [];
  let replicaWindows: WindowStats[] = [];
  try {
    await Promise.all(entrances.map((e) => e.ready));
    for (const r of replicas) await hotAnswer(r, seedKeys);
    // An outside listener on the same channel: when PostgreSQL delivers each NOTIFY.
    await listener.connect();
    await listener.query(`LISTEN ${KEY_CHANGES_CHANNEL}`);
    listener.on("notification", () => notifications.push(performance.now()));
    const trialsUnderProbe = async () => {
      replicaWindows = [];
      const windows = replicas.map((r) => nextMessage<{ t: "window"; stats: WindowStats }>(r.child, "window", 900_000));
      for (const r of replicas) r.child.send({ t: "start" });
      try {
        return await runTrials(entrances, trials);
      } finally {
        for (const r of replicas) r.child.send({ t: "stop" });
        replicaWindows.push(...(await Promise.all(windows)).map((w) => w.stats));
      }
    };
    const rows: PropagationRow[] = [];
    for (const loadKind of loadKinds) {
      const rate = loadKind === "paced" ? loadRate : 0;
      log(`  ${loadKind} load${rate > 0 ? `: ${rate} req/s per replica` : ""}`);
      rows.push(
        await withAttempts(`3 PostgreSQL replicas, ${loadKind} load`, async () => {
          const { result, load, cpu, ms } = await underLoad(
            replicas.map((r) => ({ port: r.grpcPort, connections: 1, rate })),
            trialsUnderProbe,
            undefined,
            db.name,
          );
          const notifyMs = result.deletes.map(({ sentAt, ack }) => {
            const at = notifications.find((t) => t > sentAt);
            return at === undefined ? Number.POSITIVE_INFINITY : at - ack;
          });
          return {
            id: `postgres-3-replicas/${loadKind}`,
            setup: "postgres-3-replicas",
            loadKind,
            title: "3 replicas (separate processes), one PostgreSQL database, LISTEN/NOTIFY",
            ...result,
            load,
            cpu,
            trialMs: ms,
            notifyMs,
            replicaWindows,
          };
        }),
      );
    }
    return rows;
  } finally {
    await listener.end().catch(() => {});
    for (const e of entrances) e.close();
    await Promise.all(replicas.map((r) => r.stop()));
  }
}

async function propagationCluster(): Promise<PropagationRow[]> {
  log("\npropagation: keyward service with KEYWARD_SERVICE_PROCESSES=2 on SQLite");
  const server = await startCommand("cluster-propagation", copyOfSeed(seedKeys, "cluster-propagation"), 2);
  const opened: H2Client[] = [];
  try {
    const workers = server.servingPids();
    if (workers.length !== 2) throw new Error(`expected 2 service processes, found ${workers.join(", ")}`);
    await hotAnswer(server, seedKeys);
    // The load's 4 connections first (the primary hands them out in turn: 2 each), then the probes.
    const connections: NonNullable<PropagationRow["connections"]> = [];
    const byPid = new Map<number, H2Client>();
    const run = async () => {
      // One probe connection on each process: open connections until both are reached.
      while (connections.length < 16 && byPid.size < workers.length) {
        const client = new H2Client(server.grpcPort, SERVICE_TOKEN);
        opened.push(client);
        await client.ready;
        await client.verify("kw_probe"); // the worker has taken the connection once it answers
        const pid = socketOwner(server.grpcPort, client.localPort, workers);
        connections.push({ localPort: client.localPort, pid });
        if (pid !== undefined && !byPid.has(pid)) byPid.set(pid, client);
      }
      if (byPid.size !== workers.length) {
        throw new Error(`could not reach both service processes: ${JSON.stringify(connections)}`);
      }
      return runTrials([...byPid.values()], trials);
    };
    const rows: PropagationRow[] = [];
    for (const loadKind of loadKinds) {
      const rate = loadKind === "paced" ? loadRate * workers.length : 0;
      log(`  ${loadKind} load${rate > 0 ? `: ${loadRate} req/s per process` : ""}`);
      rows.push(
        await withAttempts(`2 processes on SQLite, ${loadKind} load`, async () => {
          const { result, load, cpu, ms } = await underLoad(
            [{ port: server.grpcPort, connections: 4, rate }],
            run,
            server,
            undefined,
          );
          return {
            id: `sqlite-2-processes/${loadKind}`,
            setup: "sqlite-2-processes",
            loadKind,
            title: "`keyward service`, KEYWARD_SERVICE_PROCESSES=2, one SQLite file, change record polled every 10 ms",
            ...result,
            load,
            cpu,
            trialMs: ms,
            connections,
          };
        }),
      );
    }
    return rows;
  } finally {
    for (const c of opened) c.close();
    await server.stop();
  }
}

// --- 2. stores -----------------------------------------------------------------------

type StoreSide = "echo" | "sqlite" | "postgres";
interface StoreRun {
  scenario: "hot" | "cold";
  side: StoreSide;
  run: number;
  load: LoadResult;
  cpu: CpuWindow;
  attempt: number;
}

async function stores(db: BenchDatabase): Promise<StoreRun[]> {
  log(
    `\nstores: hot and cold VerifyKey, SQLite and PostgreSQL (${seedKeys.toLocaleString("en-US")} keys, ${coldCache}-key cache), beside the echo`,
  );
  const cache = { KEYWARD_CACHE_SIZE: String(coldCache) };
  const sqlite = await startEntry("stores-sqlite", copyOfSeed(seedKeys, "stores-sqlite"), cache);
  const servers: Partial<Record<StoreSide, Server>> = { sqlite };
  const out: StoreRun[] = [];
  try {
    servers.postgres = await startEntry("stores-postgres", path.join(DATA_DIR, "replicas", "stores-postgres"), {
      ...cache,
      DATABASE_URL: db.url,
    });
    const response = await hotAnswer(sqlite, seedKeys);
    const pgResponse = await hotAnswer(servers.postgres, seedKeys);
    if (!pgResponse.equals(response))
      log("  note: the two stores answer a hot key with different bytes (the echo repeats SQLite's)");
    servers.echo = await startEchoServer("stores-echo", response.toString("hex"), 1);
    const plain = seedKeys - 10; // tokens.txt: the seed's keys less its 10 rate-limited ones
    const cursor: Record<StoreSide, number> = { echo: hotKeys, sqlite: hotKeys, postgres: hotKeys };
    const sides: StoreSide[] = ["echo", "sqlite", "postgres"];
    for (const scenario of ["hot", "cold"] as const) {
      for (let run = 1; run <= runs; run++) {
        // A B C, then B C A, ...: the machine's drift falls on every side in turn.
        const order = sides.map((_, i) => sides[(i + run - 1) % sides.length] as StoreSide);
        for (const side of order) {
          const server = servers[side] as Server;
          const tokens =
            scenario === "hot"
              ? { file: tokensFile(seedKeys), offset: 0, count: hotKeys }
              : { file: tokensFile(seedKeys), offset: cursor[side], count: plain - hotKeys };
          const r = await measure(
            server,
            { port: server.grpcPort, concurrency: 64, connections: 1, tokens, warmupMs, durationMs },
            side === "postgres" ? db.name : undefined,
          );
          if (scenario === "cold") cursor[side] += r.load.issued;
          out.push({ scenario, side, run, ...r });
          log(
            `  ${scenario} run ${run} ${side.padEnd(8)} ${Math.round(r.load.rps).toString().padStart(6)} req/s` +
              ` p50 ${(r.load.latencyUs.p50 / 1000).toFixed(2)} ms p99 ${(r.load.latencyUs.p99 / 1000).toFixed(2)} ms` +
              ` | server CPU ${r.cpu.serverCpuPct.toFixed(0)}% PostgreSQL ${r.cpu.pgCpuPct.toFixed(0)}%` +
              ` gen ${r.load.generatorCpuPct.toFixed(0)}% others ${r.cpu.foreignCpuPct.toFixed(0)}% | ${codesText(r.load.codes)}` +
              (sum(r.load.errors) > 0 ? ` | errors ${codesText(r.load.errors)}` : ""),
          );
        }
      }
    }
    return out;
  } finally {
    await Promise.all(Object.values(servers).map((s) => s?.stop()));
  }
}

// --- 3. processes ------------------------------------------------------------------------

type ProcSide = "echo-1" | "echo-2" | "keyward-1" | "keyward-2";
interface ProcRun {
  side: ProcSide;
  run: number;
  load: LoadResult;
  cpu: CpuWindow;
  attempt: number;
}
const PROC_CONNECTIONS = 8;
const PROC_CONCURRENCY = 64;

async function processes(): Promise<ProcRun[]> {
  log(
    `\nprocesses: 1 and 2 service processes beside a 1- and 2-process echo, ${PROC_CONCURRENCY} streams on ${PROC_CONNECTIONS} connections`,
  );
  const servers: Partial<Record<ProcSide, Server>> = {};
  const out: ProcRun[] = [];
  try {
    servers["keyward-1"] = await startCommand("processes-keyward-1", copyOfSeed(seedKeys, "processes-keyward-1"), 1);
    servers["keyward-2"] = await startCommand("processes-keyward-2", copyOfSeed(seedKeys, "processes-keyward-2"), 2);
    const response = await hotAnswer(servers["keyward-1"], seedKeys);
    await hotAnswer(servers["keyward-2"], seedKeys);
    servers["echo-1"] = await startEchoServer("processes-echo-1", response.toString("hex"), 1);
    servers["echo-2"] = await startEchoServer("processes-echo-2", response.toString("hex"), 2);
    const sides: ProcSide[] = ["echo-1", "keyward-1", "echo-2", "keyward-2"];
    for (let run = 1; run <= runs; run++) {
      const order = sides.map((_, i) => sides[(i + run - 1) % sides.length] as ProcSide);
      for (const side of order) {
        const server = servers[side] as Server;
        const r = await measure(server, {
          port: server.grpcPort,
          concurrency: PROC_CONCURRENCY,
          connections: PROC_CONNECTIONS,
          tokens: { file: tokensFile(seedKeys), offset: 0, count: hotKeys },
          warmupMs,
          durationMs,
        });
        out.push({ side, run, ...r });
        log(
          `  run ${run} ${side.padEnd(9)} ${Math.round(r.load.rps).toString().padStart(6)} req/s` +
            ` p50 ${(r.load.latencyUs.p50 / 1000).toFixed(2)} ms p99 ${(r.load.latencyUs.p99 / 1000).toFixed(2)} ms` +
            ` | server CPU ${r.cpu.serverCpuPct.toFixed(0)}% (by process: ${r.cpu.servingCpuPct.map((c) => c.toFixed(0)).join(" + ")})` +
            ` gen ${r.load.generatorCpuPct.toFixed(0)}% others ${r.cpu.foreignCpuPct.toFixed(0)}% | ${codesText(r.load.codes)}` +
            (sum(r.load.errors) > 0 ? ` | errors ${codesText(r.load.errors)}` : ""),
        );
      }
    }
    return out;
  } finally {
    await Promise.all(Object.values(servers).map((s) => s?.stop()));
  }
}

// --- results, targets, docs ------------------------------------------------------------------

interface ReplicaResults {
  mode: "quick" | "full";
  command: string;
  startedAt: string;
  finishedAt: string;
  machine: ReturnType<typeof machine> & { loadAverageStart: number[]; loadAverageEnd: number[]; postgres: string };
  settings: {
    trials: number;
    runs: number;
    durationMs: number;
    warmupMs: number;
    seedKeys: number;
    coldCache: number;
    hotKeys: number;
    loadConcurrency: number;
    loadRate: number;
    quietWaitMs: number;
    maxForeignPct: number;
    attempts: number;
  };
  propagation: PropagationRow[];
  stores: StoreRun[];
  processes: ProcRun[];
  /** Set when the docs were written from several runs (--from a.json,b.json): which run gave which part. */
  sources?: {
    command: string;
    startedAt: string;
    finishedAt: string;
    loadAverageStart: number[];
    loadAverageEnd: number[];
    parts: Part[];
  }[];
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}

export function propagationSummary(row: PropagationRow) {
  const sorted = [...row.observations].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    withinBound: sorted.filter((x) => x <= PROPAGATION_BOUND_MS).length,
    pollsMedian: median(row.polls),
  };
}

interface SideStats {
  rps: number;
  p50: number;
  p99: number;
  serverCpuPct: number;
  pgCpuPct: number;
  generatorCpuPct: number;
  foreignCpuPct: number;
  errors: number;
  codes: Record<string, number>;
  servingCpuPct: number[];
}

function sideStats(list: { load: LoadResult; cpu: CpuWindow }[]): SideStats {
  const m = (f: (r: { load: LoadResult; cpu: CpuWindow }) => number) => median(list.map(f));
  const codes: Record<string, number> = {};
  for (const r of list) for (const [c, n] of Object.entries(r.load.codes)) codes[c] = (codes[c] ?? 0) + n;
  const width = Math.max(0, ...list.map((r) => r.cpu.servingCpuPct.length));
  return {
    rps: m((r) => r.load.rps),
    p50: m((r) => r.load.latencyUs.p50),
    p99: m((r) => r.load.latencyUs.p99),
    serverCpuPct: m((r) => r.cpu.serverCpuPct),
    pgCpuPct: m((r) => r.cpu.pgCpuPct),
    generatorCpuPct: m((r) => r.load.generatorCpuPct),
    foreignCpuPct: m((r) => r.cpu.foreignCpuPct),
    errors: list.reduce((n, r) => n + sum(r.load.errors), 0),
    codes,
    servingCpuPct: Array.from({ length: width }, (_, i) => median(list.map((r) => r.cpu.servingCpuPct[i] ?? 0))),
  };
}

interface Target {
  target: string;
  measured: string;
  met: boolean | null;
}

const f0 = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "n/a");
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "n/a");
const msOf = (us: number) => (Number.isFinite(us) ? (us / 1000).toFixed(2) : "n/a");
const pctOf = (x: number) => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : "n/a");

function storeStats(results: ReplicaResults) {
  const pick = (scenario: "hot" | "cold", side: StoreSide) =>
    sideStats(results.stores.filter((r) => r.scenario === scenario && r.side === side));
  return {
    hot: { echo: pick("hot", "echo"), sqlite: pick("hot", "sqlite"), postgres: pick("hot", "postgres") },
    cold: { echo: pick("cold", "echo"), sqlite: pick("cold", "sqlite"), postgres: pick("cold", "postgres") },
  };
}

function procStats(results: ReplicaResults) {
  const pick = (side: ProcSide) => sideStats(results.processes.filter((r) => r.side === side));
  return { e1: pick("echo-1"), e2: pick("echo-2"), k1: pick("keyward-1"), k2: pick("keyward-2") };
}

function loadLabel(row: PropagationRow, results: ReplicaResults): string {
  return row.loadKind === "paced"
    ? `paced load (${f0(results.settings.loadRate)} req/s per process)`
    : `closed-loop load (${results.settings.loadConcurrency} streams per connection, as fast as answers come)`;
}

function targets(results: ReplicaResults): Target[] {
  const out: Target[] = [];
  for (const row of results.propagation) {
    const s = propagationSummary(row);
    out.push({
      target: `Revocation propagation, ${row.setup === "postgres-3-replicas" ? "3 PostgreSQL replicas" : "2 processes on SQLite"}, ${loadLabel(row, results)}: p99 ≤ ${PROPAGATION_BOUND_MS} ms (aim < 20 ms)`,
      measured: `p50 ${f1(s.p50)} ms, p99 ${f1(s.p99)} ms, max ${f1(s.max)} ms over ${s.n} observations${s.p99 < 20 ? " (under 20 ms)" : ""}`,
      met: s.p99 <= PROPAGATION_BOUND_MS,
    });
  }
  if (results.stores.length > 0) {
    const st = storeStats(results);
    const sqliteRatio = st.hot.sqlite.rps / st.hot.echo.rps;
    const pgRatio = st.hot.postgres.rps / st.hot.echo.rps;
    out.push({
      target: "Hot VerifyKey on PostgreSQL within 10% of SQLite",
      measured: `${f0(st.hot.postgres.rps)} vs ${f0(st.hot.sqlite.rps)} req/s: ${pctOf(pgRatio)} vs ${pctOf(sqliteRatio)} of the echo (${f0(st.hot.echo.rps)} req/s), PostgreSQL/SQLite = ${f1((pgRatio / sqliteRatio) * 100)}%`,
      met: Math.abs(pgRatio / sqliteRatio - 1) <= 0.1,
    });
    const coldOfHot = (side: "sqlite" | "postgres") =>
      st.cold[side].rps / st.cold.echo.rps / (st.hot[side].rps / st.hot.echo.rps);
    out.push({
      target: "Cold VerifyKey ≥ 50% of hot, on PostgreSQL",
      measured: `${f0(st.cold.postgres.rps)} vs ${f0(st.hot.postgres.rps)} req/s = ${pctOf(st.cold.postgres.rps / st.hot.postgres.rps)} (as ratios to the echo: ${pctOf(coldOfHot("postgres"))}); SQLite: ${pctOf(st.cold.sqlite.rps / st.hot.sqlite.rps)} (${pctOf(coldOfHot("sqlite"))})`,
      met: st.cold.postgres.rps / st.hot.postgres.rps >= 0.5,
    });
  }
  if (results.processes.length > 0) {
    const p = procStats(results);
    out.push({
      target: "2 Keyward processes ≥ 90% of a 2-process grpc-js echo",
      measured: `${f0(p.k2.rps)} vs ${f0(p.e2.rps)} req/s = ${pctOf(p.k2.rps / p.e2.rps)} (2 vs 1 process: Keyward ${pctOf(p.k2.rps / p.k1.rps)}, echo ${pctOf(p.e2.rps / p.e1.rps)})`,
      met: p.k2.rps / p.e2.rps >= 0.9,
    });
  }
  return out;
}

const BEGIN = "<!-- replicas:begin (written by bench/replicas.ts; edit the script, not this text) -->";
const END = "<!-- replicas:end -->";
const DOC = path.join(REPO_DIR, "docs", "benchmarks.md");

function docBlock(results: ReplicaResults): string {
  const m = results.machine;
  const la = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(" / ");
  const lines: string[] = [BEGIN, "## Several replicas and processes", ""];
  const when = (from: string, to: string) => `${from.slice(0, 16).replace("T", " ")}–${to.slice(11, 16)} UTC`;
  const settings =
    `${results.mode} run: ${results.settings.trials} propagation trials per setup and load; ` +
    `${results.settings.runs} × ${results.settings.durationMs / 1000} s per side after ${results.settings.warmupMs / 1000} s of warm-up, ` +
    "sides alternated in rotating order within each run; figures are medians over the runs";
  const machineLine =
    `Machine: ${m.nproc} CPUs (\`nproc\`), ${m.cpu}, ${Math.round(m.memTotalMb / 1000)} GB RAM, ${m.kernel}, Node ${m.node}, ` +
    `PostgreSQL ${m.postgres} on the same machine (127.0.0.1).`;
  if (results.sources && results.sources.length > 1) {
    lines.push(`Two runs of the same code and settings (${settings}), each giving the parts named:`, "");
    for (const src of results.sources) {
      lines.push(
        `- \`${src.command}\`, ${when(src.startedAt, src.finishedAt)}, load average (1 / 5 / 15 min) ${la(src.loadAverageStart)} at the start, ` +
          `${la(src.loadAverageEnd)} at the end: ${src.parts.join(", ")}`,
      );
    }
    lines.push("", machineLine, "");
  } else {
    lines.push(
      `Command: \`${results.command}\` (${settings}).`,
      "",
      `Date: ${when(results.startedAt, results.finishedAt)}. ${machineLine} ` +
        `Load average (1 / 5 / 15 min): ${la(m.loadAverageStart)} at the start, ${la(m.loadAverageEnd)} at the end.`,
      "",
    );
  }
  lines.push(
    "Every server, every load generator (bench/loadgen.ts, the raw HTTP/2 client) and the orchestrator is a process of its own, " +
      `all on these ${m.nproc} CPUs: the load generators take CPU from the servers they measure, and PostgreSQL's backends ` +
      'take it from the replicas. "Others" is what the rest of the machine (other people\'s work) used meanwhile, % of all CPUs.',
    "",
  );

  // Targets.
  lines.push("| target | measured | |", "|---|---|---|");
  for (const t of targets(results)) {
    lines.push(`| ${t.target} | ${t.measured} | ${t.met === null ? "—" : t.met ? "**met**" : "missed"} |`);
  }
  lines.push("");

  if (results.propagation.length > 0) {
    lines.push(
      "### Revocation propagation under load",
      "",
      "Each trial creates a key through one process (A, in turn), verifies it on every other process (now in their caches), " +
        "deletes it through A, and from the moment DeleteKey is acknowledged polls VerifyKey on every other process " +
        "(one call after another, node:http2 client) until it answers REVOKED. One observation = one trial × one other process: " +
        "the time from the acknowledgement to the first REVOKED answer, so it includes that answer's round trip. " +
        `After ${PROPAGATION_BOUND_MS} ms every other process is asked once more ("late answers" counts any that was not REVOKED). ` +
        "Meanwhile bench/loadgen.ts sends VerifyKey on hot keys to every process, in one of two ways: " +
        `**paced**, ${f0(results.settings.loadRate)} requests a second per service process (open loop, the machine keeps up), and ` +
        `**closed**, ${results.settings.loadConcurrency} streams per connection each sending its next request as soon as the last one is answered ` +
        "(the processes, the load generators and PostgreSQL then share both CPUs to the full).",
      "",
      "| setup | trials | observations | p50 ms | p99 ms | max ms | ≤ 100 ms | late answers | polls per observation (median) | load beside the trials | CPU %: servers / PostgreSQL / others | servers' event-loop delay max ms; major GCs (count, ms) |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|",
    );
    for (const row of results.propagation) {
      const s = propagationSummary(row);
      const load = row.load
        .map(
          (l) =>
            `${f0(l.rps)} req/s (${l.concurrency} streams / ${l.connections} conn., p99 ${msOf(l.p99Us)} ms${l.errors ? `, ${l.errors} errors` : ""})`,
        )
        .join("; ");
      const windows = row.replicaWindows ?? [];
      const serversCpu =
        windows.length > 0
          ? windows.reduce((n, w) => n + ((w.cpuUserMs + w.cpuSystemMs) / w.elapsedMs) * 100, 0)
          : row.cpu.serverCpuPct;
      const stalls =
        windows.length > 0
          ? windows.map((w) => `${f0(w.eld.max)}; ${w.gc.majorCount}, ${f0(w.gc.majorMs)}`).join(" / ")
          : "not probed";
      lines.push(
        `| ${row.title}; **${row.loadKind}** load | ${row.trials} | ${s.n} | ${f1(s.p50)} | ${f1(s.p99)} | ${f1(s.max)} | ${s.withinBound}/${s.n} | ${row.lateAnswers} | ${f1(s.pollsMedian)} | ${load} | ` +
          `${f0(serversCpu)} / ${row.setup === "postgres-3-replicas" ? f0(row.cpu.pgCpuPct) : "—"} / ${f0(row.cpu.foreignCpuPct)} | ${stalls} |`,
      );
    }
    for (const row of results.propagation) {
      if ((row.discarded ?? []).length === 0) continue;
      lines.push(
        "",
        `${row.id}: the trials ran ${row.attempt} times; earlier attempts were repeated because other processes used more than ` +
          `${results.settings.maxForeignPct}% of the machine (${(row.discarded ?? []).map((d) => `others ${f0(d.foreignCpuPct)}%: p50 ${f1(d.p50)}, p99 ${f1(d.p99)}, max ${f1(d.max)} ms`).join("; ")}).`,
      );
    }
    const pgRows = results.propagation.filter((r) => r.notifyMs);
    if (pgRows.length > 0) {
      const parts = pgRows.map((row) => {
        const sorted = [...(row.notifyMs ?? [])].sort((a, b) => a - b);
        const slow = row.observations.filter((x) => x > 20).length;
        return (
          `${row.loadKind} load: ${f1(percentile(sorted, 50))} ms (median), ${f1(percentile(sorted, 99))} ms (p99), ` +
          `${f1(sorted.at(-1) ?? Number.NaN)} ms (max), beside ${slow} of ${row.observations.length} observations over 20 ms`
        );
      });
      lines.push(
        "",
        "When PostgreSQL delivered each delete's NOTIFY, measured on a LISTEN connection of the orchestrator, after DeleteKey's acknowledgement " +
          `(negative: before it; the notification leaves at COMMIT, the acknowledgement after): ${parts.join("; ")}. ` +
          "Whatever took longer than that was spent in the replicas: a replica whose event loop is collecting garbage or waiting for a CPU " +
          "reads the change, and answers the poll, only afterwards (the last column: each replica's longest event-loop delay during the trials, " +
          "and its mark-compact collections, from bench/lib/probe.ts).",
      );
    }
    const cluster = results.propagation.find((r) => r.connections);
    if (cluster?.connections) {
      const reached = new Set(cluster.connections.map((c) => c.pid).filter((p) => p !== undefined)).size;
      lines.push(
        "",
        `The two-process row knows which process each probe connection reached (the server side of the connection looked up in /proc): ` +
          `${cluster.connections.length} probe connections opened, ${reached} processes reached; each trial creates through one and polls the other.`,
      );
    }
    lines.push("");
  }

  if (results.stores.length > 0) {
    const st = storeStats(results);
    lines.push(
      "### Hot and cold VerifyKey: PostgreSQL beside SQLite",
      "",
      `One service process per store (bench/service-entry.ts), ${results.settings.seedKeys.toLocaleString("en-US")} keys in each (the same keys: ` +
        `PostgreSQL is seeded from the SQLite seed), KEYWARD_CACHE_SIZE=${results.settings.coldCache}. Hot: ${results.settings.hotKeys} keys, always cached. ` +
        "Cold: every request a different key, in an order that cycles through all of them, so every request misses the cache and reads the database. " +
        "64 streams on one connection. Baseline: the grpc-js echo (one process) in the same runs, with the same requests.",
      "",
      "| scenario | echo req/s | SQLite req/s (÷ echo) | PostgreSQL req/s (÷ echo) | p50 / p99 ms: echo, SQLite, PostgreSQL | CPU %: SQLite service / PostgreSQL service + backends | others' CPU % |",
      "|---|---:|---:|---:|---|---|---:|",
    );
    for (const scenario of ["hot", "cold"] as const) {
      const s = st[scenario];
      lines.push(
        `| ${scenario} | ${f0(s.echo.rps)} | ${f0(s.sqlite.rps)} (${pctOf(s.sqlite.rps / s.echo.rps)}) | ${f0(s.postgres.rps)} (${pctOf(s.postgres.rps / s.echo.rps)}) | ` +
          `${msOf(s.echo.p50)} / ${msOf(s.echo.p99)}, ${msOf(s.sqlite.p50)} / ${msOf(s.sqlite.p99)}, ${msOf(s.postgres.p50)} / ${msOf(s.postgres.p99)} | ` +
          `${f0(s.sqlite.serverCpuPct)} / ${f0(s.postgres.serverCpuPct)} + ${f0(s.postgres.pgCpuPct)} | ${f0(s.echo.foreignCpuPct)}, ${f0(s.sqlite.foreignCpuPct)}, ${f0(s.postgres.foreignCpuPct)} |`,
      );
    }
    const errors = results.stores.reduce((n, r) => n + sum(r.load.errors), 0);
    const notValid = results.stores
      .filter((r) => r.side !== "echo")
      .reduce((n, r) => n + sum(r.load.codes) - (r.load.codes.VALID ?? 0), 0);
    lines.push("", `Errors over all runs: ${errors}; Keyward answers other than VALID: ${notValid}.`);
    lines.push(...busyNote(results.stores, results.settings), "");
  }

  if (results.processes.length > 0) {
    const p = procStats(results);
    lines.push(
      "### Two service processes beside one, and beside a two-process echo",
      "",
      `\`node bin/keyward.js service\` (compiled) with KEYWARD_SERVICE_PROCESSES=1 and 2, SQLite, ${results.settings.hotKeys} hot keys; ` +
        "the echo with `--processes 1` and `2` (node:cluster, the same way Keyward shares its port). " +
        `${PROC_CONCURRENCY} streams on ${PROC_CONNECTIONS} connections (a connection stays on the process that accepted it, so one connection would use one process).`,
      "",
      "| side | req/s | p50 / p99 ms | server CPU % (by serving process) | load generator CPU % | others' CPU % |",
      "|---|---:|---|---|---:|---:|",
    );
    const row = (name: string, s: SideStats) =>
      `| ${name} | ${f0(s.rps)} | ${msOf(s.p50)} / ${msOf(s.p99)} | ${f0(s.serverCpuPct)} (${s.servingCpuPct.map(f0).join(" + ")}) | ${f0(s.generatorCpuPct)} | ${f0(s.foreignCpuPct)} |`;
    lines.push(
      row("echo, 1 process", p.e1),
      row("echo, 2 processes", p.e2),
      row("Keyward, 1 process", p.k1),
      row("Keyward, 2 processes", p.k2),
    );
    lines.push(
      "",
      `Ratios: 2-process Keyward ÷ 2-process echo **${pctOf(p.k2.rps / p.e2.rps)}**; 2-process ÷ 1-process Keyward ${pctOf(p.k2.rps / p.k1.rps)}; ` +
        `2-process ÷ 1-process echo ${pctOf(p.e2.rps / p.e1.rps)}; 1-process Keyward ÷ 1-process echo ${pctOf(p.k1.rps / p.e1.rps)}.`,
      ...busyNote(results.processes, results.settings),
      "",
    );
  }

  lines.push("### What limits these figures", "", ...limits(results), "");
  lines.push(
    "<details><summary>Every run</summary>",
    "",
    "| part | side | run (attempt) | req/s | p50 ms | p99 ms | server CPU % | PostgreSQL CPU % | generator CPU % | others % |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  const runLine = (part: string, side: string, r: { run: number; attempt: number; load: LoadResult; cpu: CpuWindow }) =>
    `| ${part} | ${side} | ${r.run} (${r.attempt}) | ${f0(r.load.rps)} | ${msOf(r.load.latencyUs.p50)} | ${msOf(r.load.latencyUs.p99)} | ` +
    `${f0(r.cpu.serverCpuPct)} | ${f0(r.cpu.pgCpuPct)} | ${f0(r.load.generatorCpuPct)} | ${f0(r.cpu.foreignCpuPct)} |`;
  for (const r of results.stores) lines.push(runLine(`stores, ${r.scenario}`, r.side, r));
  for (const r of results.processes) lines.push(runLine("processes", r.side, r));
  lines.push("", "</details>", END);
  return lines.join("\n");
}

/** Says how many kept windows other people's processes disturbed beyond --max-foreign even after every attempt. */
function busyNote(list: { cpu: CpuWindow }[], settings: ReplicaResults["settings"]): string[] {
  const busy = list.filter((r) => r.cpu.foreignCpuPct > settings.maxForeignPct);
  if (busy.length === 0) return [];
  return [
    "",
    `${busy.length} of these ${list.length} windows ${busy.length === 1 ? "was" : "were"} kept with other processes above ${settings.maxForeignPct}% of the machine ` +
      `after ${settings.attempts} attempts (up to ${f0(Math.max(...busy.map((r) => r.cpu.foreignCpuPct)))}%; see "Every run"): ` +
      "their sides lost CPU to work that was not the bench's, and the medians above include them.",
  ];
}

/** What bounds the figures, with this run's numbers. */
function limits(results: ReplicaResults): string[] {
  const out: string[] = [];
  const usPerReq = (cpuPct: number, rps: number) => ((cpuPct / 100) * 1e6) / rps;
  if (results.processes.length > 0) {
    const p = procStats(results);
    out.push(
      `- Two CPUs for everything. With two service processes, the servers used ${f0(p.k2.serverCpuPct)}% of one CPU ` +
        `(${p.k2.servingCpuPct.map(f0).join(" + ")} by process; the 2-process echo ${f0(p.e2.serverCpuPct)}%), the load generator ` +
        `${f0(p.k2.generatorCpuPct)}% and other people's processes ${f0(p.k2.foreignCpuPct)}% of the machine (medians). ` +
        "So the second process adds what the first left of the machine, not a CPU of its own: the ratios say how Keyward shares " +
        "two busy CPUs against the echo in the same position, not how it scales with a core per process. " +
        `CPU per request, all server processes together: Keyward ${f0(usPerReq(p.k2.serverCpuPct, p.k2.rps))} µs with two processes and ` +
        `${f0(usPerReq(p.k1.serverCpuPct, p.k1.rps))} µs with one; the echo ${f0(usPerReq(p.e2.serverCpuPct, p.e2.rps))} and ${f0(usPerReq(p.e1.serverCpuPct, p.e1.rps))} µs.`,
    );
  }
  if (results.stores.length > 0) {
    const c = storeStats(results).cold;
    out.push(
      `- PostgreSQL runs on the same two CPUs. A cold verification cost the PostgreSQL-backed service ${f0(usPerReq(c.postgres.serverCpuPct, c.postgres.rps))} µs of CPU ` +
        `and PostgreSQL's backends another ${f0(usPerReq(c.postgres.pgCpuPct, c.postgres.rps))} µs; on SQLite the read is a call in the process, ` +
        `${f0(usPerReq(c.sqlite.serverCpuPct, c.sqlite.rps))} µs in all. With the pool's 10 connections (KEYWARD_PG_POOL_SIZE) and 64 streams, ` +
        "each miss also waits for a connection and a round trip. A database on its own machine would take its share of the CPU off the service's machine and add a network round trip instead.",
    );
  }
  const closed = results.propagation.filter((r) => r.loadKind === "closed" && (r.replicaWindows?.length ?? 0) > 0);
  const windows = closed.flatMap((r) => r.replicaWindows ?? []);
  if (windows.length > 0) {
    const longestGc = Math.max(...windows.map((w) => (w.gc.majorCount > 0 ? w.gc.majorMs / w.gc.majorCount : 0)));
    const eldMax = Math.max(...windows.map((w) => w.eld.max));
    out.push(
      "- Propagation has a floor and a tail. The floor is how a change reaches a process: on PostgreSQL LISTEN/NOTIFY wakes the " +
        "change follower at once, on SQLite it polls every KEYWARD_CHANGE_POLL_MS = 10 ms (up to 10 ms of waiting, 5 on average, plus the read). " +
        "The tail is the replicas themselves: under the closed-loop load, " +
        `their event loops stalled for up to ${f0(eldMax)} ms, and their mark-compact collections took ${f0(longestGc)} ms each on average at worst ` +
        "(the grpc-js per-call garbage the soak section describes, collected on a CPU shared with five other busy processes). " +
        "A poll that lands in such a stall waits for it, whether or not the change has been read. " +
        "A diagnostic run on 2026-11-29 (timing logs added to the change follower for the run, not kept) showed exactly that: " +
        "the slow observations were replicas that had read the change within a few ms of the acknowledgement, or before it, and answered the poll hundreds of ms later, " +
        "or whose read of the change itself took that long.",
    );
  }
  out.push(
    '- The figures move from one run to the next on this shared machine (see the load average and the "others" columns); read the ratios as ±10%.',
  );
  return out;
}

function spliceDoc(existing: string, block: string): string {
  const begin = existing.indexOf("<!-- replicas:begin");
  const end = existing.indexOf(END);
  if (begin >= 0 && end > begin) return existing.slice(0, begin) + block + existing.slice(end + END.length);
  // New: before the export-memory section if there is one, else at the end.
  const before = existing.indexOf("<!-- export-memory:begin");
  if (before >= 0) return `${existing.slice(0, before)}${block}\n\n${existing.slice(before)}`;
  return `${existing.trimEnd()}\n\n${block}\n`;
}

// --- the whole run ------------------------------------------------------------------------

async function postgresVersion(): Promise<string> {
  const client = new pg.Client({ connectionString: BENCH_PG_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const result = await client.query<{ server_version: string }>("SHOW server_version");
    return result.rows[0]?.server_version.split(" ")[0] ?? "unknown";
  } finally {
    await client.end();
  }
}

/** What has been measured so far, so that a run that fails or is stopped later keeps it (`--from` reads it). */
function savePartial(results: ReplicaResults): void {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const partial = {
    ...results,
    finishedAt: new Date().toISOString(),
    machine: { ...results.machine, loadAverageEnd: loadAverage() },
  };
  fs.writeFileSync(
    path.join(RESULTS_DIR, `replicas-${results.mode}-${stamp}.partial.json`),
    `${JSON.stringify(partial, null, 2)}\n`,
  );
}

async function main(): Promise<ReplicaResults> {
  const results: ReplicaResults = {
    mode: quick ? "quick" : "full",
    command: `npm run bench:replicas${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    startedAt: new Date().toISOString(),
    finishedAt: "",
    machine: { ...machine(), loadAverageStart: loadAverage(), loadAverageEnd: [], postgres: await postgresVersion() },
    settings: {
      trials,
      runs,
      durationMs,
      warmupMs,
      seedKeys,
      coldCache,
      hotKeys,
      loadConcurrency,
      loadRate,
      quietWaitMs,
      maxForeignPct,
      attempts,
    },
    propagation: [],
    stores: [],
    processes: [],
  };
  const m = results.machine;
  log(
    `bench:replicas (${results.mode}): ${only.join(", ")}; ${m.nproc} CPUs, ${m.cpu}, Node ${m.node}, PostgreSQL ${m.postgres}; ` +
      `load average ${m.loadAverageStart.join(" ")}; logs in ${path.relative(process.cwd(), LOG_DIR)}`,
  );
  await seed(seedDir(seedKeys), seedKeys, { log });
  let db: BenchDatabase | undefined;
  try {
    if (only.includes("propagation") || only.includes("stores")) {
      db = await createBenchDatabase();
      const started = Date.now();
      const copied = await seedPostgresFromSqlite(db.url, path.join(seedDir(seedKeys), "keyward.db"));
      log(
        `PostgreSQL database ${db.name}: ${copied.toLocaleString("en-US")} keys copied from the SQLite seed in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    }
    if (only.includes("propagation") && db) {
      results.propagation.push(...(await propagationPostgres(db)));
      results.propagation.push(...(await propagationCluster()));
      for (const row of results.propagation) {
        const s = propagationSummary(row);
        log(
          `  => ${row.id}: ${s.n} observations, p50 ${f1(s.p50)} ms, p99 ${f1(s.p99)} ms, max ${f1(s.max)} ms; ` +
            `late answers ${row.lateAnswers}; load ${row.load.map((l) => `${f0(l.rps)} req/s`).join(", ")}; others ${f0(row.cpu.foreignCpuPct)}%`,
        );
      }
      savePartial(results);
    }
    if (only.includes("stores") && db) {
      results.stores = await stores(db);
      savePartial(results);
    }
    if (only.includes("processes")) results.processes = await processes();
  } finally {
    killAll();
    await db?.drop().catch((error: unknown) => log(`could not drop ${db?.name}: ${String(error)}`));
  }
  results.machine.loadAverageEnd = loadAverage();
  results.finishedAt = new Date().toISOString();
  return results;
}

/** A results file as written below: JSON has no Infinity (a poll that never saw REVOKED), it wrote null. */
function readResults(file: string): ReplicaResults {
  const results = JSON.parse(fs.readFileSync(file, "utf8")) as ReplicaResults;
  const inf = (xs: (number | null)[] | undefined) => xs?.map((x) => x ?? Number.POSITIVE_INFINITY);
  for (const row of results.propagation) {
    row.observations = inf(row.observations) as number[];
    row.notifyMs = inf(row.notifyMs);
  }
  return results;
}

/**
 * Several runs' results as one (--from a.json,b.json): each part (propagation,
 * stores, processes) from the last file that measured it.
 */
function mergeResults(files: string[]): ReplicaResults {
  const all = files.map(readResults);
  const merged: ReplicaResults = { ...(all[0] as ReplicaResults), sources: [] };
  for (const r of all) {
    const parts = PARTS.filter((part) => r[part].length > 0);
    for (const part of parts) (merged as unknown as Record<Part, unknown>)[part] = r[part];
    if (JSON.stringify({ ...r.settings, trials: 0 }) !== JSON.stringify({ ...merged.settings, trials: 0 })) {
      throw new Error(`--from: ${r.command} ran with other settings than ${merged.command}`);
    }
    merged.sources?.push({
      command: r.command,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
      loadAverageStart: r.machine.loadAverageStart,
      loadAverageEnd: r.machine.loadAverageEnd,
      parts,
    });
  }
  // A part that a later run measured again is credited to that run only.
  const seen = new Set<Part>();
  for (const src of [...(merged.sources ?? [])].reverse()) {
    src.parts = src.parts.filter((part) => !seen.has(part));
    for (const part of src.parts) seen.add(part);
  }
  merged.sources = merged.sources?.filter((src) => src.parts.length > 0);
  return merged;
}

let results: ReplicaResults;
if (values.from !== undefined) {
  results = mergeResults(values.from.split(","));
} else {
  killChildrenOnExit();
  results = await main();
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `replicas-${results.mode}-${stamp}.json`);
  const json = `${JSON.stringify(results, null, 2)}\n`;
  fs.writeFileSync(file, json);
  fs.writeFileSync(path.join(RESULTS_DIR, `replicas-${results.mode}-latest.json`), json);
  console.log(`\nresults: ${path.relative(process.cwd(), file)}`);
}
console.log("\ntargets:");
for (const t of targets(results))
  console.log(`  ${t.met === null ? "—    " : t.met ? "MET  " : "MISS "} ${t.target}: ${t.measured}`);
if (writeDocs) {
  fs.writeFileSync(DOC, spliceDoc(fs.readFileSync(DOC, "utf8"), docBlock(results)));
  console.log(`\nwrote ${path.relative(process.cwd(), DOC)}`);
}
// Children are gone; do not wait for pg's or http2's idle handles.
process.exit(0);
