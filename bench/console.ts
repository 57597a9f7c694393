/**
 * The web console's two figures:
 *
 * - first-load JS: the gzipped size of what index.html loads before the
 *   first page shows (its entry script and modulepreloads; CSS apart);
 * - how soon the keys page shows its first rows with 100,000 keys in the
 *   database, in Debian's headless Chromium against `keyward start`:
 *   a cold load of /keys (new browser context: no cache, signed in by
 *   cookie) and an in-app navigation to it (the "API keys" link of the
 *   Exports page, opened fresh), from the navigation's start to the first
 *   row drawn.
 *   Beside them, the gateway's own time for the page's data (keys.list,
 *   keys.counts) by Bearer call.
 *
 * `npm run build && npm run bench:console` (`-- --runs N`, default 9;
 * `-- --keys N`, default 100000). Seeds bench/.data/seed-<N>/ once (bench/seed.ts)
 * and copies its database into a temporary data dir per run of the stack.
 * Prints a Markdown section for docs/benchmarks.md. Needs Redis for the
 * workers (without it Keyward still starts and this still measures).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import { dropPrefix } from "../test/integration/workers/harness.js";
import { freePort } from "../test/support/free-port.js";
import { seed } from "./seed.js";

const root = resolve(import.meta.dirname, "..");
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const runs = arg("runs", 9);
const keys = arg("keys", 100_000);
const CHROMIUM = process.env.KEYWARD_TEST_CHROMIUM ?? "/usr/bin/chromium";
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}
const ms = (n: number) => `${Math.round(n)} ms`;
const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;

/** What index.html makes the browser fetch before the first page: scripts and modulepreloads, then stylesheets. */
function firstLoad(): { js: Array<{ file: string; raw: number; gzip: number }>; css: number } {
  const dir = join(root, "dist/console");
  const html = readFileSync(join(dir, "index.html"), "utf8");
  const files = (pattern: RegExp) => [...html.matchAll(pattern)].map((m) => m[1] as string);
  const js = [
    ...files(/<script[^>]+src="\/([^"]+\.js)"/g),
    ...files(/<link[^>]+rel="modulepreload"[^>]+href="\/([^"]+\.js)"/g),
  ].map((file) => {
    const body = readFileSync(join(dir, file));
    return { file, raw: body.length, gzip: gzipSync(body).length };
  });
  const css = files(/<link[^>]+rel="stylesheet"[^>]+href="\/([^"]+\.css)"/g)
    .map((file) => gzipSync(readFileSync(join(dir, file))).length)
    .reduce((a, b) => a + b, 0);
  return { js, css };
}

interface Stack {
  url: string;
  admin: string;
  child: ChildProcess;
  dir: string;
  /** The workers' queue prefix in Redis, dropped at the end. */
  prefix: string;
}

async function startStack(dbFile: string): Promise<Stack> {
  const dir = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : root, "keyward-bench-console-"));
  copyFileSync(dbFile, join(dir, "keyward.db"));
  const ports = { service: await freePort(), connect: await freePort(), gateway: await freePort() };
  const prefix = `bench-console-${process.pid}`;
  const env = {
    ...process.env,
    KEYWARD_DATA_DIR: dir,
    KEYWARD_SERVICE_PORT: String(ports.service),
    KEYWARD_CONNECT_PORT: String(ports.connect),
    KEYWARD_GATEWAY_PORT: String(ports.gateway),
    KEYWARD_SERVICE_URL: `http://127.0.0.1:${ports.connect}`,
    KEYWARD_QUEUE_PREFIX: prefix,
    LOG_LEVEL: "warn",
  };
  const child = spawn(process.execPath, ["bin/keyward.js", "start"], { cwd: root, env, stdio: "ignore" });
  const url = `http://127.0.0.1:${ports.gateway}`;
  const deadline = Date.now() + 60_000;
  while (
    !(await fetch(`${url}/healthz`)
      .then((r) => r.ok)
      .catch(() => false))
  ) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error("keyward start did not come up");
    await new Promise((r) => setTimeout(r, 100));
  }
  const out = execFileSync(
    process.execPath,
    ["bin/keyward.js", "bootstrap", "--email", "bench@example.com", "--json"],
    {
      cwd: root,
      env,
      encoding: "utf8",
    },
  );
  return { url, admin: (JSON.parse(out) as { token: string }).token, child, dir, prefix };
}

