/**
 * Fuzz of the gateway: every tRPC procedure of appRouter (found by walking
 * the router, so a new one is fuzzed too) gets inputs built from its own zod
 * schema, then mutated as JSON and as text, as queries and mutations, single
 * and batched, with admin, member and no credentials. Every answer must be a
 * result or a well-formed tRPC error other than INTERNAL_SERVER_ERROR (no 5xx
 * at all: a 503 would mean the service hung), and both processes must stay up
 * with bounded RSS.
 */
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { type Config, loadConfig } from "../../../src/config.js";
import { appRouter } from "../../../src/gateway/routers/_app.js";
import { type RunningGateway, startGateway } from "../../../src/gateway/server.js";
import { ADMIN_SCOPE, MEMBER_SCOPE } from "../../../src/shared/contract/scopes.js";
import { dropPrefix, SHARED_REDIS_URL } from "../../integration/workers/harness.js";
import { describeFailures, type FuzzService, rssBound, runCampaign, startFuzzService, summary } from "./campaign.js";
import { fuzzCases, fuzzSeed, type JsonSchema, type Random, trpcInputBody } from "./generators.js";

const seed = fuzzSeed();
const cases = fuzzCases(0.3, 700);

interface Procedure {
  path: string;
  type: "query" | "mutation";
  schema: JsonSchema | undefined;
}

/** Every procedure of the router, with its input's JSON Schema. */
function procedures(): Procedure[] {
  const record = (
    appRouter._def as unknown as { procedures: Record<string, { _def: { type: string; inputs: unknown[] } }> }
  ).procedures;
  return Object.entries(record).map(([path, procedure]) => {
    const input = procedure._def.inputs[0] as z.ZodType | undefined;
    return {
      path,
      type: procedure._def.type === "mutation" ? "mutation" : "query",
      schema:
        input === undefined
          ? undefined
          : (z.toJSONSchema(input, { io: "input", unrepresentable: "any" }) as unknown as JsonSchema),
    };
  });
}

let s: FuzzService;
let gateway: RunningGateway;
let url: string;
let adminToken: string;
let memberToken: string;
const prefix = `kwfuzz-${randomBytes(4).toString("hex")}`;
const logLines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  s = await startFuzzService();
  const admin = await s.admin.unary("createKey", {
    name: "fuzz admin",
    scopes: [ADMIN_SCOPE],
    claims: { email: "fuzz-admin@example.com" },
  });
  const member = await s.admin.unary("createKey", {
    name: "fuzz member",
    scopes: [MEMBER_SCOPE],
    claims: { email: "fuzz-member@example.com" },
  });
  adminToken = admin.token;
  memberToken = member.token;
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n")) if (line.trim()) logLines.push(JSON.parse(line));
      done();
    },
  });
  const config = {
    ...loadConfig({
      KEYWARD_DATA_DIR: s.dataDir,
      KEYWARD_GATEWAY_PORT: "0",
      REDIS_URL: SHARED_REDIS_URL,
      LOG_LEVEL: "warn",
    }),
    // Exports above 1,000 rows would go to this queue; the fuzz makes none, and the prefix is dropped after.
    KEYWARD_QUEUE_PREFIX: prefix,
  } as Config;
  gateway = await startGateway(config, {
    logger: pino({ level: "warn" }, sink),
    serviceToken: s.serviceToken,
    serviceUrl: s.connectUrl,
  });
  url = `http://127.0.0.1:${gateway.port}`;
});

afterAll(async () => {
  await gateway?.close();
  await s?.stop();
  await dropPrefix(SHARED_REDIS_URL, prefix);
});

/** Percent-encodes bytes as they are, invalid UTF-8 included. */
function percentEncode(body: string | Uint8Array): string {
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body);
  let out = "";
  for (const byte of bytes) out += `%${byte.toString(16).padStart(2, "0")}`;
  return out;
}

interface TrpcCase {
  procedure: Procedure;
  method: "GET" | "POST";
  batchWith?: Procedure;
  authorization?: string;
  extra: Record<string, string>;
}

/** Now and then an odd header: another content type, or tRPC's streaming (JSON Lines) answers. */
function oddHeaders(rng: Random): Record<string, string> {
  if (rng.chance(0.85)) return {};
  return rng.pick<Record<string, string>>([
    { "content-type": "text/plain" },
    { "content-type": "application/x-www-form-urlencoded" },
    { "content-type": "application/json; charset=utf-16" },
    { "content-type": "multipart/form-data; boundary=x" },
    { "content-type": "application/octet-stream" },
    { "trpc-accept": "application/jsonl" },
    { "content-encoding": "gzip" },
  ]);
}

function credential(rng: Random): string | undefined {
  const roll = rng.next();
  if (roll < 0.8) return `Bearer ${adminToken}`;
  if (roll < 0.9) return `Bearer ${memberToken}`;
  if (roll < 0.95) return undefined;
  return rng.pick([`Bearer ${adminToken}x`, "Bearer", `Basic ${adminToken}`, `Bearer ${"a".repeat(5000)}`]);
}

const ACCEPTED_STATUS = (status: number) => status >= 200 && status < 500;

