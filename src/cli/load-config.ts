import type { Config } from "../config.js";
import { UsageError } from "./errors.js";

/**
 * The server configuration for the commands that need it (loaded on demand:
 * the key commands should not pay for it); a bad variable is a usage error.
 */
export async function loadServerConfig(env: Record<string, string | undefined>): Promise<Config> {
  const { ConfigError, loadConfig } = await import("../config.js");
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}
