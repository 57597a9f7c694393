import { type Config, ConfigError, loadConfig } from "../config.js";
import { UsageError } from "./errors.js";

/** The server configuration for the commands that need it; a bad variable is a usage error (exit 2). */
export function loadServerConfig(env: Record<string, string | undefined>): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}
