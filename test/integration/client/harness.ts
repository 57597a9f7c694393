import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Permission } from "../../../src/gen/keyward/v1/key_pb.js";
import { generateToken } from "../../../src/service/keys/token.js";
import { type ChildService, startChildService, stopChildService } from "../../support/child-service.js";
import { createKeyServiceGrpcClient, type KeyServiceGrpcClient, type RequestOf } from "../../support/grpc-client.js";

/** A Keyward service in its own process over a fresh data directory, with an admin client. */
export interface Keyward {
  child: ChildService;
  dataDir: string;
  /** `127.0.0.1:<grpc port>`. */
  target: string;
  serviceToken: string;
  admin: KeyServiceGrpcClient;
  createKey(request: RequestOf<"createKey">): Promise<{ id: string; token: string }>;
  stop(): Promise<void>;
}

export async function startKeyward(env: Record<string, string> = {}, dataDir?: string): Promise<Keyward> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), "keyward-client-"));
  const child = await startChildService(dir, { LOG_LEVEL: "warn", ...env });
  const serviceToken = readFileSync(join(dir, "service-token"), "utf8").trim();
  const target = `127.0.0.1:${child.grpcPort}`;
  const admin = createKeyServiceGrpcClient(target, { token: serviceToken, actor: "client-tests@example.com" });
  return {
    child,
    dataDir: dir,
    target,
    serviceToken,
    admin,
    async createKey(request) {
      const { key, token } = await admin.unary("createKey", request);
      return { id: key?.id ?? "", token };
    },
    async stop() {
      admin.close();
      await stopChildService(child);
      if (dataDir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One case of the verification matrix: a token, the route of the test apps
 * whose requirements it meets or misses, and what must come back.
 */
export interface Case {
  name: string;
  /** The Authorization header to send; undefined sends none. */
  authorization: string | undefined;
  route: Route;
  /** The `code` of the verification (or of the middleware's own refusal). */
  code: string;
  status: number;
  /** Whether the answer must carry Retry-After. */
  retryAfter?: boolean;
  /** Send this many requests first (they use up a rate limit). */
  warmUp?: number;
}

/** The routes every test app serves, and what each requires of a key. */
export const ROUTES = {
  "/open": {},
  "/full": { permission: "FULL_ACCESS" },
  "/domain": { domainId: "dom_b" },
  "/scoped": { scopes: ["admin:write"] },
} as const;
export type Route = keyof typeof ROUTES;

/** Creates a fresh key for every case (so rate limits and credits start full) and returns the cases. */
export async function createCases(k: Keyward): Promise<Case[]> {
  // First, so that it has expired by the time the others exist.
  const expiring = await k.createKey({ name: "Expiring", expiresInSeconds: 1 });
  const created = Date.now();
  const valid = await k.createKey({ name: "Valid", scopes: ["read:users"], subject: "user_1" });
  const local = await k.createKey({ name: "Loopback only", allowedCidrs: ["127.0.0.0/8", "::1/128"] });
  const revoked = await k.createKey({ name: "Revoked" });
  await k.admin.unary("deleteKey", { id: revoked.id, reason: "leaked" });
  const disabled = await k.createKey({ name: "Disabled" });
  await k.admin.unary("updateKey", { id: disabled.id, updateMask: { paths: ["enabled"] }, enabled: false });
  const elsewhere = await k.createKey({ name: "Elsewhere", allowedCidrs: ["10.0.0.0/8"] });
  const sending = await k.createKey({ name: "Sending", permission: Permission.SENDING_ACCESS });
  const domainA = await k.createKey({ name: "Domain A", permission: Permission.SENDING_ACCESS, domainId: "dom_a" });
  const reader = await k.createKey({ name: "Reader", scopes: ["read:users"] });
  const writer = await k.createKey({ name: "Writer", scopes: ["admin:*"] });
  const limited = await k.createKey({ name: "Limited", ratelimits: [{ name: "api", limit: 1, durationSeconds: 60 }] });
  const broke = await k.createKey({ name: "Broke", remaining: 0n });
  const wait = created + 1_200 - Date.now();
  if (wait > 0) await sleep(wait);
  const bearer = (token: string) => `Bearer ${token}`;
  // The last character changed (to another one: a token may end in either), so the checksum fails.
  const mistype = (token: string) => `${token.slice(0, -1)}${token.endsWith("x") ? "y" : "x"}`;
  return [
    { name: "a valid key", authorization: bearer(valid.token), route: "/open", code: "VALID", status: 200 },
    {
      name: "a key allowed from loopback",
      authorization: bearer(local.token),
      route: "/open",
      code: "VALID",
      status: 200,
    },
    {
      name: "a key whose scope matches by wildcard",
      authorization: bearer(writer.token),
      route: "/scoped",
      code: "VALID",
      status: 200,
    },
    { name: "no Authorization header", authorization: undefined, route: "/open", code: "MISSING_KEY", status: 401 },
    { name: "another scheme", authorization: "Basic dXNlcjpwYXNz", route: "/open", code: "MALFORMED", status: 401 },
    {
      name: "a mistyped token",
      authorization: bearer(mistype(valid.token)),
      route: "/open",
      code: "MALFORMED",
      status: 401,
    },
    {
      name: "a token nobody issued",
      authorization: bearer(generateToken("kw")),
      route: "/open",
      code: "NOT_FOUND",
      status: 401,
    },
    { name: "a revoked key", authorization: bearer(revoked.token), route: "/open", code: "REVOKED", status: 401 },
    { name: "an expired key", authorization: bearer(expiring.token), route: "/open", code: "EXPIRED", status: 401 },
    { name: "a disabled key", authorization: bearer(disabled.token), route: "/open", code: "DISABLED", status: 401 },
    {
      name: "a key for other addresses",
      authorization: bearer(elsewhere.token),
      route: "/open",
      code: "IP_NOT_ALLOWED",
      status: 403,
    },
    {
      name: "a sending key where full access is needed",
      authorization: bearer(sending.token),
      route: "/full",
      code: "INSUFFICIENT_PERMISSION",
      status: 403,
    },
    {
      name: "a key of another domain",
      authorization: bearer(domainA.token),
      route: "/domain",
      code: "DOMAIN_MISMATCH",
      status: 403,
    },
    {
      name: "a key without the scope",
      authorization: bearer(reader.token),
      route: "/scoped",
      code: "MISSING_SCOPES",
      status: 403,
    },
    {
      name: "a key over its rate limit",
      authorization: bearer(limited.token),
      route: "/open",
      code: "RATE_LIMITED",
      status: 429,
      retryAfter: true,
      warmUp: 1,
    },
    {
      name: "a key without credits",
      authorization: bearer(broke.token),
      route: "/open",
      code: "USAGE_EXCEEDED",
      status: 429,
    },
  ];
}
