/**
 * The console's HTTP side without a browser: sign-in and its cookie, the
 * session re-verified on every call, CSRF on cookie changes, the sign-in
 * rate limit, and how the built console is served (CSP, caching, the
 * client-route fallback, the export link's way through sign-in).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONSOLE_CONTENT_SECURITY_POLICY } from "../../../src/gateway/console-web.js";
import { type RunningGateway, startGateway } from "../../../src/gateway/server.js";
import { asActor } from "../../../src/shared/contract/service-client.js";
import { createLogger } from "../../../src/shared/logger.js";
import { type Harness, startHarness } from "../gateway/harness.js";

let h: Harness;
/** A gateway in front of the same service, serving a console fixture, behind an https public URL, 3 sign-ins a minute. */
let other: RunningGateway;
let otherUrl: string;
const consoleDir = mkdtempSync(join(tmpdir(), "keyward-console-fixture-"));
const INDEX = '<!doctype html><title>Keyward</title><script type="module" src="/assets/app-Ab12Cd34.js"></script>';

beforeAll(async () => {
  mkdirSync(join(consoleDir, "assets"));
  writeFileSync(join(consoleDir, "index.html"), INDEX);
  writeFileSync(join(consoleDir, "assets/app-Ab12Cd34.js"), "console.log('console');\n");
  h = await startHarness();
  other = await startGateway(
    { ...h.config, KEYWARD_PUBLIC_URL: "https://keys.example.com", KEYWARD_SIGNIN_PER_MINUTE: 3 },
    { logger: createLogger("silent"), serviceToken: h.serviceToken, serviceUrl: h.serviceUrl, consoleDir },
  );
  otherUrl = `http://127.0.0.1:${other.port}`;
});
afterAll(async () => {
  await other?.close();
  await h?.close();
  rmSync(consoleDir, { recursive: true, force: true });
});

interface SignedIn {
  status: number;
  cookies: string[];
  /** "keyward_session=…; keyward_csrf=…", as a browser would send them back. */
  cookieHeader: string;
  csrf: string;
  body: unknown;
}

async function signIn(base: string, apiKey: string, headers: Record<string, string> = {}): Promise<SignedIn> {
  const res = await fetch(`${base}/trpc/session.signIn`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-keyward-csrf": "sign-in", ...headers },
    body: JSON.stringify({ apiKey }),
  });
  const cookies = res.headers.getSetCookie();
  const pairs = cookies.map((c) => c.split(";", 1)[0] as string);
  return {
    status: res.status,
    cookies,
    cookieHeader: pairs.join("; "),
    csrf: pairs.find((p) => p.startsWith("keyward_csrf="))?.slice("keyward_csrf=".length) ?? "",
    body: await res.json(),
  };
}

