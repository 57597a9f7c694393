/**
 * Peak memory of CSV exports of 100,000 and 1,000,000 keys, through the real
 * path: the key service streams the rows (StreamExportRows), a worker process
 * started with startWorkers() takes the BullMQ job, writes the CSV under a
 * temporary name, renames it, marks the export READY and "mails" the link
 * (to the outbox: no SMTP_URL). Each size gets a fresh worker process, so its
 * peak RSS (getrusage maxrss) is that one export's, next to the same
 * process's RSS when idle.
 *
 *   npx tsx bench/export-memory.ts                 # 100k and 1M keys
 *   npx tsx bench/export-memory.ts --sizes 100000  # one size
 *   npx tsx bench/export-memory.ts --write         # also update "## Export memory" in docs/benchmarks.md
 *
 * Needs Redis at REDIS_URL (default redis://127.0.0.1:6379); uses a queue
 * prefix of its own and deletes its keys afterwards. The data dir is a temp
 * directory on disk, removed at the end.
 */
import { type ChildProcess, execFileSync, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { pino } from "pino";
import { loadConfig } from "../src/config.js";
import { ExportResource, ExportState } from "../src/gen/keyward/v1/export_pb.js";
import type { KeyRecord } from "../src/service/keys/model.js";
import { generateToken, hashToken, tokenHint } from "../src/service/keys/token.js";
import { startService } from "../src/service/server.js";
import { keyToColumns } from "../src/service/store/sqlite/rows.js";
import { createSqliteKeyStore } from "../src/service/store/sqlite/sqlite-key-store.js";
import { asActor, createServiceClient } from "../src/shared/contract/service-client.js";
import { EXPORT_JOB, EXPORT_QUEUE, exportJobOptions, producerConnection } from "../src/shared/queues/queues.js";
import { startWorkers } from "../src/workers/main.js";

const MB = 1024 * 1024;
const SELF = fileURLToPath(import.meta.url);

// ------------------------------------------------------------------ worker side

/** The child: a worker process as `keyward workers` runs it, reporting its memory on request. */
async function workerMain(): Promise<void> {
  const config = loadConfig(process.env);
  const workers = await startWorkers(config, {
    logger: pino({ level: "warn" }),
    serviceToken: process.env.BENCH_SERVICE_TOKEN as string,
    serviceUrl: process.env.BENCH_SERVICE_URL as string,
    queuePrefix: process.env.BENCH_QUEUE_PREFIX,
    scheduleSweeps: false,
    exportConcurrency: 1,
  });
  // Sampled as well as getrusage's peak: the samples show the shape over time.
  let sampledPeak = 0;
  const sampler = setInterval(() => {
    sampledPeak = Math.max(sampledPeak, process.memoryUsage.rss());
  }, 50);
  process.on("message", async (message: { type: string }) => {
    if (message.type === "idle") {
      global.gc?.();
      process.send?.({ type: "idle", rss: process.memoryUsage.rss(), maxRss: process.resourceUsage().maxRSS * 1024 });
    }
    if (message.type === "report") {
      clearInterval(sampler);
      process.send?.({
        type: "report",
        maxRss: process.resourceUsage().maxRSS * 1024,
        sampledPeak,
        heapUsed: process.memoryUsage().heapUsed,
      });
      await workers.close();
      process.exit(0);
    }
  });
  process.send?.({ type: "ready" });
}

// ------------------------------------------------------------------ driver side

interface Result {
  rows: number;
  seconds: number;
  bytes: number;
  idleRss: number;
  peakRss: number;
  sampledPeak: number;
  serviceRssBefore: number;
  servicePeakRss: number;
}

function record(i: number, subject: string, at: number): KeyRecord {
  const token = generateToken("kw");
  return {
    id: `01900000-0000-7000-8000-${String(i).padStart(12, "0")}`,
    hash: hashToken(token),
    tokenHint: tokenHint(token),
    name: `Production key ${i}, "billing"`,
    description: "",
    permission: i % 4 === 0 ? "sending_access" : "full_access",
    domainId: i % 4 === 0 ? `dom_${i % 97}` : null,
    subject,
    scopes: ["emails:send", "domains:read"],
    claims: null,
    createdBy: "bench@example.com",
    expiresAt: i % 10 === 0 ? at + 90 * 86_400_000 : null,
    enabled: true,
    allowedCidrs: [],
    createdAt: at + i,
    updatedAt: at + i,
    revokedAt: null,
    revocationReason: null,
    lastUsedAt: i % 3 === 0 ? null : at + i,
    requestCount: i % 1000,
    rotatedFromId: null,
    rotatedToId: null,
    inactiveSince: null,
    rotationNotifiedAt: null,
    ratelimits: [],
    remaining: null,
    refill: null,
    version: 1,
  };
}

/** Writes the keys straight into SQLite in big transactions (CreateKey fsyncs each key: hours for a million). */
async function seed(file: string, sizes: number[]): Promise<void> {
  await createSqliteKeyStore({ path: file, inactiveDays: 30 }).close();
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = OFF");
  const at = Date.now() - 86_400_000;
  const columns = Object.keys(keyToColumns(record(0, "x", at)));
  const insert = db.prepare(
    `INSERT INTO keys (${columns.join(", ")}) VALUES (${columns.map((c) => `@${c}`).join(", ")})`,
  );
  const insertMany = db.transaction((records: KeyRecord[]) => {
    for (const r of records) insert.run(keyToColumns(r));
  });
  let offset = 0;
  for (const size of sizes) {
    for (let from = 0; from < size; from += 50_000) {
      const batch: KeyRecord[] = [];
      for (let i = from; i < Math.min(size, from + 50_000); i++) batch.push(record(offset + i, `bench-${size}`, at));
      insertMany(batch);
    }
    offset += size;
  }
  db.exec("ANALYZE");
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
}

function waitFor<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type: string }) => {
      if (message.type !== type) return;
      child.off("message", onMessage);
      resolve(message as T);
    };
    child.on("message", onMessage);
    child.once("exit", (code) => reject(new Error(`worker process exited (${code}) before "${type}"`)));
  });
}

