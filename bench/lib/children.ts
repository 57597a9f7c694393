/**
 * Child processes of a bench run: forked TypeScript scripts (through tsx) with
 * an IPC channel, their output in a log file, and a registry that kills every
 * one still alive when the run ends, fails or is interrupted.
 */
import { type ChildProcess, fork, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const REPO_DIR = path.resolve(BENCH_DIR, "..");

const alive = new Set<ChildProcess>();

export interface ForkOptions {
  /** Extra Node flags, e.g. --max-semi-space-size=64 or --cpu-prof. */
  nodeFlags?: string[];
  env?: Record<string, string>;
  /** stdout and stderr go here (appended). */
  logFile: string;
  /** Prefix the command with `taskset -c <cpus>` (pinning). */
  cpus?: string;
}

/** Only what a child needs from our environment: no stray KEYWARD_* or REDIS_* settings leak in. */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "TMPDIR", "LANG", "TZ"]) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

export function forkScript(script: string, args: string[], options: ForkOptions): ChildProcess {
  fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
  const log = fs.openSync(options.logFile, "a");
  try {
    const execArgv = ["--import", "tsx", ...(options.nodeFlags ?? [])];
    const child = options.cpus
      ? fork(script, args, {
          cwd: REPO_DIR,
          env: options.env ?? baseEnv(),
          execPath: "taskset",
          execArgv: ["-c", options.cpus, process.execPath, ...execArgv],
          stdio: ["ignore", log, log, "ipc"],
        })
      : fork(script, args, {
          cwd: REPO_DIR,
          env: options.env ?? baseEnv(),
          execArgv,
          stdio: ["ignore", log, log, "ipc"],
        });
    alive.add(child);
    child.once("exit", () => alive.delete(child));
    // An IPC send racing the child's own exit fails with EPIPE: the exit handling covers it.
    child.on("error", () => {});
    return child;
  } finally {
    fs.closeSync(log);
  }
}

/**
 * A command that is not a forked script (e.g. `node bin/keyward.js service`),
 * its output appended to `logFile`, registered like forked children so that it
 * is killed when the run ends or fails. `onOutput` sees every chunk as well.
 */
export function spawnCommand(
  command: string,
  args: string[],
  options: { env: Record<string, string>; logFile: string; onOutput?: (chunk: string) => void },
): ChildProcess {
  fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
  const log = fs.createWriteStream(options.logFile, { flags: "a" });
  const child = spawn(command, args, { cwd: REPO_DIR, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
  alive.add(child);
  child.once("exit", () => {
    alive.delete(child);
    log.end();
  });
  child.on("error", () => {});
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on("data", (chunk: Buffer) => {
      log.write(chunk);
      options.onOutput?.(chunk.toString("utf8"));
    });
  }
  return child;
}

/** The next message of type `t` from the child, or an error after `timeoutMs` or when it exits. */
export function nextMessage<T extends { t: string }>(child: ChildProcess, t: string, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onMessage = (message: unknown) => {
      if (typeof message === "object" && message !== null && (message as { t?: unknown }).t === t) {
        cleanup();
        resolve(message as T);
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`child ${child.pid} exited (${code ?? signal}) while waiting for "${t}"`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`child ${child.pid}: no "${t}" within ${timeoutMs} ms`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

/** Asks the child to exit (IPC "exit", then SIGTERM, then SIGKILL) and waits for it. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  if (child.connected) child.send({ t: "exit" }, () => {});
  const term = setTimeout(() => child.kill("SIGTERM"), Math.min(2000, graceMs / 2));
  const kill = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(term);
  clearTimeout(kill);
}

/** Kills every child still alive (SIGKILL): the last resort of a failed or interrupted run. */
export function killAll(): void {
  for (const child of alive) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  alive.clear();
}

/** Kill children on Ctrl-C, SIGTERM or an uncaught error, then exit. */
export function killChildrenOnExit(): void {
  const bail = (code: number) => {
    killAll();
    process.exit(code);
  };
  process.once("SIGINT", () => bail(130));
  process.once("SIGTERM", () => bail(143));
  process.once("exit", () => killAll());
}