function call(base: string, path: string, init: { cookie?: string; csrf?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = {};
  if (init.cookie) headers.cookie = init.cookie;
  if (init.csrf) headers["x-keyward-csrf"] = init.csrf;
  if (init.body === undefined) return fetch(`${base}/trpc/${path}`, { headers });
  headers["content-type"] = "application/json";
  return fetch(`${base}/trpc/${path}`, { method: "POST", headers, body: JSON.stringify(init.body) });
}

describe("console sign-in", () => {
  it("sets an HttpOnly, SameSite=Strict, expiring session cookie and a CSRF cookie; no token in them", async () => {
    const admin = await h.consoleKey("admin", "ops@example.com");
    const s = await signIn(h.url, admin.token);
    expect(s.status).toBe(200);
    expect(s.body).toMatchObject({ result: { data: { email: "ops@example.com", role: "admin", keyId: admin.id } } });
    const session = s.cookies.find((c) => c.startsWith("keyward_session="));
    const csrf = s.cookies.find((c) => c.startsWith("keyward_csrf="));
    expect(session).toMatch(/; Max-Age=43200; Path=\/; HttpOnly; SameSite=Strict$/);
    expect(csrf).toMatch(/; Max-Age=43200; Path=\/; SameSite=Strict$/);
    expect(session).not.toContain("Secure");
    expect(s.cookies.join("\n")).not.toContain(admin.token);
    expect(JSON.stringify(s.body)).not.toContain(admin.token);
  });

  it("marks the cookies Secure when the public URL is https", async () => {
    const admin = await h.consoleKey("admin");
    const s = await signIn(otherUrl, admin.token);
    expect(s.status).toBe(200);
    for (const cookie of s.cookies) expect(cookie).toMatch(/; Secure(;|$)/);
  });

  it("refuses a wrong key (401), a key that is not a console key (403), and a sign-in without the console's header (403)", async () => {
    expect((await signIn(h.url, "kw_notarealtoken")).status).toBe(401);
    expect((await signIn(h.url, (await h.consoleKey("other")).token)).status).toBe(403);
    const admin = await h.consoleKey("admin");
    const res = await fetch(`${h.url}/trpc/session.signIn`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ apiKey: admin.token }),
    });
    expect(res.status).toBe(403);
    expect(res.headers.getSetCookie()).toEqual([]);
  });

  it("authenticates reads by cookie; a change needs the CSRF header; Bearer calls need none", async () => {
    const admin = await h.consoleKey("admin", "maker@example.com");
    const s = await signIn(h.url, admin.token);
    const me = await call(h.url, "me", { cookie: s.cookieHeader });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { result: { data: { email: string } } }).result.data.email).toBe("maker@example.com");

    const without = await call(h.url, "keys.create", { cookie: s.cookieHeader, body: { name: "no csrf" } });
    expect(without.status).toBe(403);
    const wrong = await call(h.url, "keys.create", {
      cookie: s.cookieHeader,
      csrf: "guess",
      body: { name: "bad csrf" },
    });
    expect(wrong.status).toBe(403);
    const right = await call(h.url, "keys.create", {
      cookie: s.cookieHeader,
      csrf: s.csrf,
      body: { name: "with csrf" },
    });
    expect(right.status).toBe(200);

    const bearer = await fetch(`${h.url}/trpc/keys.create`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin.token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "bearer" }),
    });
    expect(bearer.status).toBe(200);
  });

  it("ends the session at the next call once the key is disabled or revoked, and clears the cookie", async () => {
    for (const change of ["disable", "revoke"] as const) {
      const admin = await h.consoleKey("admin");
      const s = await signIn(h.url, admin.token);
      expect((await call(h.url, "me", { cookie: s.cookieHeader })).status).toBe(200);
      if (change === "disable") {
        await h.service.updateKey(
          { id: admin.id, updateMask: { paths: ["enabled"] }, enabled: false },
          asActor("harness"),
        );
      } else {
        await h.service.deleteKey({ id: admin.id, reason: "left" }, asActor("harness"));
      }
      const after = await call(h.url, "me", { cookie: s.cookieHeader });
      expect(after.status).toBe(401);
      expect(after.headers.getSetCookie().join("\n")).toMatch(/keyward_session=;.*Expires=Thu, 01 Jan 1970/);
      if (change === "disable") {
        // Enabled again, the key works by Bearer; the ended session stays ended.
        await h.service.updateKey(
          { id: admin.id, updateMask: { paths: ["enabled"] }, enabled: true },
          asActor("harness"),
        );
        expect((await call(h.url, "me", { cookie: s.cookieHeader })).status).toBe(401);
        expect((await fetch(`${h.url}/trpc/me`, { headers: { authorization: `Bearer ${admin.token}` } })).status).toBe(
          200,
        );
      }
    }
  });

  it("refuses a forged or altered cookie", async () => {
    const admin = await h.consoleKey("admin");
    const s = await signIn(h.url, admin.token);
    const value = /keyward_session=([^;]+)/.exec(s.cookieHeader)?.[1] ?? "";
    const [id, key] = value.split(".");
    const altered = `${id}.${key?.startsWith("A") ? "B" : "A"}${key?.slice(1)}`;
    expect((await call(h.url, "me", { cookie: `keyward_session=${altered}` })).status).toBe(401);
    expect((await call(h.url, "me", { cookie: "keyward_session=made-up" })).status).toBe(401);
  });

  it("signs out: the session ends and both cookies are cleared", async () => {
    const admin = await h.consoleKey("admin");
    const s = await signIn(h.url, admin.token);
    const out = await call(h.url, "session.signOut", { cookie: s.cookieHeader, csrf: s.csrf, body: {} });
    expect(out.status).toBe(200);
    const cleared = out.headers.getSetCookie();
    expect(cleared.some((c) => c.startsWith("keyward_session=;"))).toBe(true);
    expect(cleared.some((c) => c.startsWith("keyward_csrf=;"))).toBe(true);
    expect((await call(h.url, "me", { cookie: s.cookieHeader })).status).toBe(401);
  });

  it("limits sign-in attempts per client address, and nothing else", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await signIn(otherUrl, "kw_wrong")).status);
    // Three sign-ins a minute on this gateway; the Secure-cookie test above used one.
    expect(statuses).toEqual([401, 401, 429, 429]);
    const limited = await signIn(otherUrl, "kw_wrong");
    expect(limited.body).toMatchObject({ error: { data: { code: "TOO_MANY_REQUESTS", httpStatus: 429 } } });
    expect((await fetch(`${otherUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${otherUrl}/trpc/me`)).status).toBe(401);
  });
});

