/**
 * Owners are told, leaked keys are stopped: measured.
 *
 * 1. Leak to REVOKED on every replica: three `keyward service` processes on
 *    one PostgreSQL database, a gateway in this process (leak reports signed
 *    with a key pair made here, as GitHub's are). Each round creates a key,
 *    verifies it on every replica (so each has it cached as valid), POSTs a
 *    signed leak report to /leaks, then verifies on every replica as fast as
 *    it can until each answers REVOKED. Reported: the report's answer time
 *    and the time until the last replica refuses the key.
 * 2. Webhook delivery latency: the workers (in this process, Redis at
 *    REDIS_URL) deliver to a receiver in this process; each change is an
 *    UpdateKey at a steady pace, measured from just before the call to the
 *    receiver answering 200.
 * 3. Delivery throughput: events recorded while no workers run (one per key,
 *    so order per key holds nothing back), then the workers start and drain
 *    them: deliveries per second, relay included.
 *
 * `npm run bench:notify` (`-- --rounds N --events N`). Needs PostgreSQL
 * (KEYWARD_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres)
 * and Redis. Prints a Markdown section for docs/benchmarks.md.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, totalmem } from "node:os";
import { resolve } from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { pino } from "pino";
import { loadConfig } from "../src/config.js";
import { startGateway } from "../src/gateway/server.js";
import { VerifyCode } from "../src/gen/keyward/v1/verify_pb.js";
import { asActor, createServiceClient, type ServiceClientHandle } from "../src/shared/contract/service-client.js";
import { startWorkers } from "../src/workers/main.js";
import { freePort } from "../test/support/free-port.js";

const root = resolve(import.meta.dirname, "..");
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROUNDS = arg("--rounds", 50);
const EVENTS = arg("--events", 2000);
const LATENCY_CHANGES = arg("--changes", 200);
const REPLICAS = 3;
const PG_URL = process.env.KEYWARD_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const SERVICE_TOKEN = randomBytes(24).toString("base64url");
const admin = asActor({ name: "bench@example.com" });
const logger = pino({ level: "silent" });

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
};
const ms = (n: number) => `${n.toFixed(n < 10 ? 1 : 0)} ms`;
const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

interface Replica {
  child: ChildProcess;
  connectPort: number;
  client: ServiceClientHandle;
}

async function startReplica(databaseUrl: string, index: number): Promise<Replica> {
  const grpcPort = await freePort();
  const connectPort = await freePort();
  const child = spawn(process.execPath, [resolve(root, "bin/keyward-dev.js"), "service"], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      KEYWARD_DATA_DIR: resolve(root, "bench/.data/notify", String(index)),
      KEYWARD_SERVICE_PORT: String(grpcPort),
      KEYWARD_CONNECT_PORT: String(connectPort),
      KEYWARD_SERVICE_TOKEN: SERVICE_TOKEN,
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  await new Promise<void>((ready, fail) => {
    const onData = (chunk: Buffer) => {
      log += chunk.toString("utf8");
      if (log.includes('"key service listening"')) ready();
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => fail(new Error(`replica ${index} exited with ${code}:\n${log}`)));
  });
  const client = createServiceClient({ baseUrl: `http://127.0.0.1:${connectPort}`, serviceToken: SERVICE_TOKEN });
  return { child, connectPort, client };
}

async function main(): Promise<void> {
  const name = `keyward_bench_${randomBytes(4).toString("hex")}`;
  const server = new pg.Client({ connectionString: PG_URL });
  await server.connect();
  await server.query(`CREATE DATABASE ${name}`);
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  const replicas: Replica[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  try {
    // One replica first: it migrates the database; the others find it done.
    replicas.push(await startReplica(databaseUrl, 0));
    for (let i = 1; i < REPLICAS; i++) replicas.push(await startReplica(databaseUrl, i));
    const primary = replicas[0] as Replica;

    // ---------------------------------------------------------------- leak -> REVOKED everywhere
    const github = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const keyId = "bench";
    const gatewayPort = await freePort();
    const prefix = `kwbench-${randomBytes(4).toString("hex")}`;
    const config = {
      ...loadConfig({
        KEYWARD_DATA_DIR: resolve(root, "bench/.data/notify/gateway"),
        KEYWARD_GATEWAY_PORT: String(gatewayPort),
        KEYWARD_SERVICE_TOKEN: SERVICE_TOKEN,
        KEYWARD_LEAK_RATE_LIMIT: "100000",
        KEYWARD_LEAK_PUBLIC_KEYS: JSON.stringify({
          public_keys: [{ key_identifier: keyId, key: github.publicKey.export({ type: "spki", format: "pem" }) }],
        }),
        REDIS_URL,
        LOG_LEVEL: "silent",
      }),
      KEYWARD_QUEUE_PREFIX: prefix,
    };
    const gateway = await startGateway(config, {
      logger,
      serviceToken: SERVICE_TOKEN,
      serviceUrl: `http://127.0.0.1:${primary.connectPort}`,
    });
    cleanups.push(() => gateway.close());

    const answerTimes: number[] = [];
    const everywhere: number[] = [];
    const perReplica: number[][] = replicas.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      const created = await primary.client.client.createKey({ name: `leak ${round}` }, admin);
      const token = created.token;
      // Every replica has it cached as valid.
      for (const r of replicas) {
        for (let i = 0; i < 3; i++) {
          const v = await r.client.client.verifyKey({ token });
          if (!v.valid) throw new Error(`replica does not know the new key yet (${VerifyCode[v.code]})`);
        }
      }
      const body = JSON.stringify([
        { token, type: "keyward_api_key", url: `https://example.com/${round}`, source: "content" },
      ]);
      const start = performance.now();
      const post = fetch(`http://127.0.0.1:${gatewayPort}/leaks`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "github-public-key-identifier": keyId,
          "github-public-key-signature": sign("sha256", Buffer.from(body), github.privateKey).toString("base64"),
        },
        body,
      }).then(async (res) => {
        const answer = (await res.json()) as Array<{ label: string }>;
        if (answer[0]?.label !== "true_positive") throw new Error(`unexpected answer ${JSON.stringify(answer)}`);
        answerTimes.push(performance.now() - start);
      });
      const revokedAt = await Promise.all(
        replicas.map(async (r, i) => {
          for (;;) {
            const v = await r.client.client.verifyKey({ token });
            if (v.code === VerifyCode.REVOKED) {
              const t = performance.now() - start;
              perReplica[i]?.push(t);
              return t;
            }
            if (performance.now() - start > 10_000) throw new Error("not revoked within 10 s");
          }
        }),
      );
      await post;
      everywhere.push(Math.max(...revokedAt));
    }

    // ---------------------------------------------------------------- webhook latency
    const arrivals = new Map<string, number>();
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const event = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
          type: string;
          data: { key?: { id: string; description: string | null } };
        };
        res.writeHead(200).end("ok");
        const tag = `${event.type}:${event.data.key?.id}:${event.data.key?.description ?? ""}`;
        if (!arrivals.has(tag)) arrivals.set(tag, performance.now());
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise<void>((r) => receiver.close(() => r())));
    const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    await primary.client.client.createWebhookEndpoint(
      { url: hookUrl, eventTypes: ["key.updated", "key.created"] },
      admin,
    );

    const workers = await startWorkers(config, {
      logger,
      serviceToken: SERVICE_TOKEN,
      serviceUrl: `http://127.0.0.1:${primary.connectPort}`,
      scheduleSweeps: false,
    });
    let workersClosed = false;
    cleanups.push(async () => {
      if (!workersClosed) await workers.close();
    });
    const keys: string[] = [];
    for (let i = 0; i < 20; i++)
      keys.push((await primary.client.client.createKey({ name: `hooked ${i}` }, admin)).key?.id as string);
    await sleep(1000);
    const latencies: number[] = [];
    const pending: Array<Promise<void>> = [];
    for (let i = 0; i < LATENCY_CHANGES; i++) {
      const id = keys[i % keys.length] as string;
      const description = `change ${i}`;
      const start = performance.now();
      await primary.client.client.updateKey({ id, updateMask: { paths: ["description"] }, description }, admin);
      const tag = `key.updated:${id}:${description}`;
      pending.push(
        (async () => {
          while (!arrivals.has(tag)) {
            if (performance.now() - start > 30_000) throw new Error(`${tag} not delivered within 30 s`);
            await sleep(2);
          }
          latencies.push((arrivals.get(tag) as number) - start);
        })(),
      );
      await sleep(50);
    }
    await Promise.all(pending);

    // ---------------------------------------------------------------- delivery throughput
    await workers.close();
    workersClosed = true;
    const backlog: string[] = [];
    for (let i = 0; i < EVENTS; i++) {
      backlog.push((await primary.client.client.createKey({ name: `backlog ${i}` }, admin)).key?.id as string);
    }
    const drained = startWorkers(config, {
      logger,
      serviceToken: SERVICE_TOKEN,
      serviceUrl: `http://127.0.0.1:${primary.connectPort}`,
      scheduleSweeps: false,
    });
    const started = performance.now();
    const again = await drained;
    cleanups.push(() => again.close());
    const tags = backlog.map((id) => `key.created:${id}:`);
    while (tags.some((t) => !arrivals.has(t))) {
      if (performance.now() - started > 300_000) throw new Error("the backlog was not delivered within 5 minutes");
      await sleep(20);
    }
    const drainSeconds = (performance.now() - started) / 1000;

    // ---------------------------------------------------------------- report
    const cpu = cpus()[0]?.model ?? "unknown CPU";
    const lines = [
      "## Webhooks and leak reports",
      "",
      `\`npm run bench:notify\` (${ROUNDS} leak rounds, ${LATENCY_CHANGES} changes, ${EVENTS} backlog events), ${new Date().toISOString().slice(0, 10)}, ${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; ${REPLICAS} \`keyward service\` processes (from the sources, tsx) on one PostgreSQL 15 database, the gateway and the workers in the bench process, Redis local.`,
      "",
      "| measure | p50 | p99 | max | target |",
      "|---|---|---|---|---|",
      `| leak report (POST /leaks, signed) answered | ${ms(percentile(answerTimes, 50))} | ${ms(percentile(answerTimes, 99))} | ${ms(Math.max(...answerTimes))} | |`,
      `| leak report arrives → REVOKED on all ${REPLICAS} replicas | ${ms(percentile(everywhere, 50))} | ${ms(percentile(everywhere, 99))} | ${ms(Math.max(...everywhere))} | < 1 s |`,
      ...perReplica.map(
        (times, i) =>
          `| … on replica ${i + 1}${i === 0 ? " (the one the gateway calls)" : ""} | ${ms(percentile(times, 50))} | ${ms(percentile(times, 99))} | ${ms(Math.max(...times))} | |`,
      ),
      `| webhook: change (UpdateKey called) → receiver's 200 | ${ms(percentile(latencies, 50))} | ${ms(percentile(latencies, 99))} | ${ms(Math.max(...latencies))} | |`,
      "",
      `Delivery throughput: ${EVENTS} events recorded while no workers ran were relayed and delivered in ${drainSeconds.toFixed(1)} s: **${Math.round(EVENTS / drainSeconds)} deliveries/s** (one workers process, concurrency 16, receiver on the same machine).`,
    ];
    console.log(lines.join("\n"));
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    for (const r of replicas) {
      r.client.close();
      r.child.kill("SIGTERM");
    }
    await sleep(1500);
    for (const r of replicas) if (r.child.exitCode === null) r.child.kill("SIGKILL");
    await server.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await server.end();
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      let cursor = "0";
      do {
        const [next, found] = await redis.scan(cursor, "MATCH", "kwbench-*", "COUNT", 500);
        cursor = next;
        if (found.length > 0) await redis.del(...found);
      } while (cursor !== "0");
    } finally {
      redis.disconnect();
    }
  }
}

await main();
process.exit(0);
