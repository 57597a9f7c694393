import type { PgDatabase } from "./database.js";
import { KEY_COLUMN_NAMES, type KeyRow } from "./rows.js";

/** Hashes asked for in one turn of the event loop, read by one query. */
const MAX_BATCH = 256;

interface Pending {
  hash: string;
  resolve(row: KeyRow | undefined): void;
  reject(error: unknown): void;
}

/**
 * The verification cache's miss path on PostgreSQL. Misses come in bursts
 * (a deploy, a cache too small for the working set), and each one alone
 * would cost a pool connection and a round trip: those asked for in the
 * same turn of the event loop go out as one `hash = ANY($1)` query, a
 * prepared statement, instead.
 */
/**
 * The columns by name, never `*`: a prepared `SELECT *` fails ("cached plan
 * must not change result type") on every connection that prepared it once a
 * newer build's migration adds a column, which is what replicas of the
 * previous build meet during a rolling upgrade.
 */
const BY_HASHES = `SELECT ${KEY_COLUMN_NAMES.join(", ")} FROM keys WHERE hash = ANY($1::text[])`;

export class HashLookups {
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(private readonly db: Pick<PgDatabase, "queryPrepared">) {}

  get(hash: string): Promise<KeyRow | undefined> {
    return new Promise((resolve, reject) => {
      this.pending.push({ hash, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const all = this.pending;
    this.pending = [];
    for (let i = 0; i < all.length; i += MAX_BATCH) void this.read(all.slice(i, i + MAX_BATCH));
  }

  private async read(batch: Pending[]): Promise<void> {
    try {
      const hashes = [...new Set(batch.map((p) => p.hash))];
      const rows = await this.db.queryPrepared<KeyRow>("keyward_keys_by_hashes", BY_HASHES, [hashes]);
      const byHash = new Map(rows.map((row) => [row.hash, row]));
      for (const p of batch) p.resolve(byHash.get(p.hash));
    } catch (error) {
      for (const p of batch) p.reject(error);
    }
  }
}
