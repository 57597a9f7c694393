import { join } from "node:path";
import type { Config } from "../../config.js";
import type { Logger } from "../../shared/logger.js";
import type { KeyStore } from "./key-store.js";
import { createPostgresKeyStore } from "./postgres/postgres-key-store.js";
import { createSqliteKeyStore } from "./sqlite/sqlite-key-store.js";

/**
 * The service's store: PostgreSQL when DATABASE_URL is set (connected and
 * migrated before this resolves; a database that cannot be reached rejects
 * with StoreUnavailableError), else the SQLite file in the data directory.
 */
export async function createKeyStore(config: Config, logger: Logger): Promise<KeyStore> {
  if (config.DATABASE_URL !== undefined) {
    return createPostgresKeyStore({
      connectionString: config.DATABASE_URL,
      poolSize: config.KEYWARD_PG_POOL_SIZE,
      inactiveDays: config.KEYWARD_INACTIVE_DAYS,
      logger,
    });
  }
  return createSqliteKeyStore({
    path: join(config.dataDir, "keyward.db"),
    inactiveDays: config.KEYWARD_INACTIVE_DAYS,
    logger,
  });
}

/** Which database the config selects, for logs (never the URL: it may hold a password). */
export function storeKind(config: Config): "postgres" | "sqlite" {
  return config.DATABASE_URL !== undefined ? "postgres" : "sqlite";
}
