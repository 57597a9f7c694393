/**
 * The gateway's HTTP hygiene: every answer (results, errors, refusals, 404s,
 * health, metrics) carries the security headers; by default no CORS header
 * is ever sent and preflights are refused; KEYWARD_CORS_ORIGINS opens it to
 * exactly the origins named.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { type RunningGateway, startGateway } from "../../src/gateway/server.js";
import { createLogger } from "../../src/shared/logger.js";
import { type Harness, startHarness } from "../integration/gateway/harness.js";

const ALLOWED = "https://console.example.com";
const ALSO_ALLOWED = "http://localhost:5173";
const STRANGER = "https://evil.example.net";

let h: Harness;
let admin: string;
/** A second gateway in front of the same service, with KEYWARD_CORS_ORIGINS set. */
let open: RunningGateway;
let openUrl: string;

beforeAll(async () => {
  h = await startHarness();
  admin = (await h.consoleKey("admin")).token;
  open = await startGateway(
    { ...h.config, KEYWARD_CORS_ORIGINS: [ALLOWED, ALSO_ALLOWED] },
    { logger: createLogger("silent"), serviceToken: h.serviceToken, serviceUrl: h.serviceUrl },
  );
  openUrl = `http://127.0.0.1:${open.port}`;
});
afterAll(async () => {
  await open?.close();
  await h?.close();
});

const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "cross-origin-resource-policy": "same-origin",
  "cache-control": "no-store",
};

const headersOf = (res: Response) => Object.fromEntries(res.headers.entries());
const corsHeaders = (res: Response) => [...res.headers.keys()].filter((name) => name.startsWith("access-control-"));

/** One request of every kind the gateway answers. */
function everyKindOfAnswer(base: string, origin?: string): Array<[string, () => Promise<Response>]> {
  const headers = (extra: Record<string, string> = {}) => ({ ...(origin ? { origin } : {}), ...extra });
  return [
    ["a query result", () => fetch(`${base}/trpc/me`, { headers: headers({ authorization: `Bearer ${admin}` }) })],
    [
      "a mutation result",
      () =>
        fetch(`${base}/trpc/keys.create`, {
          method: "POST",
          headers: headers({ authorization: `Bearer ${admin}`, "content-type": "application/json" }),
          body: JSON.stringify({ name: "headers" }),
        }),
    ],
    ["a 401", () => fetch(`${base}/trpc/keys.list`, { headers: headers() })],
    [
      "a 400",
      () => fetch(`${base}/trpc/keys.get?input={}`, { headers: headers({ authorization: `Bearer ${admin}` }) }),
    ],
    ["a 404", () => fetch(`${base}/nope`, { headers: headers() })],
    ["a download refused", () => fetch(`${base}/exports/x/download`, { headers: headers() })],
    ["health", () => fetch(`${base}/healthz`, { headers: headers() })],
    ["metrics", () => fetch(`${base}/metrics`, { headers: headers() })],
  ];
}

describe("security headers", () => {
  it("are on every answer", async () => {
    for (const [what, request] of everyKindOfAnswer(h.url)) {
      const res = await request();
      await res.arrayBuffer();
      expect({ what, ...headersOf(res) }).toMatchObject({ what, ...SECURITY_HEADERS });
      expect(res.headers.get("x-powered-by")).toBeNull();
    }
  });
});

describe("CORS", () => {
  it("sends no CORS header by default, whatever the Origin", async () => {
    for (const [what, request] of everyKindOfAnswer(h.url, ALLOWED)) {
      const res = await request();
      await res.arrayBuffer();
      expect({ what, cors: corsHeaders(res) }).toEqual({ what, cors: [] });
    }
  });

  it("refuses every preflight by default", async () => {
    const res = await fetch(`${h.url}/trpc/keys.create`, {
      method: "OPTIONS",
      headers: {
        origin: ALLOWED,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization",
      },
    });
    expect(res.status).toBe(403);
    expect(corsHeaders(res)).toEqual([]);
    expect(headersOf(res)).toMatchObject(SECURITY_HEADERS);
  });

  it("with KEYWARD_CORS_ORIGINS, answers the named origins' preflights and requests, and no other", async () => {
    for (const origin of [ALLOWED, ALSO_ALLOWED]) {
      const preflight = await fetch(`${openUrl}/trpc/keys.create`, {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization, content-type",
        },
      });
      expect(preflight.status).toBe(204);
      expect(headersOf(preflight)).toMatchObject({
        "access-control-allow-origin": origin,
        "access-control-allow-methods": "GET, HEAD, POST",
        "access-control-allow-headers": "authorization, content-type, trpc-accept, x-trpc-source",
        vary: "Origin",
      });
      expect(preflight.headers.get("access-control-allow-credentials")).toBeNull();
    }
    for (const [what, request] of everyKindOfAnswer(openUrl, ALLOWED)) {
      const res = await request();
      await res.arrayBuffer();
      expect({ what, ...headersOf(res) }).toMatchObject({
        what,
        ...SECURITY_HEADERS,
        "access-control-allow-origin": ALLOWED,
        vary: expect.stringMatching(/^Origin\b/),
      });
    }
    // Another origin, or the allowed one spelt differently: nothing.
    for (const origin of [STRANGER, `${ALLOWED}/`, "https://console.example.com:443", "null"]) {
      const preflight = await fetch(`${openUrl}/trpc/me`, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "GET" },
      });
      expect({ origin, status: preflight.status, cors: corsHeaders(preflight) }).toEqual({
        origin,
        status: 403,
        cors: [],
      });
      const res = await fetch(`${openUrl}/trpc/me`, { headers: { origin, authorization: `Bearer ${admin}` } });
      expect({ origin, cors: corsHeaders(res) }).toEqual({ origin, cors: [] });
    }
  });

  it("takes only exact origins in KEYWARD_CORS_ORIGINS", () => {
    expect(loadConfig({}).KEYWARD_CORS_ORIGINS).toEqual([]);
    expect(loadConfig({ KEYWARD_CORS_ORIGINS: ` ${ALLOWED} ,${ALSO_ALLOWED},` }).KEYWARD_CORS_ORIGINS).toEqual([
      ALLOWED,
      ALSO_ALLOWED,
    ]);
    for (const bad of [
      "*",
      "https://console.example.com/",
      "https://console.example.com/app",
      "ftp://x.example",
      "console.example.com",
    ]) {
      expect(() => loadConfig({ KEYWARD_CORS_ORIGINS: bad }), bad).toThrow(ConfigError);
    }
  });
});
