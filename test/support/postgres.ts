import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll } from "vitest";

/** The server the tests create their databases on; PostgreSQL must be running there (the tests fail otherwise). */
export const TEST_PG_URL = process.env.KEYWARD_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export interface TestDatabase {
  /** The new database's URL. */
  url: string;
  name: string;
  /** Runs SQL on the database with a short-lived connection. */
  query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]>;
  /** Drops the database, closing whatever is still connected to it. */
  drop(): Promise<void>;
}

async function onServer<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${url} (set KEYWARD_TEST_PG_URL, or start it: ` +
        "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)",
      { cause: error },
    );
  }
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Creates an empty database `keyward_test_<random>` on TEST_PG_URL's server. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `keyward_test_${randomBytes(6).toString("hex")}`;
  await onServer(TEST_PG_URL, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(TEST_PG_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    query: (text, values) => onServer(url.toString(), async (client) => (await client.query(text, values)).rows),
    drop: () =>
      onServer(
        TEST_PG_URL,
        async (client) => void (await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)),
      ),
  };
}

/**
 * Registers hooks that create a database for this test file (beforeAll) and
 * drop it (afterAll); returns its accessor. When PostgreSQL cannot be
 * reached, every test that asks for the database fails with that error
 * (vitest would only mark them skipped if the hook threw).
 */
export function databaseForThisFile(): () => TestDatabase {
  let database: TestDatabase | undefined;
  let failure: unknown;
  beforeAll(async () => {
    try {
      database = await createTestDatabase();
    } catch (error) {
      failure = error;
    }
  });
  afterAll(async () => {
    await database?.drop();
  });
  return () => {
    if (database === undefined) throw failure ?? new Error("the test database is created in beforeAll");
    return database;
  };
}
