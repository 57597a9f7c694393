/**
 * Runs the workers as a child process for tests that kill them (kill -9).
 * Reads its configuration from the environment (KEYWARD_SERVICE_URL and
 * KEYWARD_SERVICE_TOKEN name the service; KEYWARD_TEST_STALL_MS is
 * "<lock duration>,<stalled interval>"), prints one line once started, then
 * logs (pino JSON) to stderr.
 */
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/shared/logger.js";
import { startWorkers } from "../../src/workers/main.js";

const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL, "workers", 2);
const [lockDurationMs = 30_000, stalledIntervalMs = 30_000] = (process.env.KEYWARD_TEST_STALL_MS ?? "")
  .split(",")
  .filter(Boolean)
  .map(Number);
const webhookDelays = (process.env.KEYWARD_TEST_WEBHOOK_DELAYS ?? "").split(",").filter(Boolean).map(Number);
const workers = await startWorkers(config, {
  logger,
  serviceToken: config.KEYWARD_SERVICE_TOKEN ?? "",
  serviceUrl: config.KEYWARD_SERVICE_URL,
  exportBackoffMs: 200,
  scheduleSweeps: false,
  stallDetection: { lockDurationMs, stalledIntervalMs },
  ...(webhookDelays.length > 0 && { webhookRetryDelaysMs: webhookDelays, relayWaitMs: 200 }),
});
process.stdout.write("workers started\n");
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    void workers.close().then(() => process.exit(0));
  });
}
