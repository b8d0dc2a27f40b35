/**
 * How retry delays are spread. `full` (the default) draws from [0, exp]: it spreads a herd of
 * clients best (AWS "Exponential Backoff and Jitter"). `equal` keeps at least half of exp,
 * `decorrelated` grows from the previous delay, `none` is the bare exponential (tests, demos).
 */
export type Jitter = 'full' | 'equal' | 'decorrelated' | 'none';

export interface BackoffOptions {
  baseDelayMs: number;
  maxDelayMs: number;
  jitter: Jitter;
  /** Growth per attempt of the exponential part. Default 2. */
  multiplier?: number;
}

/**
 * The delay before the next attempt: `min(cap, base · multiplier^(attempt-1))`, jittered,, after `attempt` (1-based) failed. `previousMs` is the last
 * delay returned (0 before the first), used only by decorrelated jitter.
 */
export function backoffDelay(
  options: BackoffOptions,
  attempt: number,
  previousMs: number,
  random: () => number,
): number {
  const { baseDelayMs: base, maxDelayMs: cap } = options;
  const multiplier = options.multiplier ?? 2;
  // Capped before exponentiating further so that a long retry loop cannot overflow to Infinity.
  const exp = Math.min(cap, base * multiplier ** Math.min(attempt - 1, 52));
  switch (options.jitter) {
    case 'none':
      return exp;
    case 'full':
      return Math.round(random() * exp);
    case 'equal':
      return Math.round(exp / 2 + (random() * exp) / 2);
    case 'decorrelated': {
      const prev = previousMs > 0 ? previousMs : base;
      const upper = Math.max(base, prev * 3);
      return Math.min(cap, Math.round(base + random() * (upper - base)));
    }
  }
}
