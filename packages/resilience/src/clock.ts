/** Opaque handle returned by `Clock.setTimeout`. */
export type TimerHandle = unknown;

/**
 * Every time-based decision goes through a Clock so that tests can drive time by hand
 * (`FakeClock`) instead of sleeping, and so that the breaker's state, the retry waits, the
 * timeouts and the background loops all agree on what "now" is.
 */
export interface Clock {
  /**
   * Monotonic milliseconds, for durations, deadlines and timers: never jumps when the system's
   * wall clock is set. The same scale as `AttemptContext.deadline`. Not a timestamp.
   */
  now(): number;
  /** Wall time (ms since the epoch), only where a timestamp is meant: token claims, stored dates. */
  wallNow(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

// Anchored at the epoch time the process started, so a monotonic reading is close to Date.now()
// (a value that slipped through unconverted is only off by the wall clock's later adjustments).
const origin = performance.timeOrigin;

/**
 * The process's clock. Deadlines travel between services as remaining milliseconds (the deadline
 * header), never as absolute times, so `now()` only has to agree with itself within a process:
 * it is monotonic, and a wall-clock step (NTP, a VM resumed) cannot fire or starve a timeout.
 */
export const systemClock: Clock = {
  now: () => origin + performance.now(),
  wallNow: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * Lets the process exit while only bookkeeping timers are pending (shared timeout ticks, breaker
 * state refreshes, background probes). Retry waits of a call are deliberately *not* unref'd: a
 * retry in progress is work.
 */
export function unrefTimer(handle: TimerHandle): void {
  const h = handle as { unref?: () => void } | null;
  if (typeof h === 'object' && h !== null && typeof h.unref === 'function') h.unref();
}
