/**
 * `npm start` as supervisors run it: SIGTERM to npm's own process stops
 * Keyward and frees its ports. And a second Keyward on the same ports says
 * which port, which variable moves it, and that another Keyward may run.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../integration/workers/harness.js";

const root = resolve(import.meta.dirname, "../..");
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function ports() {
  return { service: await freePort(), connect: await freePort(), gateway: await freePort() };
}

function env(p: { service: number; connect: number; gateway: number }): NodeJS.ProcessEnv {
  const dir = mkdtempSync(join(tmpdir(), "keyward-start-"));
  dirs.push(dir);
  return {
    ...process.env,
    KEYWARD_DATA_DIR: dir,
    KEYWARD_SERVICE_PORT: String(p.service),
    KEYWARD_CONNECT_PORT: String(p.connect),
    KEYWARD_GATEWAY_PORT: String(p.gateway),
    LOG_LEVEL: "info",
  };
}

/** Spawns a command and resolves once a line of its output contains `ready`, with all it wrote so far. */
async function startUntil(command: string, args: string[], childEnv: NodeJS.ProcessEnv, ready: string) {
  const child = spawn(command, args, { cwd: root, env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  const seen = new Promise<void>((resolveSeen, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(ready)) resolveSeen();
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`exited with ${code} before "${ready}":\n${output}`)));
  });
  await seen;
  return { child, output: () => output };
}

/** Whether something still listens on the port (bind fails). */
function inUse(port: number): Promise<boolean> {
  return new Promise((resolveUse) => {
    const server = createServer();
    server.once("error", () => resolveUse(true));
    server.listen(port, "127.0.0.1", () => server.close(() => resolveUse(false)));
  });
}

async function eventuallyFree(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await inUse(port))) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

describe("npm start", () => {
  it("stops, ports freed, when npm's own process gets SIGTERM", async () => {
    const p = await ports();
    const { child } = await startUntil("npm", ["start"], env(p), "keyward running");
    for (const port of Object.values(p)) expect(await inUse(port)).toBe(true);
    child.kill("SIGTERM");
    await once(child, "exit");
    // A liveness bound above the 15 s a graceful shutdown may take, not a timing figure.
    for (const port of Object.values(p)) expect(await eventuallyFree(port, 25_000)).toBe(true);
  }, 60_000);
});

describe("a second Keyward on the same ports", () => {
  it.each([
    ["service", "KEYWARD_SERVICE_PORT", "gRPC server"],
    ["gateway", "KEYWARD_GATEWAY_PORT", "gateway"],
  ])(
    "keyward %s says which port is taken and which variable moves it",
    async (part, variable, what) => {
      const p = await ports();
      const first = env(p);
      await startUntil(process.execPath, ["bin/keyward.js", part], first, "listening");
      const second = spawn(process.execPath, ["bin/keyward.js", part], {
        cwd: root,
        env: { ...env(p), KEYWARD_SERVICE_TOKEN: "x".repeat(40) },
        stdio: ["ignore", "pipe", "pipe"],
      });
      children.push(second);
      let output = "";
      second.stdout?.on("data", (chunk: Buffer) => {
        output += chunk.toString();
      });
      second.stderr?.on("data", (chunk: Buffer) => {
        output += chunk.toString();
      });
      const [code] = await once(second, "exit");
      expect(code).not.toBe(0);
      expect(output).toContain(`${what} cannot listen on 127.0.0.1:`);
      expect(output).toContain("Is another Keyward running?");
      expect(output).toContain(variable);
      expect(output).not.toContain("No address added");
      expect(output).not.toMatch(/\n\s+at /);
    },
    60_000,
  );
});
