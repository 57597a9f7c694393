import { createHash, createPublicKey, type KeyObject, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { Code, ConnectError } from "@connectrpc/connect";
import rateLimit from "@fastify/rate-limit";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { LeakAction } from "../gen/keyward/v1/webhook_pb.js";
import { asActor, type KeyServiceClient } from "../shared/contract/service-client.js";
import type { Logger } from "../shared/logger.js";
import { errorAnswer } from "./errors.js";

/**
 * POST /leaks: GitHub's secret-scanning partner program (and anyone speaking
 * its format) reports tokens found in public. The body is
 * `[{token, type, url, source}]`; the answer is `[{token_hash, token_type,
 * label}]`, `token_hash` the hex SHA-256 of each token as sent and `label`
 * "true_positive" for a live Keyward key (now revoked or disabled) and
 * "false_positive" for anything else. Public (no sign-in), rate limited per
 * address, and signed: with KEYWARD_LEAK_PUBLIC_KEYS set, a report must carry
 * `Github-Public-Key-Identifier` and `Github-Public-Key-Signature` (ECDSA
 * P-256 with SHA-256 over the raw body) from one of those keys.
 */
export const LEAKS_ROUTE = "/leaks";
const MAX_REPORTS = 1000;
/** Reports asked of the service at once. */
const PARALLEL = 8;

export interface LeakKeys {
  /** Keys by GitHub's key_identifier. */
  byId: Map<string, KeyObject>;
  /** PEM keys given without an identifier: any of them may sign. */
  anonymous: KeyObject[];
}

/**
 * KEYWARD_LEAK_PUBLIC_KEYS: one or more PEM public keys, or the JSON document
 * GitHub publishes (https://api.github.com/meta/public_keys/secret_scanning:
 * `{"public_keys":[{"key_identifier","key"}]}`); `@/path` reads either from a
 * file. Every key must be ECDSA on P-256. Throws naming the variable.
 */
export function parseLeakKeys(setting: string | undefined): LeakKeys | undefined {
  if (setting === undefined || setting.trim() === "") return undefined;
  const fail = (why: string) => new Error(`KEYWARD_LEAK_PUBLIC_KEYS: ${why}`);
  let text = setting.trim();
  if (text.startsWith("@")) {
    try {
      text = readFileSync(text.slice(1), "utf8").trim();
    } catch (error) {
      throw fail(`cannot read ${text.slice(1)} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
    }
  }
  const keys: LeakKeys = { byId: new Map(), anonymous: [] };
  const load = (pem: string, where: string): KeyObject => {
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch {
      throw fail(`${where} is not a PEM public key`);
    }
    if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
      throw fail(`${where} is not an ECDSA P-256 key`);
    }
    return key;
  };
  if (text.startsWith("{")) {
    let document: { public_keys?: Array<{ key_identifier?: unknown; key?: unknown }> };
    try {
      document = JSON.parse(text) as typeof document;
    } catch {
      throw fail("is neither PEM nor JSON");
    }
    for (const [i, entry] of (document.public_keys ?? []).entries()) {
      if (typeof entry.key_identifier !== "string" || typeof entry.key !== "string") {
        throw fail(`public_keys[${i}] needs key_identifier and key`);
      }
      keys.byId.set(entry.key_identifier, load(entry.key, `public_keys[${i}]`));
    }
  } else {
    // An environment variable may carry the PEM's line breaks as \n.
    const blocks =
      text.replaceAll("\\n", "\n").match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? [];
    blocks.forEach((pem, i) => {
      keys.anonymous.push(load(pem, `key ${i + 1}`));
    });
  }
  if (keys.byId.size + keys.anonymous.length === 0) throw fail("holds no public key");
  return keys;
}

/** Whether the raw body carries a valid signature from one of the keys. */
export function verifyLeakSignature(keys: LeakKeys, body: string, identifier: string, signature: string): boolean {
  if (!/^[A-Za-z0-9+/=]{16,512}$/.test(signature)) return false;
  const bytes = Buffer.from(signature, "base64");
  const candidates = keys.byId.get(identifier);
  const tried = candidates ? [candidates] : keys.anonymous;
  return tried.some((key) => {
    try {
      return verify("sha256", Buffer.from(body, "utf8"), key, bytes);
    } catch {
      return false;
    }
  });
}

interface Report {
  token: string;
  type: string;
  url: string;
  source: string;
}

/** What the service may record of a field someone outside wrote: no control characters, bounded. */
function clean(value: unknown, max: number): string {
  return typeof value === "string"
    ? value
        .replace(/\p{Cc}/gu, "")
        .trim()
        .slice(0, max)
    : "";
}

function parseReports(body: string): Report[] | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return "the body must be a JSON array of {token, type, url, source}";
  }
  if (!Array.isArray(parsed)) return "the body must be a JSON array of {token, type, url, source}";
  if (parsed.length > MAX_REPORTS) return `at most ${MAX_REPORTS} reports per request`;
  const reports: Report[] = [];
  for (const [i, item] of parsed.entries()) {
    if (item === null || typeof item !== "object" || typeof (item as { token?: unknown }).token !== "string") {
      return `[${i}].token: must be a string`;
    }
    const entry = item as Record<string, unknown>;
    reports.push({
      token: entry.token as string,
      type: typeof entry.type === "string" ? entry.type.slice(0, 200) : "",
      url: clean(entry.url, 2048),
      source: clean(entry.source, 100),
    });
  }
  return reports;
}

export interface LeakReportOptions {
  service: KeyServiceClient;
  logger: Logger;
  keys: LeakKeys | undefined;
  action: "revoke" | "disable";
  /** Requests per client address per minute. */
  perMinute: number;
}

export async function registerLeakReports(app: FastifyInstance, options: LeakReportOptions): Promise<void> {
  const { service, logger, keys } = options;
  await app.register(rateLimit, {
    global: false,
    // Per client address: the socket's, or a trusted proxy's X-Forwarded-For (KEYWARD_TRUST_PROXY);
    // an untrusted caller's header is never believed.
    keyGenerator: (request) => request.ip,
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      ...errorAnswer(
        429,
        "TOO_MANY_REQUESTS",
        `too many leak reports: at most ${context.max} a minute from one address`,
      ),
    }),
  });
  const actor = asActor("secret-scanning");
  const action = options.action === "disable" ? LeakAction.DISABLE : LeakAction.REVOKE;

  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const body = typeof request.body === "string" ? request.body : "";
    if (keys !== undefined) {
      const identifier = request.headers["github-public-key-identifier"];
      const signature = request.headers["github-public-key-signature"];
      if (typeof identifier !== "string" || typeof signature !== "string") {
        return reply
          .code(401)
          .send(
            errorAnswer(401, "UNAUTHORIZED", "missing Github-Public-Key-Identifier or Github-Public-Key-Signature"),
          );
      }
      if (!verifyLeakSignature(keys, body, identifier, signature)) {
        logger.warn("leak report refused: its signature does not verify");
        return reply.code(401).send(errorAnswer(401, "UNAUTHORIZED", "the signature does not verify"));
      }
    }
    const reports = parseReports(body);
    if (typeof reports === "string") return reply.code(400).send(errorAnswer(400, "BAD_REQUEST", reports));
    const answers = new Array<{ token_hash: string; token_type: string; label: string }>(reports.length);
    let stopped = 0;
    try {
      await answerAll();
    } catch (error) {
      // GitHub sends the report again after a 5xx: say that it is worth it.
      const unavailable =
        error instanceof ConnectError && (error.code === Code.Unavailable || error.code === Code.DeadlineExceeded);
      logger.error({ reason: error instanceof ConnectError ? error.rawMessage : String(error) }, "leak report failed");
      return reply
        .code(unavailable ? 503 : 500)
        .send(
          errorAnswer(
            unavailable ? 503 : 500,
            unavailable ? "SERVICE_UNAVAILABLE" : "INTERNAL_SERVER_ERROR",
            "the report could not be handled; send it again later",
          ),
        );
    }
    // Counts only: never a token, a hash or a key id.
    logger.info({ reports: reports.length, stopped }, "leak report handled");
    return reply.code(200).send(answers);

    async function answerAll(): Promise<void> {
      if (typeof reports === "string") return;
      for (let start = 0; start < reports.length; start += PARALLEL) {
        await Promise.all(
          reports.slice(start, start + PARALLEL).map(async (report, offset) => {
            const live = await isLiveKey(service, report, action, actor);
            if (live) stopped++;
            answers[start + offset] = {
              token_hash: createHash("sha256").update(report.token, "utf8").digest("hex"),
              token_type: report.type,
              label: live ? "true_positive" : "false_positive",
            };
          }),
        );
      }
    }
  };

  app.post(LEAKS_ROUTE, { config: { rateLimit: { max: options.perMinute, timeWindow: 60_000 } } }, handler);
}

async function isLiveKey(
  service: KeyServiceClient,
  report: Report,
  action: LeakAction,
  actor: ReturnType<typeof asActor>,
): Promise<boolean> {
  // Nothing that could be a token is worth a call (and NUL or a huge string would be refused as input).
  if (report.token.length > 100 || /\p{Cc}/u.test(report.token)) return false;
  const response = await service.reportLeak(
    {
      token: report.token,
      url: report.url || "(no location given)",
      source: `GitHub secret scanning${report.source ? ` (${report.source})` : ""}`,
      action,
    },
    actor,
  );
  return response.truePositive;
}
