import type { Logger } from "../../shared/logger.js";
import { within } from "../../shared/within.js";
import type { KeyChange, KeyStore } from "../store/key-store.js";

/** Changes read per query while catching up. */
const PAGE = 1000;
/** How often the lag is compared with the bound. */
const CHECK_EVERY_MS = 50;

export interface ChangeFollowerOptions {
  store: Pick<KeyStore, "readChanges" | "latestChangeId" | "watchChanges">;
  /** Applies changes to this process's cache, oldest first. */
  apply(changes: readonly KeyChange[]): void;
  /**
   * Called with false when this process has not been able to read the
   * changes for longer than `maxLagMs` (its cache must not be trusted), and
   * with true once it has caught up again.
   */
  onTrusted(trusted: boolean): void;
  /** The bound on how long the cache may go without reading the changes. */
  maxLagMs: number;
  /** Polling interval with no push (SQLite) or while the push connection is down. */
  pollMs: number;
  /** Polling interval while push works: a heartbeat that proves the database answers. */
  heartbeatMs: number;
  logger?: Logger;
  /** Real time; a test's moved clock must not make the cache look stale. */
  clock?: () => number;
}

/**
 * Follows the store's record of key changes so that this process's
 * verification cache agrees with every other process on the same database.
 * With push (PostgreSQL LISTEN) a commit wakes it at once and a slow
 * heartbeat proves the database is still reachable; without push it polls.
 * The lag is the time since the start of the last read that succeeded: past
 * `maxLagMs` the cache is not trusted until a read succeeds again.
 */
export class ChangeFollower {
  private lastId = 0;
  private lastSyncedAt: number;
  private trusted = true;
  private pushConnected = false;
  private reading = false;
  private again = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly checker: NodeJS.Timeout;
  private stopWatching: (() => Promise<void>) | undefined;
  private readonly clock: () => number;
  private failures = 0;

  private constructor(private readonly options: ChangeFollowerOptions) {
    this.clock = options.clock ?? Date.now;
    this.lastSyncedAt = this.clock();
    this.checker = setInterval(() => this.checkLag(), CHECK_EVERY_MS);
    this.checker.unref();
  }

  /** Starts from the newest change: the cache is empty, so nothing before it matters. */
  static async start(options: ChangeFollowerOptions): Promise<ChangeFollower> {
    const follower = new ChangeFollower(options);
    follower.lastId = await options.store.latestChangeId();
    follower.lastSyncedAt = follower.clock();
    follower.stopWatching = options.store.watchChanges?.(
      () => follower.wake(),
      (connected) => follower.setPushConnected(connected),
    );
    follower.schedule();
    return follower;
  }

  /** Milliseconds since the last read of the changes that succeeded. */
  get lagMs(): number {
    return Math.max(0, this.clock() - this.lastSyncedAt);
  }

  get isTrusted(): boolean {
    return this.trusted;
  }

  /** Reads whatever has been recorded since the last read, now. */
  wake(): void {
    if (this.stopped) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    void this.read();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.checker);
    await this.stopWatching?.();
  }

  private setPushConnected(connected: boolean): void {
    this.pushConnected = connected;
    // Back from a drop: read what was committed while nobody listened.
    if (connected) this.wake();
    else this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const delay = this.pushConnected ? this.options.heartbeatMs : this.options.pollMs;
    this.timer = setTimeout(() => void this.read(), delay);
    this.timer.unref();
  }

  private async read(): Promise<void> {
    this.reading = true;
    const startedAt = this.clock();
    try {
      for (;;) {
        const changes = await within(this.options.store.readChanges(this.lastId, PAGE), this.readTimeoutMs);
        if (changes === undefined) throw new Error(`no answer within ${this.readTimeoutMs} ms`);
        if (changes.length > 0) {
          this.options.apply(changes);
          this.lastId = (changes[changes.length - 1] as KeyChange).id;
        }
        if (changes.length < PAGE) break;
      }
      this.lastSyncedAt = startedAt;
      if (this.failures > 0) this.options.logger?.info({ failures: this.failures }, "reading key changes again");
      this.failures = 0;
      if (!this.trusted && this.lagMs <= this.options.maxLagMs) this.setTrusted(true);
    } catch (error) {
      if (this.failures++ === 0) this.options.logger?.warn({ err: error }, "cannot read key changes");
    } finally {
      this.reading = false;
    }
    if (this.again) {
      this.again = false;
      this.wake();
    } else {
      this.schedule();
    }
  }

  /** A read stuck on a dead connection must not stall the follower for good. */
  private get readTimeoutMs(): number {
    return Math.max(100, Math.floor(this.options.maxLagMs / 2));
  }

  private checkLag(): void {
    if (this.trusted && this.lagMs > this.options.maxLagMs) this.setTrusted(false);
  }

  private setTrusted(trusted: boolean): void {
    this.trusted = trusted;
    if (trusted) {
      this.options.logger?.info("caught up with key changes: serving from cache again");
    } else {
      this.options.logger?.error(
        { lagMs: this.lagMs, maxLagMs: this.options.maxLagMs },
        "key changes not read within the bound: NOT_SERVING, every verification reads the database",
      );
    }
    this.options.onTrusted(trusted);
  }
}
