/**
 * The remaining time budget travels between services as a relative number of milliseconds, not
 * an absolute time, so that clock skew between hosts cannot shorten or stretch it.
 */
export const DEADLINE_HEADER = 'x-cortex-deadline-ms';

/** Absolute deadline (Date.now() based) from a header value, or undefined when absent/invalid. */
export function parseDeadlineHeader(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const ms = Number(value);
  if (!Number.isFinite(ms)) return undefined;
  return now + Math.floor(ms);
}
