/**
 * The remaining time budget travels between services as a relative number of milliseconds, not
 * an absolute time, so that clock skew between hosts cannot shorten or stretch it.
 */
export const DEADLINE_HEADER = 'x-cortex-deadline-ms';
