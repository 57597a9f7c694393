/**
 * What the fuzz test files share: the service under test in its own process
 * (so that a crash is seen as one), pools of its real ids and tokens, the
 * campaign loop with its batches, health checks and RSS readings, and the
 * failure report with the replay command.
 */

import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { ClientHttp2Session } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveServiceToken } from "../../../src/shared/service-token.js";
import { type ChildService, startChildService, stopChildService } from "../../support/child-service.js";
import { createKeyServiceGrpcClient, type KeyServiceGrpcClient } from "../../support/grpc-client.js";
import { caseRandom, type Pools, preview, type Random } from "./generators.js";

/** Fuzzed servers write a lot and test no durability: tmpfs when there is one. */
function scratchRoot(): string {
  try {
    accessSync("/dev/shm", constants.W_OK);
    return "/dev/shm";
  } catch {
    return tmpdir();
  }
}

export interface FuzzService {
  child: ChildService;
  dataDir: string;
  serviceToken: string;
  grpcAddress: string;
  connectUrl: string;
  /** grpc-js with the service credential. */
  admin: KeyServiceGrpcClient;
  pools: Pools;
  /** A key outside the pools (no case touches it), for health checks. */
  healthToken: string;
  /** The service process's resident set, in MiB. */
  rssMiB(): number;
  /** Lines of the service's log at level error or above (an INTERNAL answer logs one). */
  errorLines(): string[];
  stop(): Promise<void>;
}

export function rssMiBOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
}

