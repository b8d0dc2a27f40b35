import { type Clock, systemClock } from './clock';
import type { Listener, ResilienceEvent } from './events';

/** Latency histogram bounds (ms); p95 is reported as the bound of the bin it falls in. */
const BOUNDS = [
  1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000,
  7_500, 10_000, 15_000, 30_000, 60_000,
];

export interface DependencyStatsOptions {
  /** The recent window the figures cover. Default 60 s, kept in `buckets` (default 12) slices. */
  windowMs?: number;
  buckets?: number;
  clock?: Clock;
}

export interface DependencyStatsSnapshot {
  window_s: number;
  requests: number;
  errors: number;
  /** errors / requests over the window, 0 when idle. */
  error_rate: number;
  /** 95th percentile latency (ms, bin upper bound, ≤ 10 % over), null when idle. */
  p95_ms: number | null;
}

/**
 * Request count, error rate and p95 latency of calls to one dependency over a sliding window (the
 * design's ServiceHealthMetrics), for health bodies. Ring buckets of fixed histograms: O(1)
 * memory and time per call, nothing kept per request.
 */
export class DependencyStats {
  private readonly bucketMs: number;
  private readonly n: number;
  private readonly counts: Float64Array;
  private readonly errors: Float64Array;
  private readonly maxes: Float64Array;
  private readonly hist: Uint32Array;
  private readonly clock: Clock;
  private lastIndex = Number.NEGATIVE_INFINITY;

  constructor(options: DependencyStatsOptions = {}) {
    const windowMs = options.windowMs ?? 60_000;
    this.n = options.buckets ?? 12;
    if (!(windowMs > 0) || !(this.n >= 1)) throw new RangeError('windowMs and buckets must be positive');
    this.bucketMs = windowMs / this.n;
    this.counts = new Float64Array(this.n);
    this.errors = new Float64Array(this.n);
    this.maxes = new Float64Array(this.n);
    this.hist = new Uint32Array(this.n * (BOUNDS.length + 1));
    this.clock = options.clock ?? systemClock;
  }

  record(durationMs: number, ok: boolean): void {
    const s = this.advance(this.clock.now());
    this.counts[s]! += 1;
    if (!ok) this.errors[s]! += 1;
    if (durationMs > this.maxes[s]!) this.maxes[s] = durationMs;
    let bin = BOUNDS.findIndex((b) => durationMs <= b);
    if (bin < 0) bin = BOUNDS.length;
    this.hist[s * (BOUNDS.length + 1) + bin]! += 1;
  }

  /** Feeds on the policy's `call` events (one per call, retries included in its duration). */
  listener(): Listener<ResilienceEvent> {
    return (e) => {
      if (e.type === 'call') this.record(e.durationMs, e.outcome === 'success');
    };
  }

  snapshot(): DependencyStatsSnapshot {
    this.advance(this.clock.now());
    let requests = 0;
    let errors = 0;
    let max = 0;
    const width = BOUNDS.length + 1;
    const totals = new Array<number>(width).fill(0);
    for (let s = 0; s < this.n; s++) {
      requests += this.counts[s]!;
      errors += this.errors[s]!;
      max = Math.max(max, this.maxes[s]!);
      for (let b = 0; b < width; b++) totals[b]! += this.hist[s * width + b]!;
    }
    let p95: number | null = null;
    if (requests > 0) {
      const target = Math.ceil(requests * 0.95);
      let seen = 0;
      for (let b = 0; b < width; b++) {
        seen += totals[b]!;
        if (seen >= target) {
          // Never above the slowest call seen: a bin's bound can overstate a lone sample.
          p95 = Math.min(BOUNDS[b] ?? max, max);
          break;
        }
      }
    }
    return {
      window_s: (this.bucketMs * this.n) / 1000,
      requests,
      errors,
      error_rate: requests === 0 ? 0 : Math.round((errors / requests) * 1000) / 1000,
      p95_ms: p95 === null ? null : Math.round(p95),
    };
  }

  private advance(now: number): number {
    const index = Math.floor(now / this.bucketMs);
    if (index > this.lastIndex) {
      const from = index - this.lastIndex >= this.n ? index - this.n + 1 : this.lastIndex + 1;
      const width = BOUNDS.length + 1;
      for (let k = from; k <= index; k++) {
        const s = k % this.n;
        this.counts[s] = 0;
        this.errors[s] = 0;
        this.maxes[s] = 0;
        this.hist.fill(0, s * width, (s + 1) * width);
      }
      this.lastIndex = index;
    }
    return this.lastIndex % this.n;
  }
}
