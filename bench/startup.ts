/**
 * Start-up and CLI latency, compiled (dist/, as `npm start` and the bin run
 * it) beside the TypeScript sources through tsx (how every command ran
 * before the build step), on the same machine in the same run:
 *
 * - `node -e 0`, the floor;
 * - `keyward --help`;
 * - `keyward keys list` against a running gateway;
 * - `keyward start` until the service, the gateway and the workers all answer.
 *
 * `npm run bench:startup` (`-- --runs N`, default 15). Prints a Markdown table
 * for docs/benchmarks.md. Needs `npm run build` first and Redis for the workers.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "../test/support/free-port.js";

const root = resolve(import.meta.dirname, "..");
const runs = Number(process.argv[process.argv.indexOf("--runs") + 1]) || 15;
const COMPILED = [join(root, "bin/keyward.js")];
const SOURCES = [join(root, "bin/keyward-dev.js")];
/** `npm start` itself, as the README's first command runs it (compiled). */
const NPM_START: string[] = [];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** Median wall time of a command, in ms. */
function timeCommand(args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const result = spawnSync(process.execPath, args, { cwd: root, env, stdio: "ignore" });
    times.push(performance.now() - start);
    if (result.status !== 0) throw new Error(`${args.join(" ")} exited with ${result.status}`);
  }
  return median(times);
}

interface Stack {
  env: NodeJS.ProcessEnv;
  gatewayPort: number;
  dir: string;
}

async function stackEnv(): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), "keyward-startup-"));
  const gatewayPort = await freePort();
  const connectPort = await freePort();
  const env = {
    ...process.env,
    KEYWARD_DATA_DIR: dir,
    KEYWARD_SERVICE_PORT: String(await freePort()),
    KEYWARD_CONNECT_PORT: String(connectPort),
    KEYWARD_SERVICE_URL: `http://127.0.0.1:${connectPort}`,
    KEYWARD_GATEWAY_PORT: String(gatewayPort),
    KEYWARD_QUEUE_PREFIX: `startup-${process.pid}`,
    LOG_LEVEL: "info",
  };
  return { env, gatewayPort, dir };
}

/** Starts `keyward start` (or `npm start`) and resolves with the ms until its log says every part runs. */
function startUntilReady(args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; child: ChildProcess }> {
  const start = performance.now();
  const [command, commandArgs] = args === NPM_START ? ["npm", ["start"]] : [process.execPath, [...args, "start"]];
  const child = spawn(command, commandArgs, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolveReady, reject) => {
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('"msg":"keyward running"')) resolveReady({ ms: performance.now() - start, child });
    });
    child.once("exit", (code) => reject(new Error(`keyward start exited with ${code}:\n${output}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

async function timeStart(args: string[]): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < Math.min(runs, 7); i++) {
    const stack = await stackEnv();
    const { ms, child } = await startUntilReady(args, stack.env);
    times.push(ms);
    await stop(child);
    rmSync(stack.dir, { recursive: true, force: true });
  }
  return median(times);
}

async function timeKeysList(args: string[]): Promise<number> {
  const stack = await stackEnv();
  const { child } = await startUntilReady(COMPILED, stack.env);
  try {
    const bootstrap = spawnSync(
      process.execPath,
      [...COMPILED, "bootstrap", "--email", "bench@example.com", "--json"],
      {
        cwd: root,
        env: stack.env,
        encoding: "utf8",
      },
    );
    const token = (JSON.parse(bootstrap.stdout) as { token: string }).token;
    return timeCommand([...args, "keys", "list"], {
      ...stack.env,
      KEYWARD_URL: `http://127.0.0.1:${stack.gatewayPort}`,
      KEYWARD_TOKEN: token,
    });
  } finally {
    await stop(child);
    rmSync(stack.dir, { recursive: true, force: true });
  }
}

const floor = timeCommand(["-e", "0"]);
const rows: [string, number, number][] = [
  ["`keyward --help`", timeCommand([...SOURCES, "--help"]), timeCommand([...COMPILED, "--help"])],
  ["`keyward keys list` (running gateway)", await timeKeysList(SOURCES), await timeKeysList(COMPILED)],
  ["`keyward start`, until all three parts run", await timeStart(SOURCES), await timeStart(COMPILED)],
  ["`npm start`, until all three parts run", Number.NaN, await timeStart(NPM_START)],
];
const ms = (v: number) => (Number.isNaN(v) ? "—" : `${v.toFixed(0)} ms`);
console.log(
  `Machine: ${cpus().length} × ${cpus()[0]?.model ?? "CPU"}, Node ${process.version}; median of ${runs} runs.\n`,
);
console.log(`\`node -e 0\`: ${ms(floor)}\n`);
console.log("| command | from sources (tsx, as before) | compiled (dist/) | compiled ÷ `node -e 0` |");
console.log("|---|---|---|---|");
for (const [name, before, after] of rows) {
  console.log(`| ${name} | ${ms(before)} | ${ms(after)} | ${(after / floor).toFixed(1)}× |`);
}
