import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Keyward, startKeyward } from "./harness.js";

/** Each example in examples/, run as a newcomer runs it (tsx, importing keyward/client), against a real service. */

const root = resolve(import.meta.dirname, "../../..");

let k: Keyward;
let tokens: { reader: string; writer: string };
beforeAll(async () => {
  k = await startKeyward();
  tokens = {
    reader: (await k.createKey({ name: "Reader", subject: "user_7" })).token,
    writer: (await k.createKey({ name: "Writer", scopes: ["reports:write"] })).token,
  };
});
afterAll(async () => {
  await k?.stop();
});

async function startExample(name: string): Promise<{ child: ChildProcess; base: string; log: () => string }> {
  const child = spawn(process.execPath, ["--import", "tsx", join(root, `examples/${name}.ts`)], {
    cwd: root,
    env: { ...process.env, PORT: "0", KEYWARD_TARGET: k.target },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    log += chunk.toString();
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const exited = once(child, "exit").then(([code]) => {
    throw new Error(`examples/${name}.ts exited with ${code}:\n${log}`);
  });
  const [line] = (await Promise.race([once(lines, "line"), exited])) as [string];
  const match = /listening on (http:\/\/\S+?)\/?$/.exec(line);
  if (match === null) throw new Error(`unexpected first line: ${line}`);
  return { child, base: match[1] as string, log: () => log };
}

const EXAMPLES = ["express", "fastify", "hono", "connect"] as const;

describe.each(EXAMPLES)("examples/%s.ts", (name) => {
  it("serves with a valid key, refuses without one or without the scope, and stops on SIGTERM", async () => {
    const { child, base } = await startExample(name);
    try {
      if (name === "connect") {
        const greet = (authorization?: string) =>
          fetch(`${base}/greet.v1.GreetService/Greet`, {
            method: "POST",
            headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
            body: JSON.stringify("Ada"),
          });
        const ok = await greet(`Bearer ${tokens.reader}`);
        expect(ok.status).toBe(200);
        expect(await ok.json()).toBe("Hello Ada, from user_7");
        const refused = await greet();
        expect(refused.status).toBe(401);
        expect(refused.headers.get("keyward-code")).toBe("MISSING_KEY");
      } else {
        expect((await fetch(`${base}/health`)).status).toBe(200);
        const whoami = await fetch(`${base}/api/whoami`, { headers: { authorization: `Bearer ${tokens.reader}` } });
        expect(whoami.status).toBe(200);
        expect(await whoami.json()).toMatchObject({ name: "Reader", subject: "user_7" });
        const none = await fetch(`${base}/api/whoami`);
        expect(none.status).toBe(401);
        expect(await none.json()).toMatchObject({ error: { code: "MISSING_KEY" } });
        const post = (token: string) =>
          fetch(`${base}/api/reports`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
        const forbidden = await post(tokens.reader);
        expect(forbidden.status).toBe(403);
        expect(await forbidden.json()).toMatchObject({ error: { code: "MISSING_SCOPES" } });
        expect((await post(tokens.writer)).status).toBe(201);
      }
    } finally {
      const exit = once(child, "exit");
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      const [code, signal] = await exit;
      clearTimeout(timer);
      expect({ code, signal }).toEqual({ code: 0, signal: null });
    }
  }, 60_000);
});
