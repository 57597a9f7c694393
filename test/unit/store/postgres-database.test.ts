import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConflictError, StoreUnavailableError } from "../../../src/service/keys/errors.js";
import type { KeyStore } from "../../../src/service/store/key-store.js";
import { SCHEMA_VERSION } from "../../../src/service/store/migrations.js";
import { createPostgresKeyStore } from "../../../src/service/store/postgres/postgres-key-store.js";
import { createTestDatabase, databaseForThisFile, type TestDatabase } from "../../support/postgres.js";
import { startTcpProxy } from "../../support/tcp-proxy.js";
import { makeAudit, makeKey, NOW } from "./store-fixtures.js";

/** PostgreSQL only: what SQLite's file tests (sqlite-database.test.ts) check for the file, and what replicas need. */

const testDatabase = databaseForThisFile();
let database: TestDatabase;
const opened: KeyStore[] = [];

beforeEach(() => {
  database = testDatabase();
});

async function open(url = database.url, options: { poolSize?: number; connectTimeoutMs?: number } = {}) {
  const store = await createPostgresKeyStore({ connectionString: url, inactiveDays: 30, ...options });
  opened.push(store);
  return store;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
});

describe("migrations", () => {
  it("three replicas starting together on a fresh database migrate it once", async () => {
    const fresh = await createTestDatabase();
    try {
      const stores = await Promise.all([open(fresh.url), open(fresh.url), open(fresh.url)]);
      const applied = await fresh.query<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version");
      expect(applied.map((row) => row.version)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
      // All three work on the one schema.
      const key = makeKey();
      await (stores[0] as KeyStore).insertKey(key, makeAudit({ keyId: key.id }));
      await expect((stores[2] as KeyStore).getKeyById(key.id)).resolves.toEqual(key);
      for (const store of stores) await store.close();
    } finally {
      await fresh.drop();
    }
  });

  it("reopens a migrated database without running anything again", async () => {
    await open();
    const before = await database.query("SELECT version, applied_at FROM schema_migrations ORDER BY version");
    await open();
    await expect(database.query("SELECT version, applied_at FROM schema_migrations ORDER BY version")).resolves.toEqual(
      before,
    );
  });

  it("refuses a database migrated by a newer build", async () => {
    const fresh = await createTestDatabase();
    try {
      await (await open(fresh.url)).close();
      await fresh.query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)", [SCHEMA_VERSION + 1]);
      await expect(open(fresh.url)).rejects.toThrow(
        `database schema version ${SCHEMA_VERSION + 1} is newer than this build supports (${SCHEMA_VERSION})`,
      );
    } finally {
      await fresh.drop();
    }
  });
});

describe("the store", () => {
  it("keeps everything written after close and reopen", async () => {
    const key = makeKey({ remaining: 10 });
    const first = await open();
    await first.insertKey(key, makeAudit({ keyId: key.id }));
    await first.applyUsage({
      keys: new Map([[key.id, { count: 2, lastUsedAt: NOW }]]),
      buckets: [{ keyId: key.id, hourStart: NOW, code: "VALID", count: 2 }],
      logs: [{ keyId: key.id, at: NOW, code: "VALID", context: null }],
    });
    await first.spendCredits(key.id, 4);
    await first.close();

    const second = await open();
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
  });

  it("closes once; a second close is harmless and later calls fail", async () => {
    const store = await open();
    await store.close();
    await expect(store.close()).resolves.toBeUndefined();
    await expect(store.getKeyById("x")).rejects.toThrow(/not open/);
  });

  it("lets exactly one of two replicas win a write decided against the same version", async () => {
    const [a, b] = [await open(), await open()] as [KeyStore, KeyStore];
    for (let round = 0; round < 20; round++) {
      const key = makeKey();
      await a.insertKey(key, makeAudit({ keyId: key.id }));
      const results = await Promise.allSettled([
        a.updateKey({ ...key, name: "from a", version: 2 }, makeAudit({ action: "key.update", keyId: key.id })),
        b.updateKey({ ...key, name: "from b", version: 2 }, makeAudit({ action: "key.update", keyId: key.id })),
      ]);
      const lost = results.filter((r) => r.status === "rejected");
      expect(lost).toHaveLength(1);
      expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
      const winner = results[0]?.status === "fulfilled" ? "from a" : "from b";
      await expect(b.getKeyById(key.id)).resolves.toMatchObject({ name: winner, version: 2 });
      // One audit row (the winner's) beside the create, one change for version 2.
      await expect(a.listAuditEvents({ keyId: key.id, action: "key.update" }, 10)).resolves.toHaveLength(1);
    }
  });

  it("never spends a credit twice across replicas", async () => {
    const [a, b] = [await open(), await open()] as [KeyStore, KeyStore];
    const key = makeKey({ remaining: 30 });
    await a.insertKey(key, makeAudit({ keyId: key.id }));
    const spends = Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? a : b).spendCredits(key.id, 1));
    const batches = [a, b].map((s) =>
      s.spendCreditsBatch(Array.from({ length: 10 }, () => ({ keyId: key.id, cost: 1 }))),
    );
    const results = [...(await Promise.all(spends)), ...(await Promise.all(batches)).flat()];
    expect(results.filter((r) => r !== null)).toHaveLength(30);
    await expect(a.getKeyById(key.id)).resolves.toMatchObject({ remaining: 0 });
  });
});

