/**
 * The PostgreSQL side of bench/replicas.ts: a database of its own
 * (`keyward_bench_<random>` on BENCH_PG_URL's server, dropped at the end),
 * migrated by the service's own store, and seeded with exactly the keys of a
 * SQLite seed (bench/seed.ts), so that both stores hold the same keys and the
 * same token files serve both.
 */
import { randomBytes } from "node:crypto";
import Database from "better-sqlite3";
import pg from "pg";
import { createPostgresKeyStore } from "../../src/service/store/postgres/postgres-key-store.js";
import { insertSql, KEY_COLUMN_NAMES, keyToRow, valuesOf } from "../../src/service/store/postgres/rows.js";
import { type KeyColumns, keyFromColumns } from "../../src/service/store/sqlite/rows.js";

/** The server the bench creates its database on (trust auth on this machine). */
export const BENCH_PG_URL = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export interface BenchDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

async function onServer<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function createBenchDatabase(): Promise<BenchDatabase> {
  const name = `keyward_bench_${randomBytes(5).toString("hex")}`;
  await onServer(BENCH_PG_URL, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(BENCH_PG_URL);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      await onServer(BENCH_PG_URL, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** Rows per INSERT: 30-odd columns each stay well under PostgreSQL's 65,535 bind parameters. */
const BATCH = 1000;

/**
 * Migrates the database through PostgresKeyStore (as a replica would at
 * start) and copies every key of the SQLite file into it. Returns the count.
 */
export async function seedPostgresFromSqlite(url: string, sqliteFile: string): Promise<number> {
  await (await createPostgresKeyStore({ connectionString: url, inactiveDays: 30 })).close();
  const sqlite = new Database(sqliteFile, { readonly: true });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let copied = 0;
  try {
    const single = insertSql("keys", KEY_COLUMN_NAMES);
    const values = single.slice(single.indexOf(" VALUES "));
    const head = single.slice(0, single.indexOf(" VALUES "));
    const rows = sqlite.prepare("SELECT * FROM keys ORDER BY rowid").iterate() as IterableIterator<KeyColumns>;
    let batch: unknown[][] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const width = KEY_COLUMN_NAMES.length;
      const tuples = batch.map((_, r) => `(${KEY_COLUMN_NAMES.map((__, c) => `$${r * width + c + 1}`).join(", ")})`);
      await client.query(`${head} VALUES ${tuples.join(", ")}`, batch.flat());
      copied += batch.length;
      batch = [];
    };
    if (!values.includes("$1")) throw new Error("unexpected INSERT shape");
    await client.query("BEGIN");
    for (const columns of rows) {
      batch.push(valuesOf(keyToRow(keyFromColumns(columns)), KEY_COLUMN_NAMES));
      if (batch.length >= BATCH) await flush();
    }
    await flush();
    await client.query("COMMIT");
    await client.query("ANALYZE");
  } finally {
    sqlite.close();
    await client.end().catch(() => {});
  }
  return copied;
}

/** The pids of the server processes (backends) connected to `database` now. */
export async function backendPids(database: string): Promise<number[]> {
  return onServer(BENCH_PG_URL, async (client) => {
    const result = await client.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = $1", [
      database,
    ]);
    return result.rows.map((r) => r.pid);
  });
}
