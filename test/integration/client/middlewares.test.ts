import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createVerifier } from "../../../src/client/index.js";
import { freePort } from "../../support/free-port.js";
import {
  type AppVerifiers,
  type passBody,
  startConnectApp,
  startExpressApp,
  startFastifyApp,
  startHonoApp,
  type TestApp,
} from "./apps.js";
import { createCases, type Keyward, startKeyward } from "./harness.js";

/**
 * Real servers of each framework, each behind its middleware, against a real
 * service process: every verification code gets its HTTP status and JSON body.
 */

let k: Keyward;
let verifiers: AppVerifiers;
beforeAll(async () => {
  // Usage (and so the request log) is flushed every 100 ms, for the context test.
  k = await startKeyward({ KEYWARD_USAGE_FLUSH_MS: "100" });
  const nobody = `127.0.0.1:${await freePort()}`;
  verifiers = {
    main: createVerifier({ target: k.target, onUnavailable: "deny", deadlineMs: 5_000 }),
    denyDown: createVerifier({ target: nobody, onUnavailable: "deny", deadlineMs: 300 }),
    allowDown: createVerifier({ target: nobody, onUnavailable: "allow", deadlineMs: 300 }),
  };
});
afterAll(async () => {
  for (const v of Object.values(verifiers ?? {})) v.close();
  await k?.stop();
});

interface Answer {
  status: number;
  /** The error code of a refusal, or null. */
  code: string | null;
  message: string | null;
  retryAfter: string | null;
  wwwAuthenticate: string | null;
  /** What the handler saw, when the request got through. */
  pass: ReturnType<typeof passBody> | null;
}

/** The answer, read the same way for every framework (Connect wraps both bodies its own way). */
async function read(app: TestApp, response: Response): Promise<Answer> {
  const body = (await response.json()) as Record<string, unknown>;
  const common = {
    status: response.status,
    retryAfter: response.headers.get("retry-after"),
    wwwAuthenticate: response.headers.get("www-authenticate"),
  };
  if (app.framework === "connect") {
    if (response.status === 200) {
      return { ...common, code: null, message: null, pass: JSON.parse(body as unknown as string) };
    }
    // A ConnectError: { code: "unauthenticated", message: "NOT_FOUND: …" }, the code also in metadata.
    const message = String(body.message);
    const code = response.headers.get("keyward-code");
    expect(message.startsWith(`${code}: `)).toBe(true);
    return { ...common, code, message: message.slice(String(code).length + 2), pass: null };
  }
  if (response.status === 200) return { ...common, code: null, message: null, pass: body as Answer["pass"] };
  const error = body.error as { code: string; message: string };
  expect(Object.keys(body)).toEqual(["error"]);
  expect(Object.keys(error).sort()).toEqual(["code", "message"]);
  return { ...common, code: error.code, message: error.message, pass: null };
}

const FRAMEWORKS: [string, (v: AppVerifiers) => Promise<TestApp>][] = [
  ["express", startExpressApp],
  ["fastify", startFastifyApp],
  ["hono", startHonoApp],
  ["connect", startConnectApp],
];

describe.each(FRAMEWORKS)("%s", (_name, start) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await start(verifiers);
  });
  afterAll(async () => {
    await app?.close();
  });

  it("answers every verification code with its HTTP status and a small JSON error", async () => {
    const cases = await createCases(k);
    const got: Record<string, [number, string | null]> = {};
    const want: Record<string, [number, string | null]> = {};
    for (const c of cases) {
      const headers: Record<string, string> = c.authorization === undefined ? {} : { authorization: c.authorization };
      for (let i = 0; i < (c.warmUp ?? 0); i++) {
        expect((await app.request(c.route, headers)).status, `${c.name}: warm-up`).toBe(200);
      }
      const answer = await read(app, await app.request(c.route, headers));
      got[c.name] = [answer.status, answer.status === 200 ? "VALID" : answer.code];
      want[c.name] = [c.status, c.code];
      if (answer.status === 200) {
        expect(answer.pass, c.name).toMatchObject({ checked: true, code: "VALID" });
        expect(answer.pass?.keyId, c.name).toMatch(/^[0-9a-f-]{36}$/);
      } else {
        expect(answer.message, c.name).toMatch(/\S/);
      }
      if (c.retryAfter) {
        expect(Number(answer.retryAfter), c.name).toBeGreaterThanOrEqual(1);
        expect(Number(answer.retryAfter), c.name).toBeLessThanOrEqual(60);
      }
      if (answer.status === 401 && app.framework !== "connect") {
        expect(answer.wwwAuthenticate, c.name).toMatch(/^Bearer/);
      }
    }
    expect(got).toEqual(want);
  });

  it("reads the key from another header when told (x-api-key), and not from Authorization there", async () => {
    const { token } = await k.createKey({ name: `Header ${app.framework}` });
    expect((await read(app, await app.request("/header", { "x-api-key": token }))).status).toBe(200);
    expect((await read(app, await app.request("/header", { "x-api-key": `Bearer ${token}` }))).status).toBe(200);
    const without = await read(app, await app.request("/header", { authorization: `Bearer ${token}` }));
    expect([without.status, without.code]).toEqual([401, "MISSING_KEY"]);
  });

  it("tells the service the request's address, method, path (no query) and user agent", async () => {
    const { id, token } = await k.createKey({ name: `Context ${app.framework}`, allowedCidrs: ["127.0.0.0/8"] });
    const userAgent = `keyward-client-test/${app.framework}`;
    const answer = await read(
      app,
      await app.request("/open", { authorization: `Bearer ${token}`, "user-agent": userAgent }),
    );
    expect(answer.status).toBe(200);
    let logs: { ip: string; method: string; path: string; userAgent: string }[] = [];
    for (let i = 0; i < 100 && logs.length === 0; i++) {
      logs = (await k.admin.unary("listKeyLogs", { id })).logs;
      if (logs.length === 0) await sleep(100);
    }
    expect(logs).toHaveLength(1);
    const connect = app.framework === "connect";
    expect(logs[0]).toMatchObject({
      method: connect ? "POST" : "GET",
      path: connect ? "/clienttest.v1.TestService/Open" : "/open",
      userAgent,
    });
    expect(logs[0]?.ip).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
  });

  it("answers 503 with Retry-After when no replica answers and onUnavailable is deny", async () => {
    const { token } = await k.createKey({ name: `Down ${app.framework}` });
    const answer = await read(app, await app.request("/deny-down", { authorization: `Bearer ${token}` }));
    expect([answer.status, answer.code, answer.retryAfter]).toEqual([503, "UNAVAILABLE", "1"]);
  });

  it("lets the request through, marked unchecked, when no replica answers and onUnavailable is allow", async () => {
    const answer = await read(app, await app.request("/allow-down", { authorization: "Bearer kw_anything" }));
    expect(answer.status).toBe(200);
    expect(answer.pass).toEqual({ checked: false, code: "UNAVAILABLE", keyId: null });
  });

  it("still refuses a request without any key when onUnavailable is allow", async () => {
    const answer = await read(app, await app.request("/allow-down", {}));
    expect([answer.status, answer.code]).toEqual([401, "MISSING_KEY"]);
  });
});
