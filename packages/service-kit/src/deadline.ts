export { DEADLINE_HEADER } from '@cortex/errors';

/** Absolute deadline (Date.now() based) from a header value, or undefined when absent/invalid. */
export function parseDeadlineHeader(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const ms = Number(value);
  if (!Number.isFinite(ms)) return undefined;
  return now + Math.floor(ms);
}
