import cluster, { type Worker } from "node:cluster";
import type { Logger } from "../shared/logger.js";

/** What a service process tells the primary once both its ports listen. */
export interface ServiceReady {
  type: "keyward-service-ready";
  grpcPort: number;
  connectPort: number;
}

export interface StartedServiceCluster {
  grpcPort: number;
  connectPort: number;
  /** Signals every service process and waits for each to drain and exit. */
  close(): Promise<void>;
}

/** A process that dies sooner than this after its start is replaced only after a pause. */
const CRASH_LOOP_MS = 5000;
const RESTART_PAUSE_MS = 1000;
const STOP_LIMIT_MS = 14_000;

/**
 * Runs `count` service processes (node:cluster) that share the gRPC and
 * Connect ports: the primary accepts connections and hands them out in turn.
 * Each child runs this same command (see runProcess, which starts only the
 * service in a cluster worker) with the environment given. One that exits
 * unasked is replaced; close() stops them all.
 */
export async function startServiceCluster(
  count: number,
  env: Record<string, string>,
  logger: Logger,
): Promise<StartedServiceCluster> {
  let closing = false;
  const workers = new Set<Worker>();
  let ports: Omit<ServiceReady, "type"> | undefined;

  const fork = (): Promise<Omit<ServiceReady, "type">> =>
    new Promise((resolve, reject) => {
      const startedAt = Date.now();
      const worker = cluster.fork(env);
      workers.add(worker);
      let ready = false;
      worker.on("message", (message: ServiceReady) => {
        if (message?.type !== "keyward-service-ready") return;
        ready = true;
        resolve({ grpcPort: message.grpcPort, connectPort: message.connectPort });
      });
      worker.on("exit", (code, signal) => {
        workers.delete(worker);
        if (!ready) {
          reject(new Error(`a service process exited while starting (${signal ?? `code ${code}`}); see its log above`));
          return;
        }
        if (closing) return;
        logger.error({ pid: worker.process.pid, code, signal }, "a service process exited; starting another");
        const pause = Date.now() - startedAt < CRASH_LOOP_MS ? RESTART_PAUSE_MS : 0;
        setTimeout(() => {
          if (!closing) fork().catch((error: unknown) => logger.error({ err: error }, "restart failed"));
        }, pause).unref();
      });
    });

  const stop = async () => {
    closing = true;
    const exits = [...workers].map(
      (worker) => new Promise<void>((resolve) => (worker.isDead() ? resolve() : worker.once("exit", () => resolve()))),
    );
    for (const worker of workers) worker.process.kill("SIGTERM");
    let limit: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(exits),
      new Promise<void>((resolve) => {
        limit = setTimeout(() => {
          for (const worker of workers) worker.process.kill("SIGKILL");
          resolve();
        }, STOP_LIMIT_MS);
      }),
    ]);
    clearTimeout(limit);
  };

  try {
    const started = await Promise.all(Array.from({ length: count }, fork));
    ports = started[0];
  } catch (error) {
    await stop();
    throw error;
  }
  const { grpcPort, connectPort } = ports as Omit<ServiceReady, "type">;
  logger.info({ processes: count, grpcPort, connectPort }, "service processes listening");
  return { grpcPort, connectPort, close: stop };
}

/** In a service process of a cluster: tells the primary where it listens. */
export function reportServiceReady(grpcPort: number, connectPort: number): void {
  const message: ServiceReady = { type: "keyward-service-ready", grpcPort, connectPort };
  process.send?.(message);
}
