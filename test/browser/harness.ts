import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { type Browser, chromium, type Page } from "playwright-core";
import { createGatewayClient, type GatewayClient } from "../../src/cli/client.js";
import {
  dropPrefix,
  requireRedis,
  SHARED_REDIS_URL,
  type SmtpSink,
  startSmtpSink,
} from "../integration/workers/harness.js";
import { freePort } from "../support/free-port.js";

/**
 * The whole of Keyward as an admin's browser meets it: `keyward start` (the
 * compiled dist/, with the built console) as a child process on free ports
 * and a tmpfs data dir, a real Redis under a prefix of its own, an
 * in-process SMTP server for the export mails, and Debian's Chromium driven
 * by playwright-core. Nothing here skips: without Chromium, the build or
 * Redis the tests fail saying what is missing.
 */

export const ROOT = resolve(import.meta.dirname, "../..");
export const CHROMIUM = process.env.KEYWARD_TEST_CHROMIUM ?? "/usr/bin/chromium";
export const SCREENSHOTS = join(ROOT, "test-results/screenshots");

const run = promisify(execFile);

export interface Keyward {
  url: string;
  grpcAddress: string;
  /** The service's Connect port: where `keyward bootstrap` finds it. */
  connectPort: number;
  dataDir: string;
  smtp: SmtpSink;
  /** Everything the child printed, for failure messages. */
  output(): string;
  close(): Promise<void>;
}

function scratch(): string {
  const base = existsSync("/dev/shm") ? "/dev/shm" : ROOT;
  return mkdtempSync(join(base, "keyward-browser-"));
}

export async function startKeyward(extraEnv: Record<string, string> = {}): Promise<Keyward> {
  if (!existsSync(join(ROOT, "dist/console/index.html")) || !existsSync(join(ROOT, "dist/cli/main.js"))) {
    throw new Error(
      "dist/ has no built console: run `npm run build` (npm test and npm ci do) before the browser tests",
    );
  }
  await requireRedis();
  const smtp = await startSmtpSink();
  const dataDir = scratch();
  const prefix = `kwbrowser-${process.pid}-${Date.now().toString(36)}`;
  const ports = { service: await freePort(), connect: await freePort(), gateway: await freePort() };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KEYWARD_DATA_DIR: dataDir,
    KEYWARD_SERVICE_PORT: String(ports.service),
    KEYWARD_CONNECT_PORT: String(ports.connect),
    KEYWARD_GATEWAY_PORT: String(ports.gateway),
    KEYWARD_QUEUE_PREFIX: prefix,
    REDIS_URL: SHARED_REDIS_URL,
    SMTP_URL: smtp.url,
    KEYWARD_USAGE_FLUSH_MS: "100",
    // The large export is a key's logs: keep every verification's row.
    KEYWARD_LOG_LIMIT_PER_KEY: "100000",
    LOG_LEVEL: "warn",
    ...extraEnv,
  };
  const child: ChildProcess = spawn(process.execPath, ["bin/keyward.js", "start"], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const url = `http://127.0.0.1:${ports.gateway}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`keyward start exited with ${child.exitCode}:\n${output}`);
    const ok = await fetch(`${url}/healthz`)
      .then(async (res) => res.ok && ((await res.json()) as { queue?: string }).queue === "ok")
      .catch(() => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`keyward start did not answer /healthz within 30 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    grpcAddress: `127.0.0.1:${ports.service}`,
    connectPort: ports.connect,
    dataDir,
    smtp,
    output: () => output,
    async close() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise<void>((r) => {
          const timer = setTimeout(() => {
            child.kill("SIGKILL");
            r();
          }, 20_000);
          child.once("exit", () => {
            clearTimeout(timer);
            r();
          });
        });
      }
      await smtp.close();
      await dropPrefix(SHARED_REDIS_URL, prefix);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** `keyward bootstrap`: the first admin key, as the README says to make it. */
export async function bootstrapAdmin(k: Keyward, email: string): Promise<{ id: string; token: string }> {
  const { stdout } = await run(process.execPath, ["bin/keyward.js", "bootstrap", "--email", email, "--json"], {
    cwd: ROOT,
    env: {
      ...process.env,
      KEYWARD_DATA_DIR: k.dataDir,
      KEYWARD_SERVICE_URL: `http://127.0.0.1:${k.connectPort}`,
    },
  });
  const answer = JSON.parse(stdout) as { key: { id: string }; token: string };
  return { id: answer.key.id, token: answer.token };
}

export function gatewayClient(k: Keyward, token: string): GatewayClient {
  return createGatewayClient({ url: k.url, token });
}

/**
 * Debian's Chromium, headless. playwright-core gives every launch a fresh
 * temporary user-data-dir (and removes it at close).
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: the browser tests need it (apt-get install -y chromium; .ci/run does this)`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** A full-page screenshot into test-results/screenshots (git-ignored), for people to look at. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}
