/**
 * Two counters over a sliding time window, kept in ring buckets so that adding and reading are
 * O(1) amortised and allocate nothing. Used by the retry budget (requests, retries) and the rate
 * breaker (calls, failures).
 */
export class SlidingCounter {
  /** Sum of the first counter over the window (as of the last `advance`). */
  a = 0;
  /** Sum of the second counter over the window. */
  b = 0;
  private readonly bucketA: Float64Array;
  private readonly bucketB: Float64Array;
  private readonly bucketMs: number;
  private lastIndex = Number.NEGATIVE_INFINITY;

  constructor(windowMs: number, buckets: number) {
    if (!(windowMs > 0) || !(buckets >= 1)) throw new RangeError('windowMs and buckets must be positive');
    this.bucketA = new Float64Array(buckets);
    this.bucketB = new Float64Array(buckets);
    this.bucketMs = windowMs / buckets;
  }

  /** Drops buckets that left the window by `now`; returns the current bucket's slot. */
  advance(now: number): number {
    const n = this.bucketA.length;
    const index = Math.floor(now / this.bucketMs);
    // A clock that steps back keeps counting in the newest bucket rather than rewriting history.
    if (index > this.lastIndex) {
      if (index - this.lastIndex >= n) {
        this.bucketA.fill(0);
        this.bucketB.fill(0);
        this.a = 0;
        this.b = 0;
      } else {
        for (let k = this.lastIndex + 1; k <= index; k++) {
          const s = k % n;
          this.a -= this.bucketA[s]!;
          this.b -= this.bucketB[s]!;
          this.bucketA[s] = 0;
          this.bucketB[s] = 0;
        }
      }
      this.lastIndex = index;
    }
    return this.lastIndex % n;
  }

  add(now: number, a: number, b: number): void {
    const s = this.advance(now);
    this.bucketA[s]! += a;
    this.bucketB[s]! += b;
    this.a += a;
    this.b += b;
  }

  reset(): void {
    this.bucketA.fill(0);
    this.bucketB.fill(0);
    this.a = 0;
    this.b = 0;
  }
}