async function dropPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== "0");
  redis.disconnect();
}

async function driverMain(sizes: number[], write: boolean): Promise<void> {
  const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "keyward-export-bench-"));
  const prefix = `kwbench-${randomBytes(4).toString("hex")}`;
  const env = {
    KEYWARD_DATA_DIR: dataDir,
    KEYWARD_SERVICE_PORT: "0",
    KEYWARD_CONNECT_PORT: "0",
    REDIS_URL: redisUrl,
    LOG_LEVEL: "warn",
  };
  const config = loadConfig(env);
  const results: Result[] = [];
  try {
    let t = performance.now();
    await seed(path.join(dataDir, "keyward.db"), sizes);
    console.error(`seeded ${sizes.join(" + ")} keys in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    const service = await startService(config, { logger: pino({ level: "warn" }) });
    const serviceUrl = `http://127.0.0.1:${service.connectPort}`;
    const client = createServiceClient({ baseUrl: serviceUrl, serviceToken: service.serviceToken });
    const queue = new Queue(EXPORT_QUEUE, { connection: producerConnection(redisUrl), prefix });
    try {
      for (const size of sizes) {
        const child = fork(SELF, ["--worker"], {
          env: {
            ...process.env,
            ...env,
            BENCH_SERVICE_URL: serviceUrl,
            BENCH_SERVICE_TOKEN: service.serviceToken,
            BENCH_QUEUE_PREFIX: prefix,
          },
          execArgv: [...process.execArgv, "--expose-gc"],
          stdio: ["ignore", "inherit", "inherit", "ipc"],
        });
        await waitFor(child, "ready");
        await new Promise((r) => setTimeout(r, 500));
        child.send({ type: "idle" });
        const idle = await waitFor<{ rss: number }>(child, "idle");

        global.gc?.();
        const serviceRssBefore = process.memoryUsage.rss();
        let servicePeakRss = serviceRssBefore;
        const sampler = setInterval(() => {
          servicePeakRss = Math.max(servicePeakRss, process.memoryUsage.rss());
        }, 50);

        t = performance.now();
        const created = await client.client.createExport(
          { resource: ExportResource.API_KEYS, filters: { subject: `bench-${size}` } },
          asActor("bench@example.com"),
        );
        const id = created.export?.id as string;
        await queue.add(EXPORT_JOB, { exportId: id }, exportJobOptions(id));
        let bytes = 0;
        let rows = 0;
        for (;;) {
          const got = (await client.client.getExport({ id })).export;
          if (got?.state === ExportState.READY) {
            bytes = Number(got.byteSize);
            rows = Number(got.rowCount);
            break;
          }
          if (got?.state === ExportState.FAILED) throw new Error(`export failed: ${got.error}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        const seconds = (performance.now() - t) / 1000;
        clearInterval(sampler);
        child.send({ type: "report" });
        const report = await waitFor<{ maxRss: number; sampledPeak: number }>(child, "report");
        await new Promise((r) => child.once("exit", r));
        if (rows !== size) throw new Error(`expected ${size} rows, the export holds ${rows}`);
        const result: Result = {
          rows,
          seconds,
          bytes,
          idleRss: idle.rss,
          peakRss: report.maxRss,
          sampledPeak: report.sampledPeak,
          serviceRssBefore,
          servicePeakRss,
        };
        results.push(result);
        console.error(
          `${size} rows: ${seconds.toFixed(1)} s, ${(bytes / MB).toFixed(1)} MB CSV, worker RSS idle ${(idle.rss / MB).toFixed(0)} MB, peak ${(report.maxRss / MB).toFixed(0)} MB; service RSS ${(serviceRssBefore / MB).toFixed(0)} -> ${(servicePeakRss / MB).toFixed(0)} MB`,
        );
        fs.rmSync(path.join(dataDir, "exports", `${id}.csv`), { force: true });
      }
    } finally {
      await queue.close();
      client.close();
      await service.close();
      await dropPrefix(redisUrl, prefix);
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }

  const section = markdown(results);
  process.stdout.write(section);
  if (write) writeSection(section);
}

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const nproc = execFileSync("nproc", { encoding: "utf8" }).trim();
  return `${nproc} CPUs (\`nproc\`), ${cpu}, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version} (\`node --version\`)`;
}

function markdown(results: Result[]): string {
  const mb = (n: number) => (n / MB).toFixed(0);
  const lines = [
    "## Export memory",
    "",
    "Peak memory of one CSV export of N keys through the real path: the key service streams the rows",
    "(`StreamExportRows`, 1,000 a message), a worker process started with `startWorkers()` takes the BullMQ",
    "job, writes the CSV to a temporary file, renames it, marks the export READY and writes the mail to",
    'the outbox. Every size runs in a fresh worker process; "peak" is that process\'s `getrusage` max RSS,',
    '"idle" its RSS after start, before the job. The service column is the service process\'s RSS before',
    "and at most during the export (it also held the seeded SQLite database's page cache).",
    "",
    "Command: `npx tsx bench/export-memory.ts --write` (Redis at `REDIS_URL`, data in a temp dir on disk).",
    "",
    `Machine: ${machine()}; measured ${new Date().toISOString().slice(0, 10)}.`,
    "",
    "| rows | time | CSV size | rows/s | worker RSS idle | worker RSS peak | service RSS before -> peak |",
    "|---:|---:|---:|---:|---:|---:|---:|",
    ...results.map(
      (r) =>
        `| ${r.rows.toLocaleString("en-US")} | ${r.seconds.toFixed(1)} s | ${(r.bytes / MB).toFixed(1)} MB | ${Math.round(r.rows / r.seconds).toLocaleString("en-US")} | ${mb(r.idleRss)} MB | ${mb(r.peakRss)} MB | ${mb(r.serviceRssBefore)} -> ${mb(r.servicePeakRss)} MB |`,
    ),
    "",
  ];
  const [small, large] = [results[0], results[results.length - 1]];
  if (small && large && small !== large) {
    lines.push(
      `Ten times the rows moved the worker's peak RSS by ${mb(large.peakRss - small.peakRss)} MB (${mb(small.peakRss)} -> ${mb(large.peakRss)} MB) while the CSV grew by ${((large.bytes - small.bytes) / MB).toFixed(0)} MB: the rows are streamed, never held.`,
      "",
    );
  }
  return `${lines.join("\n")}\n`;
}

const BEGIN =
  "<!-- export-memory:begin (written by bench/export-memory.ts --write; edit the script, not this text) -->";
const END = "<!-- export-memory:end -->";

/** Replaces (or appends) the export-memory block of docs/benchmarks.md, leaving every other section alone. */
function writeSection(section: string): void {
  const file = path.resolve(path.dirname(SELF), "..", "docs", "benchmarks.md");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "# Benchmarks\n";
  const block = `${BEGIN}\n${section.trimEnd()}\n${END}\n`;
  const start = current.indexOf("<!-- export-memory:begin");
  const end = current.indexOf(END);
  const next =
    start !== -1 && end > start
      ? current.slice(0, start) + block + current.slice(end + END.length).replace(/^\n/, "")
      : `${current.trimEnd()}\n\n${block}`;
  fs.writeFileSync(file, next);
  console.error(`updated ${path.relative(process.cwd(), file)}`);
}

const { values } = parseArgs({
  options: {
    worker: { type: "boolean", default: false },
    sizes: { type: "string", default: "100000,1000000" },
    write: { type: "boolean", default: false },
  },
});
if (values.worker) await workerMain();
else {
  await driverMain(
    values.sizes.split(",").map((s) => Number(s.trim())),
    values.write,
  );
  process.exit(0);
}
