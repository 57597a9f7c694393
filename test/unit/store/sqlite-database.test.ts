import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { KeyRecord } from "../../../src/service/keys/model.js";
import { MIGRATIONS } from "../../../src/service/store/migrations.js";
import { openDatabase } from "../../../src/service/store/sqlite/open-database.js";
import { SCHEMA_VERSION } from "../../../src/service/store/sqlite/schema.js";
import { createSqliteKeyStore } from "../../../src/service/store/sqlite/sqlite-key-store.js";
import { makeAudit, makeKey, NOW } from "./store-fixtures.js";

let dir: string;
let file: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "keyward-db-"));
  file = path.join(dir, "nested", "deeper", "keyward.db");
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function walSize(): number {
  return fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0;
}

describe("the database file", () => {
  it("is created with its directories, in WAL mode, with durable settings", () => {
    const db = openDatabase(file);
    try {
      expect(fs.existsSync(file)).toBe(true);
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
      expect(db.pragma("synchronous", { simple: true })).toBe(2); // FULL
      expect(db.pragma("foreign_keys", { simple: true })).toBe(1);
      expect(db.pragma("busy_timeout", { simple: true })).toBe(5_000);
      expect(db.pragma("journal_size_limit", { simple: true })).toBe(64 * 1024 * 1024);
      expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    } finally {
      db.close();
    }
  });

  it("looks keys up by hash through the unique index", () => {
    const db = openDatabase(file);
    try {
      const plan = db.prepare("EXPLAIN QUERY PLAN SELECT * FROM keys WHERE hash = ?").all("x") as { detail: string }[];
      expect(plan.map((p) => p.detail).join(" ")).toMatch(/USING INDEX keys_hash/);
    } finally {
      db.close();
    }
  });

  it("keeps everything written after close and reopen", async () => {
    const key = makeKey({ remaining: 10 });
    const first = createSqliteKeyStore({ path: file, inactiveDays: 30 });
    await first.insertKey(key, makeAudit({ keyId: key.id }));
    await first.applyUsage({
      keys: new Map([[key.id, { count: 2, lastUsedAt: NOW }]]),
      buckets: [{ keyId: key.id, hourStart: NOW, code: "VALID", count: 2 }],
      logs: [{ keyId: key.id, at: NOW, code: "VALID", context: null }],
    });
    await first.spendCredits(key.id, 4);
    await first.close();

    const second = createSqliteKeyStore({ path: file, inactiveDays: 30 });
    try {
      await expect(second.getKeyByHash(key.hash)).resolves.toEqual({
        ...key,
        requestCount: 2,
        lastUsedAt: NOW,
        remaining: 6,
      });
      await expect(second.getUsage(key.id, NOW, NOW + 1)).resolves.toEqual([
        { bucketStart: NOW, code: "VALID", count: 2 },
      ]);
      await expect(second.listKeyLogs(key.id, {}, 10)).resolves.toHaveLength(1);
      await expect(second.listAuditEvents({ keyId: key.id }, 10)).resolves.toHaveLength(1);
    } finally {
      await second.close();
    }
  });

  it("is in WAL mode as seen by another connection", async () => {
    const store = createSqliteKeyStore({ path: file, inactiveDays: 30 });
    const other = new Database(file, { readonly: true });
    try {
      expect(other.pragma("journal_mode", { simple: true })).toBe("wal");
    } finally {
      other.close();
      await store.close();
    }
  });

  it("checkpoints the WAL down to nothing on a timer and on close", async () => {
    const store = createSqliteKeyStore({ path: file, inactiveDays: 30, checkpointIntervalMs: 50 });
    const key = makeKey();
    await store.insertKey(key, makeAudit({ keyId: key.id }));
    expect(walSize()).toBeGreaterThan(0);
    // The writer thread checkpoints once it has started; give it time to.
    await vi.waitFor(() => expect(walSize()).toBe(0), { timeout: 5000, interval: 50 });

    await store.insertKey(makeKey(), makeAudit());
    await store.close();
    expect(walSize()).toBe(0);
  });

  it("closes once; a second close is harmless and later calls fail", async () => {
    const store = createSqliteKeyStore({ path: file, inactiveDays: 30 });
    await store.close();
    await expect(store.close()).resolves.toBeUndefined();
    await expect(store.getKeyById("x")).rejects.toThrow(/not open/);
  });

  it("migrates a file of schema 3 (before the change record) and keeps its keys", async () => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const old = new Database(file);
    for (const [i, step] of MIGRATIONS.slice(0, 3).entries()) {
      old.exec(step.sqlite);
      old.pragma(`user_version = ${i + 1}`);
    }
    old.exec(
      `INSERT INTO keys (id, hash, token_hint, name, permission, created_by, created_at, updated_at)
       VALUES ('old', 'hash-old', 'kw_x…y', 'Old', 'full_access', 'admin', ${NOW}, ${NOW})`,
    );
    old.close();

    const store = createSqliteKeyStore({ path: file, inactiveDays: 30 });
    try {
      const key = await store.getKeyById("old");
      expect(key).toMatchObject({ name: "Old", version: 1 });
      await expect(store.latestChangeId()).resolves.toBe(0);
      await store.updateKey({ ...(key as KeyRecord), name: "Renamed", version: 2 }, makeAudit({ keyId: "old" }));
      await expect(store.readChanges(0, 10)).resolves.toMatchObject([{ keyId: "old", hash: "hash-old", version: 2 }]);
    } finally {
      await store.close();
    }
    const db = new Database(file, { readonly: true });
    expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    db.close();
  });

  it("refuses a file written by a newer schema", () => {
    openDatabase(file).close();
    const db = new Database(file);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => openDatabase(file)).toThrow(/newer than this build supports/);
  });
});
