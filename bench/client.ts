/**
 * What keyward/client costs a service (issue 17):
 *
 * 1. its own CPU per verification, in this process with no network: encoding
 *    the request, decoding and typing the answer, and the Express middleware
 *    around a verifier that answers at once;
 * 2. the latency an Express route sees, with and without the middleware, on
 *    loopback: a real service process, an Express app process
 *    (bench/client-app.ts), and this process sending requests one at a time
 *    (and 16 at a time) over keep-alive connections, plain and verified blocks
 *    alternating.
 *
 * `npm run bench:client` (`-- --requests N` per block, default 2000;
 * `-- --rounds N`, default 5; `-- --warm-up N` calls on each path before
 * measuring, default 6000; `-- --no-write` prints without touching
 * docs/benchmarks.md). Writes the section between the bench:client markers of
 * docs/benchmarks.md (appended the first time). Target: under 0.3 ms added
 * at p50 on loopback.
 */
import { type ChildProcess, execSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import type { NextFunction, Request, Response } from "express";
import { createVerifier, encodeVerifyRequest, type Verifier, type VerifyResult } from "../src/client/index.js";
import { keyward } from "../src/client/middleware/express.js";
import { resultOf } from "../src/client/result.js";
import { Permission } from "../src/gen/keyward/v1/key_pb.js";
import { VerifyCode, VerifyKeyResponseSchema } from "../src/gen/keyward/v1/verify_pb.js";
import { startChildService, stopChildService } from "../test/support/child-service.js";
import { createKeyServiceGrpcClient } from "../test/support/grpc-client.js";
import { BENCH_DIR, forkScript, nextMessage, stopChild } from "./lib/children.js";
import { RawGrpcConnection } from "./lib/raw-h2.js";
import { RESULTS_DIR } from "./lib/servers.js";
import { grpcFrame, VERIFY_PATH } from "./lib/wire.js";

const root = resolve(import.meta.dirname, "..");
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const REQUESTS = arg("--requests", 2_000);
const ROUNDS = arg("--rounds", 5);
const WRITE = !process.argv.includes("--no-write");
const WARM_UP = arg("--warm-up", 6_000);

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
const median = (values: number[]) =>
  quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );

// ---------------------------------------------------------------- 1. CPU per verification

/** Median over 7 runs of the ns one call of `fn` takes (`iterations` calls a run). */
async function nsPerOp(fn: () => unknown, iterations: number): Promise<number> {
  const runs: number[] = [];
  for (let run = 0; run < 8; run++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    const ns = Number(process.hrtime.bigint() - start) / iterations;
    if (run > 0) runs.push(ns); // the first run warms the JIT
  }
  return median(runs);
}

async function nsPerAsyncOp(fn: () => Promise<unknown>, iterations: number): Promise<number> {
  const runs: number[] = [];
  for (let run = 0; run < 8; run++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await fn();
    const ns = Number(process.hrtime.bigint() - start) / iterations;
    if (run > 0) runs.push(ns);
  }
  return median(runs);
}

const TOKEN = `kw_${"a".repeat(32)}abcdef`;
const OPTIONS = {
  scopes: ["read:users"],
  context: { ip: "203.0.113.7", method: "GET", path: "/v1/users/42", userAgent: "curl/8.5.0" },
};

/** A VALID answer with key, claims, expiry and a rate limit: what the service answers for the bench's key, and what the echo server sends back. */
function validAnswer() {
  return create(VerifyKeyResponseSchema, {
    valid: true,
    code: VerifyCode.VALID,
    key: {
      id: "0193a0c4-5b7e-7c1a-9f3e-2d4b6a8c0e1f",
      name: "Production",
      permission: Permission.FULL_ACCESS,
      subject: "org_456",
      scopes: ["read:users", "write:users"],
      claims: { plan: "pro", region: "eu" },
      expireTime: timestampFromMs(Date.now() + 86_400_000),
    },
    ratelimit: { name: "api", limit: 100, remaining: 99n, resetTime: timestampFromMs(Date.now() + 60_000) },
  });
}

