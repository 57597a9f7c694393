import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import type { AuditEntry, ExportRecord, KeyRecord } from "../../../src/service/keys/model.js";
import { DAY_MS } from "../../../src/service/keys/status.js";
import type { KeyStore } from "../../../src/service/store/key-store.js";
import { createPostgresKeyStore } from "../../../src/service/store/postgres/postgres-key-store.js";
import { createSqliteKeyStore } from "../../../src/service/store/sqlite/sqlite-key-store.js";
import { databaseForThisFile } from "../../support/postgres.js";

export { DAY_MS };

/** A fixed clock for every test: 2025-06-01T00:00:00Z. */
export const NOW = Date.UTC(2025, 5, 1);
export const INACTIVE_DAYS = 30;

export interface TempStore {
  store: KeyStore;
  file: string;
  dir: string;
  /** Runs SQL on the store's database from another connection (for rows the store would not write). */
  exec(sql: string): Promise<void>;
  /** Reads rows from another connection, as stored (the columns the store's mapping would change on the way). */
  query<R = Record<string, unknown>>(sql: string): Promise<R[]>;
  /** Closes the store (if still open) and removes the directory. */
  cleanup(): Promise<void>;
}

/** A store on a fresh file in its own temp directory (a subdirectory, to prove it is created). */
export function openTempStore(inactiveDays = INACTIVE_DAYS): TempStore {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keyward-store-"));
  const file = path.join(dir, "data", "keyward.db");
  const store = createSqliteKeyStore({ path: file, inactiveDays });
  return {
    store,
    file,
    dir,
    async exec(sql) {
      const db = new Database(file);
      try {
        db.exec(sql);
      } finally {
        db.close();
      }
    },
    async query<R>(sql: string) {
      const db = new Database(file, { readonly: true });
      try {
        return db.prepare(sql).all() as R[];
      } finally {
        db.close();
      }
    },
    async cleanup() {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every table the stores write, emptied between PostgreSQL tests. */
const TABLES =
  "keys, usage_hourly, key_logs, audit_events, exports, meta, key_changes, events, webhook_endpoints, webhook_deliveries, webhook_attempts";

export interface StoreBackend {
  name: "sqlite" | "postgres";
  /** A store on an empty database. */
  open(inactiveDays?: number): Promise<TempStore>;
}

/**
 * Both stores, for `describe.each(storeBackends())("$name", ...)`. Call it at
 * the top of a test file: it creates that file's own PostgreSQL database
 * (dropped after the file), which each test then finds empty. PostgreSQL
 * must be reachable: when it is not, every PostgreSQL test fails.
 */
export function storeBackends(): StoreBackend[] {
  const database = databaseForThisFile();
  const sqlite: StoreBackend = { name: "sqlite", open: async (inactiveDays) => openTempStore(inactiveDays) };
  const postgres: StoreBackend = {
    name: "postgres",
    async open(inactiveDays = INACTIVE_DAYS) {
      const db = database();
      const store = await createPostgresKeyStore({ connectionString: db.url, inactiveDays, poolSize: 4 });
      await db.query(`TRUNCATE ${TABLES} RESTART IDENTITY`);
      return {
        store,
        file: db.url,
        dir: "",
        async exec(sql) {
          await db.query(sql);
        },
        query: (sql) => db.query(sql),
        async cleanup() {
          await store.close();
        },
      };
    },
  };
  return [sqlite, postgres];
}

let sequence = 0;

/** A unique, time-ordered-looking id; the suffix keeps ids distinct within a millisecond. */
export function nextId(prefix = "k"): string {
  sequence += 1;
  return `${prefix}-${String(sequence).padStart(6, "0")}`;
}

export function makeKey(overrides: Partial<KeyRecord> = {}): KeyRecord {
  const id = overrides.id ?? nextId();
  const createdAt = overrides.createdAt ?? NOW - DAY_MS;
  return {
    id,
    hash: `hash-${id}`,
    tokenHint: "kw_Ab12…x9Yz",
    name: `Key ${id}`,
    description: "",
    permission: "full_access",
    domainId: null,
    subject: null,
    scopes: [],
    claims: null,
    createdBy: "admin@example.com",
    expiresAt: null,
    enabled: true,
    allowedCidrs: [],
    createdAt,
    updatedAt: createdAt,
    revokedAt: null,
    revocationReason: null,
    lastUsedAt: null,
    requestCount: 0,
    rotatedFromId: null,
    rotatedToId: null,
    inactiveSince: null,
    rotationNotifiedAt: null,
    creditsLowThreshold: null,
    ratelimits: [],
    remaining: null,
    refill: null,
    version: 1,
    ...overrides,
  };
}

export function makeAudit(overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    at: NOW,
    actor: "admin@example.com",
    actorKeyId: null,
    action: "key.create",
    keyId: null,
    exportId: null,
    summary: "created",
    changedFields: [],
    ...overrides,
  };
}

export function makeExport(overrides: Partial<ExportRecord> = {}): ExportRecord {
  const createdAt = overrides.createdAt ?? NOW;
  return {
    id: overrides.id ?? nextId("exp"),
    resource: "api_keys",
    filters: {},
    state: "pending",
    requestedBy: "admin@example.com",
    createdAt,
    updatedAt: createdAt,
    expiresAt: createdAt + 7 * DAY_MS,
    matchingRows: 5_000,
    rowCount: 0,
    byteSize: 0,
    error: null,
    attempts: 0,
    mailState: "pending",
    mailError: null,
    mailAt: null,
    ...overrides,
  };
}

/** Inserts keys one by one, each with a create audit entry. */
export async function insertKeys(store: KeyStore, keys: KeyRecord[]): Promise<void> {
  for (const key of keys) {
    await store.insertKey(key, makeAudit({ keyId: key.id, at: key.createdAt }));
  }
}