describe("the change record across replicas", () => {
  it("never lets a follower reading id > last skip a change committed after a larger id", async () => {
    const writers = [await open(), await open()];
    const follower = await open();
    const keys = Array.from({ length: 30 }, () => makeKey());
    const seen: number[] = [];
    const start = await follower.latestChangeId();
    let last = start;
    let writing = true;
    const follow = (async () => {
      while (writing) {
        for (const change of await follower.readChanges(last, 1_000)) {
          seen.push(change.id);
          last = change.id;
        }
      }
    })();
    await Promise.all(
      keys.map(async (key, i) => {
        const store = writers[i % 2] as KeyStore;
        await store.insertKey(key, makeAudit({ keyId: key.id }));
        await store.updateKey({ ...key, name: "renamed", version: 2 }, makeAudit({ keyId: key.id }));
      }),
    );
    writing = false;
    await follow;
    for (const change of await follower.readChanges(last, 1_000)) seen.push(change.id);
    const all = (await follower.readChanges(start, 1_000)).map((change) => change.id);
    expect(all).toHaveLength(60);
    expect(seen).toEqual(all);
  });
});

describe("when the database cannot be reached", () => {
  it("fails to open with StoreUnavailableError", async () => {
    const proxy = await startTcpProxy({ host: "127.0.0.1", port: 5432 });
    await proxy.cut();
    const url = new URL(database.url);
    url.port = String(proxy.port);
    await expect(open(url.toString(), { connectTimeoutMs: 1_000 })).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it("rejects reads and writes with StoreUnavailableError, and works again once it is back", async () => {
    const target = new URL(database.url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    try {
      const url = new URL(database.url);
      url.port = String(proxy.port);
      const store = await open(url.toString(), { connectTimeoutMs: 1_000 });
      const key = makeKey();
      await store.insertKey(key, makeAudit({ keyId: key.id }));

      await proxy.cut();
      await expect(store.getKeyById(key.id)).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(
        store.updateKey({ ...key, name: "x", version: 2 }, makeAudit({ keyId: key.id })),
      ).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.spendCredits(key.id, 1)).rejects.toBeInstanceOf(StoreUnavailableError);

      await proxy.resume();
      await vi.waitFor(() => expect(store.getKeyById(key.id)).resolves.toEqual(key), { timeout: 5_000 });
    } finally {
      await proxy.close();
    }
  });
});

describe("watchChanges", () => {
  it("wakes on each committed change and reconnects after its connection is killed", async () => {
    const store = await open();
    expect(store.watchChanges).toBeTypeOf("function");
    let wakes = 0;
    const states: boolean[] = [];
    const stop = store.watchChanges?.(
      () => {
        wakes += 1;
      },
      (connected) => states.push(connected),
    ) as () => Promise<void>;
    try {
      await vi.waitFor(() => expect(states).toEqual([true]), { timeout: 5_000 });

      const key = makeKey();
      await store.insertKey(key, makeAudit({ keyId: key.id }));
      await vi.waitFor(() => expect(wakes).toBe(1), { timeout: 5_000 });
      // A write that records no change (a spend) wakes nobody.
      await store.spendCredits(key.id, 1);

      const killed = await database.query<{ killed: boolean }>(
        `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
          WHERE query LIKE 'LISTEN%' AND datname = current_database()`,
      );
      expect(killed).toEqual([{ killed: true }]);
      await vi.waitFor(() => expect(states).toEqual([true, false, true]), { timeout: 10_000 });

      await store.updateKey({ ...key, name: "after reconnect", version: 2 }, makeAudit({ keyId: key.id }));
      await vi.waitFor(() => expect(wakes).toBe(2), { timeout: 5_000 });
    } finally {
      await stop();
    }
    // Stopped: no more callbacks.
    await store.insertKey(makeKey(), makeAudit());
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(wakes).toBe(2);
    expect(states).toEqual([true, false, true]);
  });

  it("reports the connection down while the database cannot be reached, and up again after", async () => {
    const target = new URL(database.url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const url = new URL(database.url);
    url.port = String(proxy.port);
    const store = await open(url.toString(), { connectTimeoutMs: 1_000 });
    const states: boolean[] = [];
    const stop = store.watchChanges?.(
      () => {},
      (connected) => states.push(connected),
    ) as () => Promise<void>;
    try {
      await vi.waitFor(() => expect(states).toEqual([true]), { timeout: 5_000 });
      await proxy.cut();
      await vi.waitFor(() => expect(states).toEqual([true, false]), { timeout: 5_000 });
      // Retries fail while it is away: still down, reported once.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(states).toEqual([true, false]);
      await proxy.resume();
      await vi.waitFor(() => expect(states).toEqual([true, false, true]), { timeout: 10_000 });
    } finally {
      await stop();
      await proxy.close();
    }
  });
});
