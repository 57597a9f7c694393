import cluster from "node:cluster";
import type { Config } from "../config.js";
import { startGateway } from "../gateway/server.js";
import { startService } from "../service/server.js";
import { createLogger, type Logger } from "../shared/logger.js";
import { resolveServiceToken } from "../shared/service-token.js";
import { startWorkers } from "../workers/main.js";
import { reportServiceReady, startServiceCluster } from "./service-cluster.js";

export type ProcessKind = "service" | "gateway" | "workers";

interface Running {
  name: ProcessKind;
  close(): Promise<void>;
}

/** How long a graceful shutdown may take before the process exits anyway. */
const SHUTDOWN_LIMIT_MS = 15_000;

/**
 * Runs the named parts in this process until SIGTERM or SIGINT, then shuts
 * them down in reverse order of start: stop accepting, drain, flush usage,
 * close workers, close the database. Resolves once everything is closed.
 */
export async function runProcess(requested: readonly ProcessKind[], config: Config): Promise<void> {
  // A cluster's child runs the same command as its primary, and is one of its service processes.
  const kinds: readonly ProcessKind[] = cluster.isWorker ? ["service"] : requested;
  const logger = createLogger(config.LOG_LEVEL);
  const running: Running[] = [];
  let serviceUrl = config.KEYWARD_SERVICE_URL;
  const stopAll = async () => {
    for (const part of running.reverse()) {
      try {
        await part.close();
      } catch (error) {
        logger.error({ err: error, part: part.name }, "shutdown step failed");
      }
    }
  };
  // Listening from the first moment: a signal that arrives while the parts
  // start is answered by a graceful stop once they have started, not by
  // Node's default of dying on the spot.
  const stopRequested = new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      // A second signal gets Node's default: it ends the process at once.
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
      resolve(signal);
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    if (cluster.isWorker) {
      // The primary is gone (even by kill -9): nobody hands this process connections any more.
      process.once("disconnect", () => onSignal("SIGTERM"));
    } else {
      stopWithNpm(logger, () => onSignal("SIGTERM"));
    }
  });
  try {
    if (kinds.includes("service")) {
      const processes = cluster.isWorker ? 1 : config.KEYWARD_SERVICE_PROCESSES;
      const service =
        processes > 1
          ? await startServiceCluster(
              processes,
              // One token for all, even when each would otherwise make its own file.
              { KEYWARD_SERVICE_TOKEN: resolveServiceToken(config) },
              logger.child({ part: "service" }),
            )
          : await startService(config, { logger: logger.child({ part: "service" }) });
      running.push({ name: "service", close: service.close });
      if (cluster.isWorker) reportServiceReady(service.grpcPort, service.connectPort);
      // The gateway and workers beside it talk to this service, wherever it bound.
      serviceUrl = `http://${connectHost(config.KEYWARD_HOST)}:${service.connectPort}`;
    }
    const serviceToken = resolveServiceToken(config);
    let publicUrl = config.KEYWARD_PUBLIC_URL;
    if (kinds.includes("gateway")) {
      const gateway = await startGateway(config, {
        logger: logger.child({ part: "gateway" }),
        serviceToken,
        serviceUrl,
      });
      running.push({ name: "gateway", close: gateway.close });
      // Links in mails point at the gateway that really listens, even on a port the OS picked.
      publicUrl ??= `http://${connectHost(config.KEYWARD_HOST)}:${gateway.port}`;
    }
    if (kinds.includes("workers")) {
      const workers = await startWorkers(config, {
        logger: logger.child({ part: "workers" }),
        serviceToken,
        serviceUrl,
        publicUrl,
      });
      running.push({ name: "workers", close: workers.close });
    }
  } catch (error) {
    logger.fatal({ err: error }, "start failed");
    await stopAll();
    throw error;
  }
  logger.info({ parts: kinds }, "keyward running");

  const signal = await stopRequested;
  logger.info({ signal }, "shutting down");
  const limit = setTimeout(() => {
    logger.error("shutdown took too long; exiting");
    process.exit(1);
  }, SHUTDOWN_LIMIT_MS);
  limit.unref();
  await stopAll();
  clearTimeout(limit);
  logger.info("keyward stopped");
  logger.flush();
}

/**
 * Under `npm start`, supervisors and containers signal npm's process; npm
 * exits and this process, its child, would keep running with its ports.
 * So when npm is gone (this process is handed to another parent), it stops
 * as if signalled. Only under npm: a `keyward start` left running by a shell
 * that exits must go on.
 */
function stopWithNpm(logger: Logger, stop: () => void): void {
  if (process.env.npm_lifecycle_event === undefined) return;
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    logger.info({ parent }, "npm exited; shutting down");
    stop();
  }, PARENT_CHECK_MS);
  watch.unref();
}

const PARENT_CHECK_MS = 250;

/** The address to reach a server bound to `host` from this machine. */
function connectHost(host: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::" || host === "[::]") return "[::1]";
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}
