import { systemClock } from '@cortex/resilience';

export { DEADLINE_HEADER } from '@cortex/errors';

/**
 * Absolute deadline on the clock's scale (`Clock.now()`, `now` its current reading) from the
 * header's remaining milliseconds, or undefined when absent/invalid.
 */
export function parseDeadlineHeader(value: unknown, now = systemClock.now()): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const ms = Number(value);
  if (!Number.isFinite(ms)) return undefined;
  return now + Math.floor(ms);
}