async function stopStack(stack: Stack): Promise<void> {
  stack.child.kill("SIGTERM");
  await new Promise((r) => stack.child.once("exit", r));
  rmSync(stack.dir, { recursive: true, force: true });
  await dropPrefix(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", stack.prefix);
}

/** The gateway's time for one tRPC query by Bearer call, median of `runs`. */
async function gatewayTime(stack: Stack, path: string, input: unknown): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const res = await fetch(`${stack.url}/trpc/${path}?input=${encodeURIComponent(JSON.stringify(input))}`, {
      headers: { authorization: `Bearer ${stack.admin}` },
    });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${path}: ${res.status}`);
    times.push(performance.now() - start);
  }
  return median(times);
}

const FIRST_ROW = "table tbody tr";

async function main(): Promise<void> {
  if (!existsSync(join(root, "dist/console/index.html"))) throw new Error("run `npm run build` first");
  const load = firstLoad();
  const seedDir = resolve(root, `bench/.data/seed-${keys}`);
  const manifest = await seed(seedDir, keys);
  const stack = await startStack(join(seedDir, "keyward.db"));
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  const cold: number[] = [];
  const inApp: number[] = [];
  let list = 0;
  let counts = 0;
  try {
    list = await gatewayTime(stack, "keys.list", { pageSize: 25 });
    counts = await gatewayTime(stack, "keys.counts", {});
    // One sign-in; each measured context gets the session cookie as a browser would keep it.
    const signin = await browser.newContext();
    const page = await signin.newPage();
    await page.goto(`${stack.url}/sign-in`);
    await page.getByLabel("API key").fill(stack.admin);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator(FIRST_ROW).first().waitFor();
    const state = await signin.storageState();
    await signin.close();

    for (let i = 0; i < runs; i++) {
      const context = await browser.newContext({ storageState: state, viewport: { width: 1280, height: 900 } });
      const p = await context.newPage();
      const start = performance.now();
      await p.goto(`${stack.url}/keys`, { waitUntil: "commit" });
      await p.locator(FIRST_ROW).first().waitFor();
      cold.push(performance.now() - start);

      await context.close();

      // Another fresh context opened on the Exports page: nothing of the keys page is loaded or cached.
      const second = await browser.newContext({ storageState: state, viewport: { width: 1280, height: 900 } });
      const q = await second.newPage();
      await q.goto(`${stack.url}/exports`);
      await q.getByRole("heading", { name: "Exports", level: 1 }).waitFor();
      const again = performance.now();
      await q.getByRole("link", { name: "API keys" }).first().click();
      await q.locator(FIRST_ROW).first().waitFor();
      inApp.push(performance.now() - again);
      await second.close();
    }
  } finally {
    await browser.close();
    await stopStack(stack);
  }

  const chromiumVersion = execFileSync(CHROMIUM, ["--version"], { encoding: "utf8" }).trim();
  const jsGzip = load.js.reduce((a, f) => a + f.gzip, 0);
  const jsRaw = load.js.reduce((a, f) => a + f.raw, 0);
  const lines = [
    "## Web console",
    "",
    `\`npm run build && npm run bench:console -- --runs ${runs}\` (bench/console.ts), ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC,`,
    `on this project's machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version},`,
    `${chromiumVersion.split("\n")[0]} headless, load average ${loadavg()[0]?.toFixed(1)} at the end. ${manifest.keys.toLocaleString("en-US")} keys`,
    `seeded straight into SQLite (bench/seed.ts), the whole stack from \`keyward start\` (dist/). Median of ${runs}.`,
    "",
    "| figure | measured | target |",
    "|---|---|---|",
    `| first-load JS, gzipped (${load.js.map((f) => f.file).join(", ")}) | ${kb(jsGzip)} (${kb(jsRaw)} raw) | under 300 KB: **${jsGzip < 300 * 1024 ? "met" : "missed"}** |`,
    `| keys page, cold load of /keys to first row (new context, no cache, signed in) | ${ms(median(cold))} | within 1 s: **${median(cold) <= 1000 ? "met" : "missed"}** |`,
    `| keys page, in-app navigation to first row | ${ms(median(inApp))} | within 1 s: **${median(inApp) <= 1000 ? "met" : "missed"}** |`,
    `| gateway: \`keys.list\` (25 rows), Bearer | ${ms(list)} | |`,
    `| gateway: \`keys.counts\` (5 × CountKeys over ${manifest.keys.toLocaleString("en-US")} keys), Bearer | ${ms(counts)} | |`,
    "",
    `- CSS: ${kb(load.css)} gzipped. The create form and the key page (with recharts) are separate chunks loaded when first opened.`,
    `- Cold loads: ${cold.map((t) => Math.round(t)).join(", ")} ms; in-app: ${inApp.map((t) => Math.round(t)).join(", ")} ms.`,
    "",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

await main();
