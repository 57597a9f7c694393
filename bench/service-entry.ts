/**
 * Bench-only entry of the server under test: the real service (startService
 * with loadConfig over this process's environment, as `keyward service` runs
 * it) plus the measurement probe. Started by the orchestrator with
 * child_process.fork, so that Node flags such as --max-semi-space-size or
 * --cpu-prof can be chosen per run; answers {t:"ready", grpcPort, connectPort}.
 */
import { loadConfig } from "../src/config.js";
import { startService } from "../src/service/server.js";
import { installProbe } from "./lib/probe.js";

const config = loadConfig(process.env);
const service = await startService(config);
installProbe(() => service.close());
process.on("SIGTERM", () => {
  void service.close().finally(() => process.exit(0));
});
process.send?.({ t: "ready", grpcPort: service.grpcPort, connectPort: service.connectPort, pid: process.pid });