describe("behind a trusted reverse proxy (KEYWARD_TRUST_PROXY)", () => {
  let proxied: RunningGateway;
  let url: string;
  beforeAll(async () => {
    proxied = await startGateway(
      { ...h.config, KEYWARD_TRUST_PROXY: ["127.0.0.1"], KEYWARD_SIGNIN_PER_MINUTE: 2 },
      { logger: createLogger("silent"), serviceToken: h.serviceToken, serviceUrl: h.serviceUrl, consoleDir },
    );
    url = `http://127.0.0.1:${proxied.port}`;
  });
  afterAll(async () => {
    await proxied?.close();
  });

  it("counts sign-ins per forwarded client address and marks cookies Secure for forwarded HTTPS", async () => {
    const from = (ip: string) => ({ "x-forwarded-for": ip, "x-forwarded-proto": "https" });
    const first = [
      await signIn(url, "kw_wrong", from("203.0.113.7")),
      await signIn(url, "kw_wrong", from("203.0.113.7")),
    ];
    expect(first.map((r) => r.status)).toEqual([401, 401]);
    expect((await signIn(url, "kw_wrong", from("203.0.113.7"))).status).toBe(429);
    // Another client behind the same proxy has its own allowance.
    expect((await signIn(url, "kw_wrong", from("198.51.100.9"))).status).toBe(401);
    const admin = await signIn(url, (await h.consoleKey("admin")).token, from("198.51.100.10"));
    expect(admin.status).toBe(200);
    expect(admin.cookies.every((c) => /;\s*Secure/i.test(c))).toBe(true);
  });
});

describe("serving the console", () => {
  const html = { accept: "text/html,application/xhtml+xml" };

  it("answers / and every client route with index.html: no-cache and the console's CSP", async () => {
    for (const path of ["/", "/keys", "/keys/01890000-0000-7000-8000-000000000000", "/exports", "/audit", "/sign-in"]) {
      const res = await fetch(`${otherUrl}${path}`, { headers: html });
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      expect(await res.text()).toBe(INDEX);
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(res.headers.get("cache-control")).toBe("no-cache");
      expect(res.headers.get("content-security-policy")).toBe(CONSOLE_CONTENT_SECURITY_POLICY);
      expect(res.headers.get("x-frame-options")).toBe("DENY");
    }
    expect(CONSOLE_CONTENT_SECURITY_POLICY).toContain("default-src 'self'");
    expect(CONSOLE_CONTENT_SECURITY_POLICY).not.toContain("unsafe-inline");
  });

  it("serves hashed assets immutable for a year; a missing one is a 404", async () => {
    const res = await fetch(`${otherUrl}/assets/app-Ab12Cd34.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(res.headers.get("content-type")).toMatch(/javascript/);
    expect((await fetch(`${otherUrl}/assets/app-missing.js`, { headers: html })).status).toBe(404);
  });

  it("never falls back for /trpc, /metrics, /healthz, files, or non-browser clients", async () => {
    expect((await fetch(`${otherUrl}/trpc/keys.nope`, { headers: html })).status).toBe(404);
    expect((await fetch(`${otherUrl}/trpc`, { headers: html })).headers.get("content-type")).toMatch(/json/);
    expect((await fetch(`${otherUrl}/healthz`, { headers: html })).headers.get("content-type")).toMatch(/json/);
    expect((await fetch(`${otherUrl}/metrics`, { headers: html })).headers.get("content-type")).toMatch(/text\/plain/);
    expect((await fetch(`${otherUrl}/robots.txt`, { headers: html })).status).toBe(404);
    const api = await fetch(`${otherUrl}/keys`);
    expect(api.status).toBe(404);
    expect(api.headers.get("content-type")).toMatch(/json/);
  });

  it("sends a signed-out browser from an export link to sign in, and back; curl still gets 401", async () => {
    const path = "/exports/01890000-0000-7000-8000-000000000000/download?expires=1&sig=abc";
    const browser = await fetch(`${h.url}${path}`, { headers: html, redirect: "manual" });
    expect(browser.status).toBe(303);
    expect(browser.headers.get("location")).toBe(`/sign-in?next=${encodeURIComponent(path)}`);
    expect((await fetch(`${h.url}${path}`)).status).toBe(401);
  });

  it("says how to build the console when it is not built", async () => {
    const empty = mkdtempSync(join(tmpdir(), "keyward-console-empty-"));
    const bare = await startGateway(h.config, {
      logger: createLogger("silent"),
      serviceToken: h.serviceToken,
      serviceUrl: h.serviceUrl,
      consoleDir: empty,
    });
    try {
      const res = await fetch(`http://127.0.0.1:${bare.port}/`, { headers: html });
      expect(res.status).toBe(404);
      expect(await res.text()).toContain("npm run build");
    } finally {
      await bare.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
