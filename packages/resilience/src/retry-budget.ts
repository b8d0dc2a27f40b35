import { type Clock, systemClock } from './clock';
import { SlidingCounter } from './sliding-counter';

export interface RetryBudgetOptions {
  /** Retries allowed as a fraction of the requests seen in the window. Default 0.2. */
  ratio?: number;
  /**
   * Retries per second allowed however little traffic there is, so that a quiet service still
   * retries a blip. A minimum, not an addition: max(ratio × requests, this × window seconds).
   * Default 1.
   */
  minRetriesPerSecond?: number;
  /** Sliding window length. Default 10 000 ms. */
  windowMs?: number;
  /** Buckets the window is kept in (its granularity). Default 10. */
  buckets?: number;
  clock?: Clock;
}

/**
 * Caps retries to one upstream as a share of recent requests (Finagle / Linkerd style). Per-call
 * attempt limits multiply under a full outage (every request makes maxAttempts calls); a budget
 * keeps a dead upstream at about 1 + ratio calls per request, while a healthy one that fails
 * occasionally still gets every retry it needs. Share one budget per upstream.
 *
 * The floor is a minimum rather than added on top so that, under load, 1 + ratio is a hard bound.
 */
export class RetryBudget {
  readonly ratio: number;
  readonly minRetries: number;
  private readonly counter: SlidingCounter;
  private readonly clock: Clock;

  constructor(options: RetryBudgetOptions = {}) {
    const windowMs = options.windowMs ?? 10_000;
    this.ratio = options.ratio ?? 0.2;
    this.minRetries = (options.minRetriesPerSecond ?? 1) * (windowMs / 1000);
    if (!(this.ratio >= 0) || !(this.minRetries >= 0)) throw new RangeError('budget must be >= 0');
    this.counter = new SlidingCounter(windowMs, options.buckets ?? 10);
    this.clock = options.clock ?? systemClock;
  }

  /** Counts a first attempt (a client request). */
  recordRequest(): void {
    this.counter.add(this.clock.now(), 1, 0);
  }

  /** Takes one retry from the budget; false when it is spent. */
  tryAcquire(): boolean {
    const now = this.clock.now();
    this.counter.advance(now);
    const allowed = Math.max(this.ratio * this.counter.events, this.minRetries);
    if (this.counter.marked + 1 > allowed) return false;
    this.counter.add(now, 0, 1);
    return true;
  }

  /** Requests and retries in the current window. */
  get usage(): { requests: number; retries: number } {
    this.counter.advance(this.clock.now());
    return { requests: this.counter.events, retries: this.counter.marked };
  }
}
