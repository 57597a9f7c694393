import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { pino } from "pino";
import { SMTPServer } from "smtp-server";
import { type Config, loadConfig } from "../../../src/config.js";
import { type RunningGateway, startGateway } from "../../../src/gateway/server.js";
import { type StartedService, startService } from "../../../src/service/server.js";
import { ADMIN_SCOPE, MEMBER_SCOPE } from "../../../src/shared/contract/scopes.js";
import { asActor, createServiceClient, type KeyServiceClient } from "../../../src/shared/contract/service-client.js";
import type { Logger } from "../../../src/shared/logger.js";
import { type RunningWorkers, startWorkers, type WorkersOptions } from "../../../src/workers/main.js";
import type { SweepSummary } from "../../../src/workers/sweeps/sweep-report.js";
import { eventually } from "../../support/eventually.js";
import { freePort } from "../../support/free-port.js";
import { dropPrefix, requireRedis, SHARED_REDIS_URL, uniquePrefix } from "../../support/redis.js";

/**
 * The whole export path for real: a key service on a temp data dir (with a
 * clock the test moves), a gateway and the workers on free ports, a real
 * Redis (shared, under a prefix of this test's own), and an in-process SMTP
 * server receiving the mails.
 */

export { dropPrefix, requireRedis, SHARED_REDIS_URL, uniquePrefix };

/**
 * Where test data dirs go: tmpfs when there is one. The service fsyncs every
 * key it creates (durable once acknowledged), so seeding 1,001 keys on a disk
 * takes ~10 s and on tmpfs well under one; nothing here tests durability.
 */
function scratchRoot(): string {
  try {
    accessSync("/dev/shm", constants.W_OK);
    return "/dev/shm";
  } catch {
    return tmpdir();
  }
}

/** A pino logger whose lines the test can read. */
export function captureLogger(level = "info"): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n"))
        if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level }, sink), lines: () => lines };
}

// ---------------------------------------------------------------- mail

export interface ReceivedMail {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  raw: string;
}

