/**
 * Runs the key service as a child process for tests that kill it. Reads its
 * configuration from the environment, prints one JSON line with the bound
 * ports on stdout, then logs (pino JSON) to stderr.
 */
import { loadConfig } from "../../src/config.js";
import { startService } from "../../src/service/server.js";
import { createLogger } from "../../src/shared/logger.js";

const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL, "service", 2);
const service = await startService(config, { logger });
process.stdout.write(`${JSON.stringify({ grpcPort: service.grpcPort, connectPort: service.connectPort })}\n`);
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    void service.close().then(() => process.exit(0));
  });
}