async function cpuCosts() {
  const response = validAnswer();
  const responseBytes = toBinary(VerifyKeyResponseSchema, response);
  const canned = resultOf(response);
  const stub: Verifier = {
    verify: async () => canned,
    close() {},
    client: undefined as never,
  };
  const middleware = keyward({ verifier: stub, scopes: ["read:users"] });
  const req = {
    headers: { authorization: `Bearer ${TOKEN}`, "user-agent": "curl/8.5.0" },
    ip: "203.0.113.7",
    method: "GET",
    originalUrl: "/v1/users/42?page=2",
    socket: {},
  } as unknown as Request;
  const res = {} as Response;
  const throughMiddleware = () =>
    new Promise<void>((done, fail) =>
      middleware(req, res, ((error?: unknown) => (error ? fail(error) : done())) as NextFunction),
    );

  const encode = await nsPerOp(() => encodeVerifyRequest(TOKEN, OPTIONS), 50_000);
  const decode = await nsPerOp(() => resultOf(fromBinary(VerifyKeyResponseSchema, responseBytes)), 50_000);
  const mw = await nsPerAsyncOp(throughMiddleware, 50_000);
  return {
    encode,
    decode,
    middleware: mw,
    requestBytes: encodeVerifyRequest(TOKEN, OPTIONS).length,
    responseBytes: responseBytes.length,
  };
}

// ---------------------------------------------------------------- 2. Latency an Express route sees

interface Sample {
  total: number[];
  preHandler: number[];
  /** Answers other than 200 by status (503: the 250 ms deadline passed). */
  refused: Record<number, number>;
}
const sample = (): Sample => ({ total: [], preHandler: [], refused: {} });

function send(
  agent: Agent,
  port: number,
  path: string,
  token: string,
): Promise<{ ms: number; preUs: number; status: number }> {
  return new Promise((done, fail) => {
    const start = performance.now();
    const req = request(
      { host: "127.0.0.1", port, path, agent, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        res.resume();
        res.on("end", () =>
          done({
            ms: performance.now() - start,
            preUs: Number(res.headers["x-pre-handler-us"]),
            status: res.statusCode ?? 0,
          }),
        );
      },
    );
    req.on("error", fail);
    req.end();
  });
}

