import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../../src/config.js";
import { StoreUnavailableError } from "../../../src/service/keys/errors.js";
import { createKeyStore, storeKind } from "../../../src/service/store/create-store.js";
import { SCHEMA_VERSION } from "../../../src/service/store/migrations.js";
import { PostgresKeyStore } from "../../../src/service/store/postgres/postgres-key-store.js";
import { SqliteKeyStore } from "../../../src/service/store/sqlite/sqlite-key-store.js";
import { createLogger } from "../../../src/shared/logger.js";
import { databaseForThisFile } from "../../support/postgres.js";
import { startTcpProxy } from "../../support/tcp-proxy.js";

const logger = createLogger("silent", "test");
const testDatabase = databaseForThisFile();
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "keyward-create-store-"));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("DATABASE_URL and KEYWARD_PG_POOL_SIZE", () => {
  it("accept a postgres:// or postgresql:// URL and a pool size, defaulting to none and 10", () => {
    expect(loadConfig({}).DATABASE_URL).toBeUndefined();
    expect(loadConfig({ DATABASE_URL: "  " }).DATABASE_URL).toBeUndefined();
    expect(loadConfig({}).KEYWARD_PG_POOL_SIZE).toBe(10);
    const config = loadConfig({ DATABASE_URL: "postgresql://u:p@db:5432/keyward", KEYWARD_PG_POOL_SIZE: "25" });
    expect(config.DATABASE_URL).toBe("postgresql://u:p@db:5432/keyward");
    expect(config.KEYWARD_PG_POOL_SIZE).toBe(25);
    expect(storeKind(config)).toBe("postgres");
    expect(storeKind(loadConfig({}))).toBe("sqlite");
  });

  it.each(["mysql://db/keyward", "db:5432/keyward", "postgres://[bad"])("refuse %s, naming the variable", (url) => {
    expect(() => loadConfig({ DATABASE_URL: url })).toThrow(ConfigError);
    expect(() => loadConfig({ DATABASE_URL: url })).toThrow(/DATABASE_URL: a postgres:\/\/ or postgresql:\/\/ URL/);
  });

  it("refuse a pool size below 1", () => {
    expect(() => loadConfig({ KEYWARD_PG_POOL_SIZE: "0" })).toThrow(/KEYWARD_PG_POOL_SIZE/);
  });
});

describe("createKeyStore", () => {
  it("opens SQLite in the data directory without DATABASE_URL", async () => {
    const store = await createKeyStore(loadConfig({ KEYWARD_DATA_DIR: dir }), logger);
    try {
      expect(store).toBeInstanceOf(SqliteKeyStore);
      expect(fs.existsSync(path.join(dir, "keyward.db"))).toBe(true);
      await expect(store.getKeyById("healthz")).resolves.toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it("opens and migrates PostgreSQL with DATABASE_URL", async () => {
    const database = testDatabase();
    const store = await createKeyStore(loadConfig({ KEYWARD_DATA_DIR: dir, DATABASE_URL: database.url }), logger);
    try {
      expect(store).toBeInstanceOf(PostgresKeyStore);
      await expect(store.getKeyById("healthz")).resolves.toBeUndefined();
      await expect(database.query("SELECT count(*)::int AS n FROM schema_migrations")).resolves.toEqual([
        { n: SCHEMA_VERSION },
      ]);
    } finally {
      await store.close();
    }
  });

  it("rejects with StoreUnavailableError when PostgreSQL cannot be reached", async () => {
    const database = testDatabase();
    const proxy = await startTcpProxy({ host: "127.0.0.1", port: 5432 });
    await proxy.cut();
    const url = new URL(database.url);
    url.port = String(proxy.port);
    await expect(
      createKeyStore(loadConfig({ KEYWARD_DATA_DIR: dir, DATABASE_URL: url.toString() }), logger),
    ).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});
