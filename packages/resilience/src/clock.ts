/** Opaque handle returned by `Clock.setTimeout`. */
export type TimerHandle = unknown;

/**
 * Every time-based decision goes through a Clock so that tests can drive time by hand
 * (`FakeClock`) instead of sleeping, and so that the breaker's state, the retry waits and the
 * timeouts all agree on what "now" is.
 */
export interface Clock {
  /** Milliseconds; the same scale as `AttemptContext.deadline`. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/**
 * Wall-clock time, because deadlines travel between services as absolute `Date.now()` values
 * (see service-kit's deadline header) and must be comparable with ours.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * Lets the process exit while only bookkeeping timers are pending (shared timeout ticks, breaker
 * state refreshes). Retry waits are deliberately *not* unref'd: a retry in progress is work.
 */
export function unrefTimer(handle: TimerHandle): void {
  const h = handle as { unref?: () => void } | null;
  if (typeof h === 'object' && h !== null && typeof h.unref === 'function') h.unref();
}
