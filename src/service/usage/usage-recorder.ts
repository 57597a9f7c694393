import type { Logger } from "pino";
import type { KeyLogEntry, UsageBatch, VerifyCode, VerifyContext } from "../keys/model.js";

const HOUR_MS = 3_600_000;
/** Beyond this many unflushed log rows (the database is failing), new rows are dropped and counted. */
const MAX_PENDING_LOGS = 500_000;

interface Sink {
  applyUsage(batch: UsageBatch): Promise<void>;
}

/**
 * Gathers usage in memory and writes it in one transaction per interval, so
 * the hot path never waits on a write. A failed flush keeps its batch and
 * merges it into the next one: usage is lost only if the process dies before
 * the next successful flush (at most one interval).
 */
export class UsageRecorder {
  private keys = new Map<string, { count: number; lastUsedAt: number; logged: number }>();
  private buckets = new Map<string, Map<string, number>>();
  private logs: KeyLogEntry[] = [];
  private dropped = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  /**
   * @param logLimitPerKey request-log rows kept per key per flush interval; a
   *   key verified thousands of times a second would otherwise write a log row
   *   each time (counts and buckets stay exact either way).
   */
  constructor(
    private readonly sink: Sink,
    private readonly logger: Logger,
    private readonly logLimitPerKey = Number.POSITIVE_INFINITY,
  ) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  record(keyId: string, code: VerifyCode, at: number, context: VerifyContext | null): void {
    let key = this.keys.get(keyId);
    if (key === undefined) {
      key = { count: 1, lastUsedAt: at, logged: 0 };
      this.keys.set(keyId, key);
    } else {
      key.count++;
      if (at > key.lastUsedAt) key.lastUsedAt = at;
    }
    const bucketKey = `${at - (at % HOUR_MS)}|${code}`;
    let perKey = this.buckets.get(keyId);
    if (perKey === undefined) {
      perKey = new Map();
      this.buckets.set(keyId, perKey);
    }
    perKey.set(bucketKey, (perKey.get(bucketKey) ?? 0) + 1);
    // Counts stay exact; the log keeps the first `logLimitPerKey` of each key per flush.
    if (key.logged >= this.logLimitPerKey) return;
    key.logged++;
    if (this.logs.length < MAX_PENDING_LOGS) this.logs.push({ keyId, at, code, context });
    else this.dropped++;
  }

  get pending(): number {
    return this.keys.size;
  }

  /** Writes what has gathered; concurrent calls share one flush. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => this.flushOnce());
    return this.flushOnce();
  }

  private flushOnce(): Promise<void> {
    if (this.keys.size === 0 && this.logs.length === 0) return Promise.resolve();
    const batch = this.take();
    this.flushing = this.sink
      .applyUsage(batch)
      .catch((error: unknown) => {
        this.logger.error({ err: error, keys: batch.keys.size }, "usage flush failed; retrying with the next flush");
        this.restore(batch);
      })
      .finally(() => {
        this.flushing = undefined;
      });
    if (this.dropped > 0) {
      this.logger.warn({ dropped: this.dropped }, "request log rows dropped while the database was failing");
      this.dropped = 0;
    }
    return this.flushing;
  }

  /** Stops the timer and writes what is left. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private take(): UsageBatch {
    const buckets: UsageBatch["buckets"] = [];
    for (const [keyId, perKey] of this.buckets) {
      for (const [bucketKey, count] of perKey) {
        const bar = bucketKey.indexOf("|");
        buckets.push({
          keyId,
          hourStart: Number(bucketKey.slice(0, bar)),
          code: bucketKey.slice(bar + 1) as VerifyCode,
          count,
        });
      }
    }
    const batch: UsageBatch = { keys: this.keys, buckets, logs: this.logs };
    this.keys = new Map();
    this.buckets = new Map();
    this.logs = [];
    return batch;
  }

  private restore(batch: UsageBatch): void {
    for (const [keyId, usage] of batch.keys) {
      const key = this.keys.get(keyId);
      if (key === undefined) this.keys.set(keyId, { ...usage, logged: 0 });
      else {
        key.count += usage.count;
        key.lastUsedAt = Math.max(key.lastUsedAt, usage.lastUsedAt);
      }
    }
    for (const bucket of batch.buckets) {
      let perKey = this.buckets.get(bucket.keyId);
      if (perKey === undefined) {
        perKey = new Map();
        this.buckets.set(bucket.keyId, perKey);
      }
      const bucketKey = `${bucket.hourStart}|${bucket.code}`;
      perKey.set(bucketKey, (perKey.get(bucketKey) ?? 0) + bucket.count);
    }
    const room = MAX_PENDING_LOGS - this.logs.length;
    this.logs = batch.logs.slice(0, Math.max(0, room)).concat(this.logs);
  }
}
