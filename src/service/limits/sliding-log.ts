/**
 * The log of one (key, rule): the time and cost of every allowed request
 * still inside the window, oldest first, in a ring buffer that grows by
 * doubling. An entry made at `t` counts during `[t, t + windowMs)`.
 *
 * Requests made in the same millisecond share one entry (they leave the window
 * together), so a log never holds more than min(limit, windowMs) entries.
 */
export class SlidingLog {
  /** Sum of the costs held: the units used in the current window (after `trim`). */
  used = 0;
  /** Entry i at [2i] (time, ms) and [2i + 1] (cost): one allocation, and both on one cache line. */
  private entries: Float64Array;
  private capacityMask: number;
  private head = 0;
  private count = 0;

  constructor(
    readonly name: string,
    initialCapacity = 2,
  ) {
    // A power of two, so wrapping is a mask rather than a modulo.
    let capacity = 1;
    while (capacity < initialCapacity) capacity *= 2;
    this.entries = new Float64Array(capacity * 2);
    this.capacityMask = capacity - 1;
  }

  /** Entries the buffer can hold before it grows; what the memory budget counts. */
  get capacity(): number {
    return this.capacityMask + 1;
  }

  /** Drops the entries that have left the window ending at `now`. */
  trim(now: number, windowMs: number): void {
    const cutoff = now - windowMs;
    const entries = this.entries;
    while (this.count > 0 && (entries[this.head * 2] as number) <= cutoff) {
      this.used -= entries[this.head * 2 + 1] as number;
      this.head = (this.head + 1) & this.capacityMask;
      this.count--;
    }
  }

  /**
   * Records `cost` units at `now`. Returns true when the buffer grew, so the
   * owner can update its memory account. A clock that steps back is recorded
   * at the newest time instead: the entry then leaves the window later, never
   * earlier, so the limit still holds.
   */
  add(now: number, cost: number): boolean {
    if (cost === 0) return false;
    this.used += cost;
    if (this.count > 0) {
      const last = ((this.head + this.count - 1) & this.capacityMask) * 2;
      if (now <= (this.entries[last] as number)) {
        this.entries[last + 1] = (this.entries[last + 1] as number) + cost;
        return false;
      }
    }
    const grew = this.count === this.capacity;
    if (grew) this.grow();
    const at = ((this.head + this.count) & this.capacityMask) * 2;
    this.entries[at] = now;
    this.entries[at + 1] = cost;
    this.count++;
    return grew;
  }

  /**
   * When at least `units` units will have left the window (the time a refused
   * request would pass). With `units` above what is held, when the log empties.
   */
  freedAt(units: number, now: number, windowMs: number): number {
    if (this.count === 0) return now;
    let freed = 0;
    let at = 0;
    for (let i = 0; i < this.count; i++) {
      at = ((this.head + i) & this.capacityMask) * 2;
      freed += this.entries[at + 1] as number;
      if (freed >= units) break;
    }
    return (this.entries[at] as number) + windowMs;
  }

  /** When the window is fully refilled: the newest entry leaves it (or `now` if none). */
  emptyAt(now: number, windowMs: number): number {
    if (this.count === 0) return now;
    const last = ((this.head + this.count - 1) & this.capacityMask) * 2;
    return (this.entries[last] as number) + windowMs;
  }

  private grow(): void {
    const capacity = this.capacity;
    const entries = new Float64Array(capacity * 4);
    // Unwrap so the oldest entry lands at index 0: two copies, the part after head, then before.
    entries.set(this.entries.subarray(this.head * 2), 0);
    entries.set(this.entries.subarray(0, this.head * 2), (capacity - this.head) * 2);
    this.entries = entries;
    this.capacityMask = capacity * 2 - 1;
    this.head = 0;
  }
}
