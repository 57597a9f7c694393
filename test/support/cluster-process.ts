import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { resolve } from "node:path";
import { freePort } from "./free-port.js";

const devBin = resolve(import.meta.dirname, "../../bin/keyward-dev.js");

export interface ClusterProcess {
  child: ChildProcess;
  grpcPort: number;
  connectPort: number;
  /** The pids of the service processes that reported listening so far (replacements included). */
  servicePids(): number[];
  log(): string;
  /** SIGTERM to the primary; resolves with its exit code. */
  stop(): Promise<number | null>;
}

/**
 * `keyward service` from the sources with KEYWARD_SERVICE_PROCESSES set:
 * resolves once the primary says every service process listens.
 */
export async function startClusterProcess(
  dataDir: string,
  processes: number,
  env: Record<string, string> = {},
): Promise<ClusterProcess> {
  const grpcPort = await freePort();
  const connectPort = await freePort();
  const child = spawn(process.execPath, [devBin, "service"], {
    env: {
      ...process.env,
      KEYWARD_DATA_DIR: dataDir,
      KEYWARD_SERVICE_PORT: String(grpcPort),
      KEYWARD_CONNECT_PORT: String(connectPort),
      KEYWARD_SERVICE_PROCESSES: String(processes),
      LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  const pids = new Set<number>();
  const exited = once(child, "exit").then(([code]) => code as number | null);
  const ready = new Promise<void>((resolveReady, reject) => {
    const onData = (chunk: Buffer) => {
      log += chunk.toString("utf8");
      const lines = log.split("\n");
      lines.pop(); // not yet a whole line
      for (const line of lines) {
        if (line.includes('"key service listening"')) pids.add((JSON.parse(line) as { pid: number }).pid);
        if (line.includes('"service processes listening"')) resolveReady();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    void exited.then((code) => reject(new Error(`keyward service exited with ${code} before listening:\n${log}`)));
  });
  await ready;
  return {
    child,
    grpcPort,
    connectPort,
    servicePids: () => [...pids],
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
