import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const entry = fileURLToPath(new URL("./service-process.ts", import.meta.url));

export interface ChildService {
  child: ChildProcess;
  grpcPort: number;
  connectPort: number;
  /** Everything the process wrote to stderr (its log) so far. */
  log(): string;
  exited: Promise<number | null>;
}

/** Starts the service in its own process on free ports over `dataDir`. */
export async function startChildService(dataDir: string, env: Record<string, string> = {}): Promise<ChildService> {
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    env: {
      ...process.env,
      KEYWARD_DATA_DIR: dataDir,
      KEYWARD_SERVICE_PORT: "0",
      KEYWARD_CONNECT_PORT: "0",
      LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    log += chunk.toString("utf8");
  });
  const exited = once(child, "exit").then(([code]) => code as number | null);
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const first = await Promise.race([
    once(lines, "line").then(([line]) => line as string),
    exited.then((code) => {
      throw new Error(`service process exited with ${code} before listening:\n${log}`);
    }),
  ]);
  const ports = JSON.parse(first) as { grpcPort: number; connectPort: number };
  return { child, ...ports, log: () => log, exited };
}

/** SIGTERM (a graceful close), then SIGKILL if it is still running after `graceMs`; resolves once it has exited. */
export async function stopChildService(service: ChildService, graceMs = 10_000): Promise<void> {
  if (service.child.exitCode !== null || service.child.signalCode !== null) return;
  service.child.kill("SIGTERM");
  const timer = setTimeout(() => service.child.kill("SIGKILL"), graceMs);
  await service.exited;
  clearTimeout(timer);
}
