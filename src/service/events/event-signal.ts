/**
 * Wakes the relay's long poll when events are recorded: by this process's
 * own writes, or (through the change follower) by another replica's key
 * changes. A wake that lands between a waiter's read and its wait is not
 * lost: the waiter passes the generation it read.
 */
export class EventSignal {
  private generation = 0;
  private waiters = new Set<() => void>();
  private closed = false;

  get current(): number {
    return this.generation;
  }

  notify(): void {
    this.generation++;
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
  }

  /** Resolves after `ms`, or earlier once the generation has moved past `seen` (or the signal closed). */
  wait(ms: number, seen: number): Promise<void> {
    if (this.closed || this.generation !== seen || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  /** Ends every wait now and every later one at once (shutdown). */
  close(): void {
    this.closed = true;
    this.notify();
  }
}