/** An error item of a tRPC answer is well formed and not INTERNAL_SERVER_ERROR. */
function itemVerdict(item: unknown): { ok: boolean; outcome: string; detail?: string } {
  const error = (item as { error?: { message?: unknown; data?: { code?: unknown; httpStatus?: unknown } } }).error;
  if (error === undefined) return { ok: (item as { result?: unknown }).result !== undefined, outcome: "OK" };
  const code = typeof error.data?.code === "string" ? error.data.code : "no code";
  const status = typeof error.data?.httpStatus === "number" ? error.data.httpStatus : 0;
  const ok = code !== "INTERNAL_SERVER_ERROR" && ACCEPTED_STATUS(status) && typeof error.message === "string";
  return { ok, outcome: code, detail: ok ? undefined : JSON.stringify(error).slice(0, 400) };
}

async function sendTrpc(c: TrpcCase & { body: string | Uint8Array }) {
  const paths = c.batchWith ? `${c.procedure.path},${c.batchWith.path}` : c.procedure.path;
  const headers: Record<string, string> = { "content-type": "application/json", ...c.extra };
  if (c.authorization !== undefined) headers.authorization = c.authorization;
  let target = `${url}/trpc/${paths}`;
  let body: string | Uint8Array | undefined;
  if (c.batchWith) {
    const text = typeof c.body === "string" ? c.body : Buffer.from(c.body).toString("latin1");
    const batch = `{"0":${text},"1":{}}`;
    if (c.method === "GET") target += `?batch=1&input=${percentEncode(batch)}`;
    else {
      target += "?batch=1";
      body = batch;
    }
  } else if (c.method === "GET") target += `?input=${percentEncode(c.body)}`;
  else body = c.body;
  const res = await fetch(target, { method: c.method, headers, body, signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  if (c.extra["trpc-accept"] === "application/jsonl" && res.status === 200) return jsonLinesVerdict(text);
  // Node's HTTP parser refuses an input too long for a URL (16 KiB of headers) before the gateway sees it.
  if (res.status === 431 && c.method === "GET") return { ok: true, outcome: "HTTP 431" };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, outcome: `HTTP ${res.status}, not JSON`, detail: text.slice(0, 200) };
  }
  if (!ACCEPTED_STATUS(res.status)) return { ok: false, outcome: `HTTP ${res.status}`, detail: text.slice(0, 400) };
  const items = Array.isArray(parsed) ? parsed : [parsed];
  const verdicts = items.map(itemVerdict);
  const bad = verdicts.find((v) => !v.ok);
  return bad ?? { ok: true, outcome: verdicts.map((v) => v.outcome).join("+") };
}

/** tRPC's streamed answer: one JSON value per line; an error anywhere in it must not be INTERNAL_SERVER_ERROR. */
function jsonLinesVerdict(text: string) {
  if (text.includes("INTERNAL_SERVER_ERROR"))
    return { ok: false, outcome: "INTERNAL_SERVER_ERROR (streamed)", detail: text.slice(0, 400) };
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      JSON.parse(line);
    } catch {
      return { ok: false, outcome: "streamed line not JSON", detail: line.slice(0, 200) };
    }
  }
  return { ok: true, outcome: "OK (streamed)" };
}

describe("fuzz: the gateway's tRPC procedures", () => {
  it(
    `answers every mutated input of every procedure without INTERNAL_SERVER_ERROR (seed ${seed})`,
    async () => {
      const all = procedures();
      expect(all.length).toBeGreaterThan(5);
      // The gateway runs in this process.
      const gatewayRssBefore = process.memoryUsage().rss / 2 ** 20;
      const result = await runCampaign({
        name: "trpc",
        seed,
        cases,
        concurrency: 6,
        batch: 150,
        make(rng) {
          const procedure = rng.pick(all);
          const generated = trpcInputBody(rng, procedure.schema, s.pools);
          const right: TrpcCase["method"] = procedure.type === "query" ? "GET" : "POST";
          const method: TrpcCase["method"] = rng.chance(0.9) ? right : right === "GET" ? "POST" : "GET";
          const batchWith = rng.chance(0.05) ? rng.pick(all) : undefined;
          return {
            ...generated,
            target: procedure.path,
            procedure,
            method,
            batchWith,
            authorization: credential(rng),
            extra: oddHeaders(rng),
          };
        },
        send: sendTrpc,
        async healthy() {
          expect(await s.admin.health()).toBe("SERVING");
          const res = await fetch(`${url}/healthz`);
          expect(res.status).toBe(200);
          const me = await fetch(`${url}/trpc/me`, { headers: { authorization: `Bearer ${adminToken}` } });
          expect(me.status).toBe(200);
        },
        rssMiB: s.rssMiB,
      });
      console.log(summary("trpc", seed, cases, result));
      const gatewayErrors = logLines.filter((line) => Number(line.level) >= 50).map((line) => JSON.stringify(line));
      expect(result.failures, describeFailures(seed, result, [...gatewayErrors, ...s.errorLines()])).toEqual([]);
      expect(gatewayErrors, "the gateway logged errors").toEqual([]);
      expect(s.errorLines(), "the service logged errors").toEqual([]);
      expect(result.rss.peak).toBeLessThan(rssBound(result.rss.baseline));
      expect(process.memoryUsage().rss / 2 ** 20).toBeLessThan(rssBound(gatewayRssBefore));
      const reached = new Set([...result.outcomes.keys()].map((label) => label.split(" ")[0]));
      expect([...reached].sort()).toEqual(all.map((p) => p.path).sort());
    },
    Math.max(60_000, cases * 100),
  );
});