/** The service in a child process over a fresh data dir, with a few keys of every kind to aim at. */
export async function startFuzzService(env: Record<string, string> = {}): Promise<FuzzService> {
  const dataDir = mkdtempSync(join(scratchRoot(), "keyward-fuzz-"));
  const child = await startChildService(dataDir, { LOG_LEVEL: "warn", ...env });
  const serviceToken = resolveServiceToken({ dataDir });
  const grpcAddress = `127.0.0.1:${child.grpcPort}`;
  const admin = createKeyServiceGrpcClient(grpcAddress, { token: serviceToken, actor: "fuzz@example.com" });
  const pools: Pools = { ids: [], tokens: [] };
  const seeds = [
    { name: "plain" },
    { name: "sending", permission: 2, domainId: "example.com", subject: "user_1", scopes: ["read:users", "write:*"] },
    { name: "claims", claims: { email: "a@example.com", tier: 3, nested: { list: [1, "two", null] } } },
    { name: "cidrs", allowedCidrs: ["10.0.0.0/8", "::1/128"] },
    { name: "limited", ratelimits: [{ name: "burst", limit: 5, durationSeconds: 60 }], remaining: 100n },
    { name: "expiring", expiresInSeconds: 3600 },
    { name: "disabled", enabled: false },
  ];
  for (const init of seeds) {
    const { key, token } = await admin.unary("createKey", init);
    pools.ids.push(key?.id ?? "");
    pools.tokens.push(token);
  }
  const revoked = await admin.unary("createKey", { name: "revoked" });
  await admin.unary("deleteKey", { id: revoked.key?.id, reason: "fuzz" });
  pools.ids.push(revoked.key?.id ?? "");
  pools.tokens.push(revoked.token);
  const health = await admin.unary("createKey", { name: "health check" });
  const exported = await admin.unary("createExport", { resource: 1 });
  pools.ids.push(exported.export?.id ?? "");
  const pid = child.child.pid as number;
  return {
    child,
    dataDir,
    serviceToken,
    grpcAddress,
    connectUrl: `http://127.0.0.1:${child.connectPort}`,
    admin,
    pools,
    healthToken: health.token,
    rssMiB: () => rssMiBOf(pid),
    errorLines: () =>
      child
        .log()
        .split("\n")
        .filter((line) => /"level":(50|60)/.test(line)),
    async stop() {
      admin.close();
      await stopChildService(child, 5000);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The outcome of one case: whether it is acceptable, and a short label to count (e.g. "INVALID_ARGUMENT"). */
export interface Verdict {
  ok: boolean;
  outcome: string;
  detail?: string;
}

export interface Failure {
  campaign: string;
  index: number;
  target: string;
  kind: string;
  body: string;
  outcome: string;
  detail?: string;
}

export interface CampaignOptions<C> {
  name: string;
  seed: number;
  cases: number;
  /** Cases in flight at once. */
  concurrency: number;
  /** A health check (and an RSS reading) after every this many cases. */
  batch: number;
  make(rng: Random, index: number): C & { target: string; kind: string; body: string | Uint8Array };
  send(c: C & { target: string; kind: string; body: string | Uint8Array }): Promise<Verdict>;
  /** Throws when the server is not healthy. */
  healthy(): Promise<void>;
  rssMiB(): number;
}

export interface CampaignResult {
  failures: Failure[];
  /** How many cases ended how, e.g. {"CreateKey INVALID_ARGUMENT": 120}. */
  outcomes: Map<string, number>;
  rss: { baseline: number; peak: number; last: number };
  ms: number;
}

/** Runs `cases` cases, `concurrency` at a time, checking health and RSS between batches. */
export async function runCampaign<C>(options: CampaignOptions<C>): Promise<CampaignResult> {
  const started = performance.now();
  const failures: Failure[] = [];
  const outcomes = new Map<string, number>();
  const baseline = options.rssMiB();
  let peak = baseline;
  let last = baseline;
  for (let from = 0; from < options.cases; from += options.batch) {
    const to = Math.min(options.cases, from + options.batch);
    let next = from;
    const lane = async () => {
      while (next < to) {
        const index = next++;
        const c = options.make(caseRandom(options.seed, options.name, index), index);
        let verdict: Verdict;
        try {
          verdict = await options.send(c);
        } catch (error) {
          verdict = { ok: false, outcome: "client error", detail: String(error) };
        }
        const label = `${c.target} ${verdict.outcome}`;
        outcomes.set(label, (outcomes.get(label) ?? 0) + 1);
        if (!verdict.ok && failures.length < 50) {
          failures.push({
            campaign: options.name,
            index,
            target: c.target,
            kind: c.kind,
            body: preview(c.body),
            outcome: verdict.outcome,
            detail: verdict.detail,
          });
        }
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, lane));
    try {
      await options.healthy();
    } catch (error) {
      failures.push({
        campaign: options.name,
        index: to - 1,
        target: "health",
        kind: "health check after a batch",
        body: "",
        outcome: "unhealthy",
        detail: String(error),
      });
      break;
    }
    last = options.rssMiB();
    peak = Math.max(peak, last);
  }
  return { failures, outcomes, rss: { baseline, peak, last }, ms: performance.now() - started };
}

/** RSS may grow with caches and SQLite pages, not with the number of cases. */
export function rssBound(baseline: number): number {
  return Math.max(2 * baseline, baseline + 256);
}

/** The failures, each with what replays it. */
export function describeFailures(seed: number, result: CampaignResult, serviceErrors: string[] = []): string {
  const lines = result.failures.map(
    (f) =>
      `  [${f.campaign} #${f.index}] ${f.target} (${f.kind}) -> ${f.outcome}${f.detail ? `: ${f.detail.slice(0, 300)}` : ""}\n    body ${f.body}`,
  );
  const log = serviceErrors.slice(0, 5).map((line) => `  service log: ${line.slice(0, 600)}`);
  const cases = process.env.FUZZ_CASES;
  const replay =
    cases === undefined || cases === ""
      ? `FUZZ_SEED=${seed} npx vitest run test/reliability/fuzz`
      : `npm run fuzz -- --seed ${seed} --cases ${cases}`;
  return [`${result.failures.length} fuzz failure(s); replay with: ${replay}`, ...lines, ...log].join("\n");
}

/** One line for the test output: seed, case count, time, RSS; with FUZZ_VERBOSE=1, how the cases ended too. */
export function summary(name: string, seed: number, cases: number, result: CampaignResult): string {
  const { baseline, peak } = result.rss;
  const line = `fuzz ${name}: seed ${seed}, ${cases} cases in ${(result.ms / 1000).toFixed(1)} s, RSS ${baseline.toFixed(0)} -> peak ${peak.toFixed(0)} MiB`;
  if (!process.env.FUZZ_VERBOSE) return line;
  const table = [...result.outcomes]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([label, n]) => `  ${String(n).padStart(6)} ${label}`);
  return [line, ...table].join("\n");
}

/** What a gRPC call sent over raw HTTP/2 got: its grpc-status and message, or what broke instead. */
export interface RawGrpcAnswer {
  status?: number;
  message?: string;
  /** A stream reset or session error instead of a status. */
  error?: string;
}

/**
 * One gRPC call over plain HTTP/2, with the framing, compression flag and
 * headers exactly as given: what a grpc-js client will not send.
 */
export function rawGrpcCall(
  session: ClientHttp2Session,
  path: string,
  headers: Record<string, string>,
  frames: Uint8Array,
  timeoutMs = 15_000,
): Promise<RawGrpcAnswer> {
  return new Promise((resolve) => {
    const req = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
      ...headers,
    });
    let answer: RawGrpcAnswer = {};
    const fromHeaders = (h: Record<string, unknown>) => {
      if (h["grpc-status"] !== undefined) {
        answer = { status: Number(h["grpc-status"]), message: decodeURIComponent(String(h["grpc-message"] ?? "")) };
      }
    };
    const timer = setTimeout(() => req.close(), timeoutMs);
    req.on("response", fromHeaders);
    req.on("trailers", fromHeaders);
    req.on("data", () => undefined);
    req.on("close", () => {
      clearTimeout(timer);
      if (answer.status === undefined && answer.error === undefined)
        answer = { error: `closed with code ${req.rstCode}` };
      resolve(answer);
    });
    req.on("error", (error) => {
      answer = { error: error.message };
    });
    req.end(frames);
  });
}

/** gRPC's length-prefixed framing of one message: flag (1 = compressed), length, bytes. */
export function grpcFrame(message: Uint8Array, flags = 0, declaredLength = message.length): Uint8Array {
  const frame = Buffer.alloc(5 + message.length);
  frame[0] = flags;
  frame.writeUInt32BE(declaredLength >>> 0, 1);
  Buffer.from(message).copy(frame, 5);
  return frame;
}
