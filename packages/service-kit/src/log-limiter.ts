import { type Clock, systemClock } from '@cortex/resilience';

export interface LogLimiterOptions {
  /** Lines per key per window. Default 5. */
  perWindow?: number;
  /** Default 10 s. */
  windowMs?: number;
  /** Keys tracked at once; past it new keys are suppressed too (an outage cannot grow the map). */
  maxKeys?: number;
  clock?: Clock;
}

interface KeyState {
  start: number;
  count: number;
  suppressed: number;
  timer: unknown;
}

/**
 * At most `perWindow` lines per key per window, then one summary line with the suppressed count
 * when the window ends (a timer, so the count is told even when the outage, and the lines, stop).
 * So an outage logs at most `keys × (perWindow + 1)` lines per window, however heavy the load.
 */
export class LogLimiter {
  private readonly perWindow: number;
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly clock: Clock;
  private readonly keys = new Map<string, KeyState>();
  private overflow = 0;

  constructor(
    private readonly summary: (key: string, suppressed: number, windowMs: number) => void,
    options: LogLimiterOptions = {},
  ) {
    this.perWindow = options.perWindow ?? 5;
    this.windowMs = options.windowMs ?? 10_000;
    this.maxKeys = options.maxKeys ?? 1_000;
    this.clock = options.clock ?? systemClock;
  }

  /** Whether a line for `key` may be written now; if not, it is counted for the summary. */
  allow(key: string): boolean {
    const now = this.clock.now();
    let state = this.keys.get(key);
    if (state !== undefined && now - state.start >= this.windowMs) {
      this.end(key, state);
      state = undefined;
    }
    if (state === undefined) {
      if (this.keys.size >= this.maxKeys) {
        this.overflow++;
        return false;
      }
      state = { start: now, count: 0, suppressed: 0, timer: undefined };
      this.keys.set(key, state);
    }
    if (state.count < this.perWindow) {
      state.count++;
      return true;
    }
    if (state.suppressed++ === 0) {
      const s = state;
      s.timer = this.clock.setTimeout(() => this.end(key, s), Math.max(1, s.start + this.windowMs - now));
      (s.timer as { unref?: () => void } | null)?.unref?.();
    }
    return false;
  }

  /** Tells every pending suppressed count now (at shutdown). */
  flush(): void {
    for (const [key, state] of [...this.keys]) this.end(key, state);
    if (this.overflow > 0) {
      this.summary('(keys)', this.overflow, this.windowMs);
      this.overflow = 0;
    }
  }

  private end(key: string, state: KeyState): void {
    if (this.keys.get(key) !== state) return;
    this.keys.delete(key);
    if (state.timer !== undefined) this.clock.clearTimeout(state.timer);
    if (state.suppressed > 0) this.summary(key, state.suppressed, this.windowMs);
  }
}
