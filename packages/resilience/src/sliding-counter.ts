/**
 * Two counters over a sliding time window, kept in ring buckets so that adding and reading are
 * O(1) amortised and allocate nothing: `events`, and how many were `marked`. The rate breaker
 * counts calls and the failures among them; the retry budget requests and the retries spent.
 */
export class SlidingCounter {
  /** Events over the window (as of the last `advance`). */
  events = 0;
  /** Marked events over the window. */
  marked = 0;
  private readonly eventBuckets: Float64Array;
  private readonly markedBuckets: Float64Array;
  private readonly bucketMs: number;
  private lastIndex = Number.NEGATIVE_INFINITY;

  constructor(windowMs: number, buckets: number) {
    if (!(windowMs > 0) || !(buckets >= 1)) throw new RangeError('windowMs and buckets must be positive');
    this.eventBuckets = new Float64Array(buckets);
    this.markedBuckets = new Float64Array(buckets);
    this.bucketMs = windowMs / buckets;
  }

  /** Drops buckets that left the window by `now`; returns the current bucket's slot. */
  advance(now: number): number {
    const n = this.eventBuckets.length;
    const index = Math.floor(now / this.bucketMs);
    // A clock that steps back keeps counting in the newest bucket rather than rewriting history.
    if (index > this.lastIndex) {
      if (index - this.lastIndex >= n) {
        this.eventBuckets.fill(0);
        this.markedBuckets.fill(0);
        this.events = 0;
        this.marked = 0;
      } else {
        for (let k = this.lastIndex + 1; k <= index; k++) {
          const s = k % n;
          this.events -= this.eventBuckets[s]!;
          this.marked -= this.markedBuckets[s]!;
          this.eventBuckets[s] = 0;
          this.markedBuckets[s] = 0;
        }
      }
      this.lastIndex = index;
    }
    return this.lastIndex % n;
  }

  add(now: number, events: number, marked: number): void {
    const s = this.advance(now);
    this.eventBuckets[s]! += events;
    this.markedBuckets[s]! += marked;
    this.events += events;
    this.marked += marked;
  }

  reset(): void {
    this.eventBuckets.fill(0);
    this.markedBuckets.fill(0);
    this.events = 0;
    this.marked = 0;
  }
}
