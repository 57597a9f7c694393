import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The credential admin RPCs require. KEYWARD_SERVICE_TOKEN wins; otherwise the
 * token in `<data dir>/service-token`, created (mode 0600) on first use, so
 * that a fresh install needs no configuration and the gateway and workers in
 * the same data dir find it.
 */
export function resolveServiceToken(config: { KEYWARD_SERVICE_TOKEN?: string; dataDir: string }): string {
  if (config.KEYWARD_SERVICE_TOKEN) return config.KEYWARD_SERVICE_TOKEN;
  const file = join(config.dataDir, "service-token");
  try {
    const existing = readFileSync(file, "utf8").trim();
    if (existing.length >= 32) return existing;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  mkdirSync(config.dataDir, { recursive: true });
  const token = randomBytes(32).toString("base64url");
  // "wx" so two processes starting at once cannot overwrite each other's token.
  try {
    writeFileSync(file, `${token}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return readFileSync(file, "utf8").trim();
    throw error;
  }
  chmodSync(file, 0o600);
  return token;
}
