import pg from "pg";
import type { Logger } from "../../../shared/logger.js";
import { isRetryable, isUnavailable, toStoreError } from "./errors.js";

/** What a write runs its statements on: the pool, or one transaction's client. */
export interface Queryable {
  query<R>(text: string, values?: readonly unknown[]): Promise<R[]>;
  /** The number of rows the statement touched. */
  run(text: string, values?: readonly unknown[]): Promise<number>;
}

const INT8_OID = 20;
const JSON_OID = 114;
const JSONB_OID = 3802;

/**
 * Type parsers of this store's connections. BIGINT (ms times, counts, ids)
 * becomes a number: every value stays below 2^53. JSON and JSONB stay text,
 * so that rows map to records exactly as SQLite's TEXT columns do (rows.ts).
 */
export const pgTypes = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (format === undefined || format === "text") {
      if (oid === INT8_OID) return (value: string) => Number(value);
      if (oid === JSON_OID || oid === JSONB_OID) return (value: string) => value;
    }
    return pg.types.getTypeParser(oid, format as "text");
  },
} as unknown as pg.CustomTypesConfig;

const MAX_ATTEMPTS = 5;

export interface PgDatabaseOptions {
  connectionString: string;
  poolSize: number;
  logger?: Logger;
  /** How long a call waits for a connection before it fails as unavailable; default 5 s. */
  connectTimeoutMs?: number;
}

/**
 * The store's pool. Every statement's failure to reach the database comes
 * out as StoreUnavailableError; a closed store refuses every call.
 */
export class PgDatabase implements Queryable {
  readonly pool: pg.Pool;
  private closed = false;

  constructor(readonly options: PgDatabaseOptions) {
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolSize,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: "keyward",
      types: pgTypes,
    });
    // An idle connection that dies (server restart, terminated backend) is
    // reported here; without a listener it would crash the process. The pool
    // drops it and the next call opens a new one.
    this.pool.on("error", (error) => {
      options.logger?.warn({ err: error }, "postgres: an idle connection failed");
    });
  }

  /** The settings a dedicated connection (LISTEN) needs: the same database, the same type parsers. */
  clientConfig(): pg.ClientConfig {
    return {
      connectionString: this.options.connectionString,
      connectionTimeoutMillis: this.options.connectTimeoutMs ?? 5_000,
      keepAlive: true,
      application_name: "keyward-listen",
      types: pgTypes,
    };
  }

  async query<R>(text: string, values?: readonly unknown[]): Promise<R[]> {
    this.assertOpen();
    try {
      return (await this.pool.query(text, values as unknown[])).rows as R[];
    } catch (error) {
      throw toStoreError(error);
    }
  }

  /** As query, as a named prepared statement: each connection parses and plans it once. */
  async queryPrepared<R>(name: string, text: string, values: readonly unknown[]): Promise<R[]> {
    this.assertOpen();
    try {
      return (await this.pool.query({ name, text, values: values as unknown[] })).rows as R[];
    } catch (error) {
      throw toStoreError(error);
    }
  }

  async run(text: string, values?: readonly unknown[]): Promise<number> {
    this.assertOpen();
    try {
      return (await this.pool.query(text, values as unknown[])).rowCount ?? 0;
    } catch (error) {
      throw toStoreError(error);
    }
  }

  /**
   * Runs `work` in one transaction on one connection (READ COMMITTED). A
   * deadlock or serialization failure rolls it back and runs it again; any
   * other error rolls it back and is thrown. Resolves after COMMIT returned,
   * i.e. once the commit is durable.
   */
  async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transactionOnce(work);
      } catch (error) {
        if (attempt < MAX_ATTEMPTS && isRetryable(error)) continue;
        throw toStoreError(error);
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private async transactionOnce<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    this.assertOpen();
    const client = await this.pool.connect();
    const tx: Queryable = {
      query: async <R>(text: string, values?: readonly unknown[]) =>
        (await client.query(text, values as unknown[])).rows as R[],
      run: async (text: string, values?: readonly unknown[]) =>
        (await client.query(text, values as unknown[])).rowCount ?? 0,
    };
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      const result = await work(tx);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      if (isUnavailable(error)) {
        broken = error as Error;
      } else {
        await client.query("ROLLBACK").catch((rollbackError: Error) => {
          broken = rollbackError;
        });
      }
      throw error;
    } finally {
      // A connection that failed mid-transaction is discarded, not reused.
      client.release(broken);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("the PostgreSQL key store is not open");
  }
}
