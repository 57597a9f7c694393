import type { Logger } from "pino";

/**
 * Logs a recurring failure at warn at most once per interval, with how many
 * more occurred since the last line, so an outage at 15k calls/s costs one
 * log line every ten seconds instead of one per request.
 */
export class ThrottledWarning {
  private lastAt = Number.NEGATIVE_INFINITY;
  private suppressed = 0;
  private failing = false;

  constructor(
    private readonly logger: Logger | undefined,
    private readonly message: string,
    private readonly intervalMs = 10_000,
    private readonly clock: () => number = Date.now,
  ) {}

  note(err: unknown, fields: Record<string, unknown> = {}): void {
    this.failing = true;
    const now = this.clock();
    if (now - this.lastAt < this.intervalMs) {
      this.suppressed++;
      return;
    }
    this.logger?.warn({ ...fields, err, suppressed: this.suppressed }, this.message);
    this.lastAt = now;
    this.suppressed = 0;
  }

  /**
   * The failure is over. Returns true the first time after a failure, so the
   * caller can say so once. The interval still runs: a flapping dependency
   * does not log more often.
   */
  recovered(): boolean {
    const was = this.failing;
    this.failing = false;
    return was;
  }
}