export interface SmtpSink {
  url: string;
  mails: ReceivedMail[];
  /** Resolves once at least `count` mails arrived (matching `filter` when given). */
  waitFor(count: number, filter?: (m: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

export async function startSmtpSink(): Promise<SmtpSink> {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["AUTH", "STARTTLS"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        const envelope = session.envelope;
        mails.push({
          from: envelope.mailFrom ? envelope.mailFrom.address : "",
          to: envelope.rcptTo.map((r) => r.address),
          ...parseMime(raw),
          raw,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    async waitFor(count, filter = () => true, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const matching = mails.filter(filter);
        if (matching.length >= count) return matching;
        if (Date.now() > deadline)
          throw new Error(`expected ${count} mail(s), got ${matching.length} after ${timeoutMs} ms`);
        await sleep(50);
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Just enough MIME for nodemailer's output: the subject and the decoded text and HTML parts. */
function parseMime(raw: string): { subject: string; text: string; html: string } {
  const [head = "", ...rest] = raw.split(/\r?\n\r?\n/);
  const headers = unfold(head);
  const subject = decodeWords(headers.get("subject") ?? "");
  const contentType = headers.get("content-type") ?? "text/plain";
  const body = rest.join("\r\n\r\n");
  const parts: Array<{ type: string; body: string }> = [];
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (boundary) {
    for (const chunk of body.split(`--${boundary}`).slice(1)) {
      if (chunk.startsWith("--")) break;
      const [partHead = "", ...partBody] = chunk.replace(/^\r?\n/, "").split(/\r?\n\r?\n/);
      const h = unfold(partHead);
      parts.push({
        type: h.get("content-type") ?? "text/plain",
        body: decodeBody(partBody.join("\r\n\r\n"), h.get("content-transfer-encoding")),
      });
    }
  } else {
    parts.push({ type: contentType, body: decodeBody(body, headers.get("content-transfer-encoding")) });
  }
  return {
    subject,
    text: parts.find((p) => p.type.startsWith("text/plain"))?.body ?? "",
    html: parts.find((p) => p.type.startsWith("text/html"))?.body ?? "",
  };
}

function unfold(head: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of head.replace(/\r?\n[ \t]+/g, " ").split(/\r?\n/)) {
    const i = line.indexOf(":");
    if (i > 0) map.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  return map;
}

function decodeBody(body: string, encoding: string | undefined): string {
  const enc = encoding?.toLowerCase();
  if (enc === "quoted-printable") {
    const bytes = body
      .replace(/=\r?\n/g, "")
      .replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
    return Buffer.from(bytes, "latin1").toString("utf8");
  }
  if (enc === "base64") return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
  return body;
}

function decodeWords(text: string): string {
  return text.replace(/=\?utf-8\?([QB])\?([^?]*)\?=/gi, (_, kind: string, data: string) =>
    kind.toUpperCase() === "B"
      ? Buffer.from(data, "base64").toString("utf8")
      : Buffer.from(
          data
            .replace(/_/g, " ")
            .replace(/=([0-9A-F]{2})/gi, (__, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
          "latin1",
        ).toString("utf8"),
  );
}

/** The export download link in a mail's text part. */
export function linkIn(mail: ReceivedMail | undefined): string {
  if (!mail) throw new Error("no mail");
  const match = /https?:\/\/\S+\/exports\/[^\s/]+\/download\?expires=\d+&sig=[0-9a-f]+/.exec(mail.text);
  if (!match) throw new Error(`no download link in the mail "${mail.subject}"`);
  return match[0];
}

// ---------------------------------------------------------------- CSV

/** RFC 4180: quoted fields may hold commas, quotes ("") and line breaks; records end with CRLF. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      i++;
    } else cell += c;
  }
  if (cell !== "" || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

// ---------------------------------------------------------------- the stack

export interface Stack {
  config: Config;
  dataDir: string;
  exportsDir: string;
  prefix: string;
  /** The gateway's base URL. */
  url: string;
  serviceUrl: string;
  serviceToken: string;
  service: StartedService;
  /** The service called directly with its credential. */
  direct: KeyServiceClient;
  workers: RunningWorkers | undefined;
  /** One sweep through the running workers' queue. */
  sweepNow(): Promise<SweepSummary>;
  smtp: SmtpSink;
  /** The service's clock: move it instead of waiting. */
  clock: { now: number; advance(ms: number): void };
  adminToken: string;
  memberToken: string;
  /** A procedure called over plain HTTP: the status and the parsed body. */
  trpc(
    path: string,
    input: unknown,
    token?: string,
    method?: "GET" | "POST",
  ): Promise<{ status: number; body: TrpcBody }>;
  download(link: string, token?: string): Promise<{ status: number; text: string; headers: Headers }>;
  /** Creates `count` keys with this subject (and extra fields) through the service's domain. */
  seedKeys(
    count: number,
    fields: { subject: string; name?: (i: number) => string; scopes?: string[] },
  ): Promise<string[]>;
  startWorkers(overrides?: Partial<WorkersOptions>): Promise<RunningWorkers>;
  close(): Promise<void>;
}

export interface TrpcBody {
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON a procedure answers
  result?: { data: any };
  error?: { message: string; data: { code: string; httpStatus: number } };
}

export interface StackOptions {
  redisUrl?: string;
  /** Start the workers at once (default true). */
  workers?: boolean;
  workerOptions?: Partial<WorkersOptions>;
  env?: Record<string, string>;
  /** Variables the workers alone see on top of `env`, as a workers process of its own would (the service does not). */
  workerEnv?: Record<string, string>;
  logger?: Logger;
  /** Start even though Redis is down (the outage tests). */
  redisMayBeDown?: boolean;
  /** A data dir of the test's own, kept at close (a restart on the same database); default a fresh one, removed at close. */
  dataDir?: string;
}

/** A temp data dir for stacks started on it one after another (`dataDir`); the test removes it. */
export function newStackDataDir(): string {
  return mkdtempSync(join(scratchRoot(), "keyward-workers-"));
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const redisUrl = options.redisUrl ?? SHARED_REDIS_URL;
  if (!options.redisMayBeDown) await requireRedis(redisUrl);
  const dataDir = options.dataDir ?? newStackDataDir();
  const prefix = uniquePrefix();
  const smtp = await startSmtpSink();
  const env = {
    KEYWARD_DATA_DIR: dataDir,
    KEYWARD_SERVICE_PORT: "0",
    KEYWARD_CONNECT_PORT: "0",
    KEYWARD_GATEWAY_PORT: "0",
    KEYWARD_USAGE_FLUSH_MS: "50",
    REDIS_URL: redisUrl,
    SMTP_URL: smtp.url,
    KEYWARD_MAIL_FROM: "Keyward <keyward@example.com>",
    LOG_LEVEL: "silent",
    ...options.env,
  };
  // The gateway binds port 0 and the configs take the port it got: a port
  // picked free beforehand can be taken by another socket before it listens.
  let config: Config = { ...loadConfig(env), KEYWARD_QUEUE_PREFIX: prefix };
  let workerConfig: Config = options.workerEnv
    ? { ...loadConfig({ ...env, ...options.workerEnv }), KEYWARD_QUEUE_PREFIX: prefix }
    : config;
  const logger = options.logger ?? pino({ level: "silent" });
  const clock = {
    now: Date.now(),
    advance(ms: number) {
      clock.now += ms;
    },
  };
  const service = await startService(config, { logger, clock: () => clock.now });
  const serviceUrl = `http://127.0.0.1:${service.connectPort}`;
  let gateway: RunningGateway;
  try {
    gateway = await startGateway(config, { logger, serviceToken: service.serviceToken, serviceUrl });
  } catch (error) {
    await service.close();
    await smtp.close();
    if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  config = { ...config, KEYWARD_GATEWAY_PORT: gateway.port };
  workerConfig = { ...workerConfig, KEYWARD_GATEWAY_PORT: gateway.port };
  const running: RunningWorkers[] = [];
  const direct = createServiceClient({ baseUrl: serviceUrl, serviceToken: service.serviceToken });
  const url = `http://127.0.0.1:${gateway.port}`;

  const stack: Stack = {
    config,
    dataDir,
    exportsDir: join(dataDir, "exports"),
    prefix,
    url,
    serviceUrl,
    serviceToken: service.serviceToken,
    service,
    direct: direct.client,
    workers: undefined,
    sweepNow() {
      if (!stack.workers) throw new Error("the workers are not running");
      return stack.workers.sweepNow();
    },
    smtp,
    clock,
    adminToken: "",
    memberToken: "",
    async trpc(path, input, token = stack.adminToken, method = "POST") {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (token) headers.authorization = `Bearer ${token}`;
      const res =
        method === "POST"
          ? await fetch(`${url}/trpc/${path}`, { method, headers, body: JSON.stringify(input) })
          : await fetch(`${url}/trpc/${path}?input=${encodeURIComponent(JSON.stringify(input))}`, { headers });
      return { status: res.status, body: (await res.json()) as TrpcBody };
    },
    async download(link, token = stack.adminToken) {
      const res = await fetch(link, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      return { status: res.status, text: await res.text(), headers: res.headers };
    },
    async seedKeys(count, fields) {
      // In-process: a Connect call costs ~15 ms here, the domain call well under one.
      const ids: string[] = [];
      for (let i = 0; i < count; i++) {
        const { key } = await service.keys.create(
          { name: fields.name?.(i) ?? `key ${i}`, subject: fields.subject, scopes: fields.scopes ?? [] },
          { name: "seed", keyId: null },
        );
        ids.push(key.record.id);
      }
      return ids;
    },
    async startWorkers(overrides = {}) {
      const workers = await startWorkers(workerConfig, {
        logger,
        serviceToken: service.serviceToken,
        serviceUrl,
        exportBackoffMs: 200,
        scheduleSweeps: false,
        ...options.workerOptions,
        ...overrides,
      });
      running.push(workers);
      stack.workers = workers;
      return workers;
    },
    async close() {
      for (const w of running) await w.close();
      await gateway.close();
      direct.close();
      await service.close();
      await smtp.close();
      await dropPrefix(redisUrl, prefix);
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };

  try {
    const admin = await direct.client.createKey(
      { name: "Admin", scopes: [ADMIN_SCOPE], claims: { email: "admin@example.com" } },
      asActor("harness"),
    );
    const member = await direct.client.createKey(
      { name: "Member", scopes: [MEMBER_SCOPE], claims: { email: "member@example.com" } },
      asActor("harness"),
    );
    stack.adminToken = admin.token;
    stack.memberToken = member.token;
    if (options.workers !== false) await stack.startWorkers();
  } catch (error) {
    await stack.close();
    throw error;
  }
  return stack;
}

export { eventually };

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * An HTTP proxy in front of the key service that can refuse calls (503) or
 * hold them until released: a service that fails once, or a job caught
 * mid-export while Redis is stopped.
 */
export interface ServiceProxy {
  url: string;
  /** Calls per RPC name seen so far, e.g. calls.StreamExportRows. */
  calls: Record<string, number>;
  close(): Promise<void>;
}

export async function startServiceProxy(
  target: string,
  policy: {
    /** Answer 503 without asking the service. */
    refuse?: (rpc: string, nth: number) => boolean;
    /** Forward the answer's first N bytes, then cut the connection: a stream that breaks midway. */
    cutAfterBytes?: (rpc: string, nth: number) => number | undefined;
    /** Wait for this before forwarding. */
    hold?: (rpc: string, nth: number) => Promise<void> | undefined;
  },
): Promise<ServiceProxy> {
  const calls: Record<string, number> = {};
  const targetUrl = new URL(target);
  const server: Server = createServer((req, res) => {
    const rpc = (req.url ?? "").split("/").pop()?.split("?")[0] ?? "";
    const nth = (calls[rpc] ?? 0) + 1;
    calls[rpc] = nth;
    if (policy.refuse?.(rpc, nth)) {
      req.resume();
      res.writeHead(503, { "content-type": "application/json" });
      res.end(JSON.stringify({ code: "unavailable", message: "the test proxy refuses this call" }));
      return;
    }
    void Promise.resolve(policy.hold?.(rpc, nth)).then(() => {
      const upstream = httpRequest(
        { host: targetUrl.hostname, port: targetUrl.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          const cut = policy.cutAfterBytes?.(rpc, nth);
          if (cut === undefined) {
            answer.pipe(res);
            return;
          }
          let sent = 0;
          answer.on("data", (chunk: Buffer) => {
            if (sent >= cut) return;
            const part = chunk.subarray(0, cut - sent);
            sent += part.length;
            res.write(part);
            if (sent >= cut) {
              answer.destroy();
              res.destroy();
            }
          });
          answer.on("end", () => res.end());
        },
      );
      upstream.on("error", () => res.destroy());
      req.pipe(upstream);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A redis-server of the test's own, so that stopping it leaves the shared one
 * alone. No persistence of its own (--save ""), but SAVE on demand writes
 * dump.rdb into its dir, which a restart loads: a crash after the last save.
 */
export interface OwnRedis {
  url: string;
  start(): Promise<void>;
  /** SAVE, then SIGKILL: Redis dies with its queue on disk. */
  crash(): Promise<void>;
  stop(): Promise<void>;
}

export async function ownRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(scratchRoot(), "keyward-redis-"));
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const exited = () =>
    new Promise<void>((resolve) => {
      if (!child || child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once("exit", () => resolve());
    });
  return {
    url,
    async start() {
      child = spawn(
        "redis-server",
        [
          "--port",
          String(port),
          "--bind",
          "127.0.0.1",
          "--save",
          "",
          "--appendonly",
          "no",
          "--dir",
          dir,
          "--dbfilename",
          "dump.rdb",
        ],
        { stdio: "ignore" },
      );
      const started = child;
      // A test that times out never reaches stop(): the server must not outlive the test process.
      const killOnExit = () => started.kill("SIGKILL");
      process.once("exit", killOnExit);
      started.once("exit", () => process.off("exit", killOnExit));
      await new Promise<void>((resolve, reject) => {
        started.once("spawn", () => resolve());
        started.once("error", (error) =>
          reject(new Error(`redis-server could not start (${error.message}); the outage tests need it installed`)),
        );
      });
      await eventually(() => requireRedis(url), 10_000);
    },
    async crash() {
      const redis = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
      redis.on("error", () => undefined);
      await redis.save();
      redis.disconnect();
      child?.kill("SIGKILL");
      await exited();
    },
    async stop() {
      child?.kill("SIGKILL");
      await exited();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- workers in a process of their own

/** The workers in a child process, so that a test can kill -9 them mid-job. */
export interface ChildWorkers {
  /** SIGKILL: no close, no cleanup; resolves once the process is gone. */
  kill(): Promise<void>;
  /** Everything the process logged (pino JSON on stderr). */
  log(): string;
}

/** The stall timings of test workers: a dead worker's job is noticed within about 2 s, not a minute. */
// Short enough for tests, long enough that a loaded machine does not count a slow but live worker as stalled.
export const TEST_STALL_DETECTION = { lockDurationMs: 3_000, stalledIntervalMs: 1_000 };

export async function startChildWorkers(
  stack: Stack,
  serviceUrl: string = stack.serviceUrl,
  env: Record<string, string> = {},
): Promise<ChildWorkers> {
  const entry = fileURLToPath(new URL("../../support/workers-process.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    env: {
      ...process.env,
      KEYWARD_DATA_DIR: stack.dataDir,
      KEYWARD_GATEWAY_PORT: String(stack.config.KEYWARD_GATEWAY_PORT),
      KEYWARD_SERVICE_URL: serviceUrl,
      KEYWARD_SERVICE_TOKEN: stack.serviceToken,
      KEYWARD_QUEUE_PREFIX: stack.prefix,
      REDIS_URL: stack.config.REDIS_URL,
      SMTP_URL: stack.config.SMTP_URL ?? "",
      KEYWARD_MAIL_FROM: stack.config.KEYWARD_MAIL_FROM,
      LOG_LEVEL: "info",
      KEYWARD_TEST_STALL_MS: `${TEST_STALL_DETECTION.lockDurationMs},${TEST_STALL_DETECTION.stalledIntervalMs}`,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  // A test that fails midway never reaches kill(): the workers must not outlive the test process.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  let log = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    log += chunk.toString("utf8");
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  void exited.then(() => process.off("exit", killOnExit));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString("utf8").includes("workers started")) resolve();
    });
    void exited.then(() => reject(new Error(`the workers process exited before starting:\n${log}`)));
  });
  return {
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
    log: () => log,
  };
}

export { freePort };