async function block(agent: Agent, port: number, path: string, token: string, concurrency: number, into: Sample) {
  let left = REQUESTS;
  const worker = async () => {
    while (left > 0) {
      left--;
      const r = await send(agent, port, path, token);
      if (r.status !== 200) {
        into.refused[r.status] = (into.refused[r.status] ?? 0) + 1;
        continue;
      }
      into.total.push(r.ms);
      into.preHandler.push(r.preUs / 1000);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

const ROUTES = ["/plain", "/verified", "/grpc-echo"] as const;
type Route = (typeof ROUTES)[number];

async function startApp(target: string, echoTarget: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ["--import", "tsx", join(root, "bench/client-app.ts")], {
    cwd: root,
    env: { ...process.env, KEYWARD_TARGET: target, ECHO_TARGET: echoTarget },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [line] = (await once(createInterface({ input: child.stdout as NodeJS.ReadableStream }), "line")) as [string];
  return { child, port: (JSON.parse(line) as { port: number }).port };
}

/** Calls made one at a time from this process, with no Express in between. */
const DIRECT = ["verifier", "grpcEcho", "rawEcho"] as const;
type Direct = (typeof DIRECT)[number];
const directMs: Record<Direct, number[]> = { verifier: [], grpcEcho: [], rawEcho: [] };
let directRefused = 0;

/** bench/echo-server.ts (grpc-js, bytes in and out, no decoding) answering every call with `answer`. */
async function startEcho(answer: Uint8Array): Promise<{ child: ChildProcess; port: number }> {
  const child = forkScript(
    join(BENCH_DIR, "echo-server.ts"),
    ["--codec", "buffer", "--response", Buffer.from(answer).toString("hex")],
    { logFile: join(RESULTS_DIR, "logs", `client-${startedAt.toISOString().replace(/[:.]/g, "-")}`, "echo.log") },
  );
  const ready = await nextMessage<{ t: "ready"; grpcPort: number }>(child, "ready", 60_000);
  return { child, port: ready.grpcPort };
}

async function latencies() {
  const dataDir = mkdtempSync(join(tmpdir(), "keyward-bench-client-"));
  const service = await startChildService(dataDir, { LOG_LEVEL: "warn", KEYWARD_LOG_LIMIT_PER_KEY: "100" });
  const echo = await startEcho(toBinary(VerifyKeyResponseSchema, validAnswer()));
  const serviceToken = readFileSync(join(dataDir, "service-token"), "utf8").trim();
  const target = `127.0.0.1:${service.grpcPort}`;
  const echoTarget = `127.0.0.1:${echo.port}`;
  const admin = createKeyServiceGrpcClient(target, { token: serviceToken, actor: "bench@example.com" });
  const { token } = await admin.unary("createKey", { name: "Bench", scopes: ["read:users"] });
  admin.close();
  const results: Record<string, Record<Route, Sample>> = {};
  let app: { child: ChildProcess; port: number } | undefined;
  try {
    // A direct check that the key verifies.
    const verifier: Verifier = createVerifier({ target, onUnavailable: "deny" });
    const first: VerifyResult = await verifier.verify(token, { scopes: ["read:users"] });
    if (first.code !== "VALID") throw new Error(`the bench key verifies as ${first.code}`);
    // The floors, from this process and one call at a time, beside verifier.verify(): a bare grpc-js call
    // (Client.makeUnaryRequest, as grpc-js documents it) and a raw HTTP/2 call (bench/lib/raw-h2.ts, a few µs
    // of CPU) to the echo server, which answers the same bytes at once.
    const grpcEcho = new grpc.Client(echoTarget, grpc.credentials.createInsecure());
    const raw = new RawGrpcConnection(echo.port, VERIFY_PATH);
    await raw.ready;
    const request = Buffer.from(encodeVerifyRequest(token, OPTIONS));
    const frame = grpcFrame(request);
    const asIs = (bytes: Buffer) => bytes;
    const calls: Record<Direct, () => Promise<boolean>> = {
      verifier: async () => (await verifier.verify(token, OPTIONS)).code === "VALID",
      grpcEcho: () =>
        new Promise((done) =>
          grpcEcho.makeUnaryRequest(VERIFY_PATH, asIs, asIs, request, { deadline: Date.now() + 250 }, (error) =>
            done(!error),
          ),
        ),
      rawEcho: () => new Promise((done) => raw.call(frame, (outcome) => done(outcome.ok))),
    };
    // Warm-up: the service and both clients need a few thousand calls before V8 has optimised their hot paths
    // (measured here: p50 0.72 ms over the first 1,000 calls, 0.23 ms after 5,000).
    for (const name of DIRECT) for (let i = 0; i < WARM_UP; i++) await calls[name]();
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of DIRECT) {
        for (let i = 0; i < REQUESTS; i++) {
          const start = performance.now();
          const ok = await calls[name]();
          if (!ok) {
            directRefused++;
            continue;
          }
          directMs[name].push(performance.now() - start);
        }
      }
    }
    verifier.close();
    grpcEcho.close();
    raw.close();
    app = await startApp(target, echoTarget);

    for (const concurrency of [1, 16]) {
      const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
      const samples: Record<Route, Sample> = { "/plain": sample(), "/verified": sample(), "/grpc-echo": sample() };
      const warm = sample();
      const port = app.port;
      for (let i = 0; i < Math.ceil(WARM_UP / REQUESTS); i++) {
        for (const route of ROUTES) await block(agent, port, route, token, concurrency, warm);
      }
      for (let round = 0; round < ROUNDS; round++) {
        for (const route of ROUTES) await block(agent, port, route, token, concurrency, samples[route]);
      }
      agent.destroy();
      results[String(concurrency)] = samples;
    }
  } finally {
    if (app !== undefined) await stopChild(app.child);
    await stopChild(echo.child);
    await stopChildService(service);
    rmSync(dataDir, { recursive: true, force: true });
  }
  return results;
}

// ---------------------------------------------------------------- report

function machine(): string {
  const model = cpus()[0]?.model.trim() ?? "unknown CPU";
  const nproc = execSync("nproc").toString().trim();
  return `${nproc} CPUs (\`nproc\`), ${model} (\`/proc/cpuinfo\`), Node ${process.version}, ${Math.round(totalmem() / 2 ** 20).toLocaleString("en-US")} MB RAM`;
}

const ms = (v: number) => `${v.toFixed(3)} ms`;
const refusedText = (s: Sample) => {
  const entries = Object.entries(s.refused);
  if (entries.length === 0) return "none";
  const all = s.total.length + entries.reduce((n, [, count]) => n + count, 0);
  return entries.map(([status, count]) => `${count} × ${status} (of ${all})`).join(", ");
};
const us = (ns: number) => `${(ns / 1000).toFixed(2)} µs`;

const loadBefore = loadavg()[0] ?? 0;
const startedAt = new Date();
const lat = await latencies();
const cpu = await cpuCosts();
const loadAfter = loadavg()[0] ?? 0;

const lines: string[] = [];
lines.push("<!-- bench:client:begin (written by bench/client.ts; edit the script, not this text) -->");
lines.push("## The verify client (keyward/client)");
lines.push("");
lines.push(
  `Measured ${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC with \`npm run bench:client\` (bench/client.ts; ${WARM_UP} calls of warm-up on each path, then ${ROUNDS} rounds of ${REQUESTS} requests a block) on ${machine()}; load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after (other work shared the machine).`,
);
lines.push("");
lines.push("### What the client costs in CPU, per verification (no network)");
lines.push("");
lines.push("| step | time |");
lines.push("|---|---|");
lines.push(
  `| encode the VerifyKeyRequest (token, a scope, the request context: ${cpu.requestBytes} bytes) | ${us(cpu.encode)} |`,
);
lines.push(
  `| decode a VALID answer with key, claims, expiry and a rate limit (${cpu.responseBytes} bytes) into the typed result | ${us(cpu.decode)} |`,
);
lines.push(
  `| the Express middleware around a verifier that answers at once (header, context, decision, next()) | ${us(cpu.middleware)} |`,
);
lines.push("");
lines.push("### What an Express route sees, on loopback");
lines.push("");
lines.push(
  "A real service process, an echo server (bench/echo-server.ts: bare grpc-js answering a VALID answer's bytes at once), the Express app of bench/client-app.ts in its own process, and the load generator (node:http, keep-alive) in a fourth; the routes alternate in blocks. `/plain` answers at once; `/verified` is behind the middleware (one scope); `/grpc-echo` makes one bare grpc-js call (`Client.makeUnaryRequest`) to the echo server first: what any gRPC call from a route costs here, with no Keyward in it. *Round trip* is the HTTP request as the load generator times it; *before the handler* is what the app itself measures from its first middleware to the route's handler.",
);
lines.push("");
lines.push(
  "| in flight | route | round trip p50 | round trip p99 | before the handler p50 | before the handler p99 | answers other than 200 |",
);
lines.push("|---|---|---|---|---|---|---|");
const added: Record<string, { verified: number; echo: number }> = {};
for (const [concurrency, samples] of Object.entries(lat)) {
  for (const route of ROUTES) {
    const s = samples[route];
    const total = [...s.total].sort((a, b) => a - b);
    const pre = [...s.preHandler].sort((a, b) => a - b);
    lines.push(
      `| ${concurrency} | \`${route}\` | ${ms(quantile(total, 0.5))} | ${ms(quantile(total, 0.99))} | ${ms(quantile(pre, 0.5))} | ${ms(quantile(pre, 0.99))} | ${refusedText(s)} |`,
    );
  }
  const plainP50 = median(samples["/plain"].total);
  added[concurrency] = {
    verified: median(samples["/verified"].total) - plainP50,
    echo: median(samples["/grpc-echo"].total) - plainP50,
  };
}
lines.push("");
lines.push("And one call at a time from the load generator's process, with no Express in between:");
lines.push("");
lines.push("| call | p50 | p99 |");
lines.push("|---|---|---|");
const directLabel: Record<Direct, string> = {
  verifier: "`verifier.verify()` → Keyward",
  grpcEcho: "a bare grpc-js call (`Client.makeUnaryRequest`) → the echo server",
  rawEcho: "a raw HTTP/2 call (bench/lib/raw-h2.ts) → the echo server",
};
const p50: Record<Direct, number> = { verifier: 0, grpcEcho: 0, rawEcho: 0 };
for (const name of DIRECT) {
  const sorted = [...directMs[name]].sort((a, b) => a - b);
  p50[name] = quantile(sorted, 0.5);
  lines.push(`| ${directLabel[name]} | ${ms(p50[name])} | ${ms(quantile(sorted, 0.99))} |`);
}
if (directRefused > 0) lines.push("", `${directRefused} of these calls failed and are not counted.`);
lines.push("");
const one = added["1"] ?? { verified: Number.NaN, echo: Number.NaN };
lines.push(
  `Added by verification at p50, one request at a time: **${ms(one.verified)}** (target: under 0.3 ms: **${one.verified < 0.3 ? "met" : "missed"}**); a bare grpc-js call to a server that answers at once adds ${ms(one.echo)} to the same route. With 16 in flight: ${ms(added["16"]?.verified ?? Number.NaN)} and ${ms(added["16"]?.echo ?? Number.NaN)}.`,
);
const own = (cpu.encode + cpu.decode + cpu.middleware) / 1_000_000;
lines.push("");
lines.push(
  `Where it goes: the client's own CPU (encode, decode, middleware) is ${ms(own)} a verification. Everything else is the gRPC round trip, and what the Express process pays to wait for one: verification adds ${ms(one.verified - one.echo)} to a route over a bare grpc-js call that does nothing, and \`verifier.verify()\` takes ${ms(p50.verifier - p50.grpcEcho)} more than that call (Keyward's check and request log, and the service's own grpc-js server). A gRPC round trip through grpc-js costs ${ms(p50.grpcEcho)} here before any Express is involved, ${ms(p50.grpcEcho - p50.rawEcho)} of it the client side of grpc-js and node:http2 (a raw HTTP/2 client on a socket makes the same call in ${ms(p50.rawEcho)}).${one.echo >= 0.3 ? " So on this machine no verification made over grpc-js, by this client or any other, can add under 0.3 ms to an Express route: one call to a server that does nothing already adds more." : ""}`,
);
lines.push("<!-- bench:client:end -->");
const section = lines.join("\n");
console.log(section);

if (WRITE) {
  const file = join(root, "docs/benchmarks.md");
  const text = readFileSync(file, "utf8");
  const begin = text.indexOf("<!-- bench:client:begin");
  const end = text.indexOf("<!-- bench:client:end -->");
  const next =
    begin !== -1 && end !== -1
      ? `${text.slice(0, begin)}${section}${text.slice(end + "<!-- bench:client:end -->".length)}`
      : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
  console.error("docs/benchmarks.md: section bench:client written");
}
