import { type CodedError, CortexError, type CortexErrorOptions, type ErrorCode } from '@cortex/errors';
import { classify } from './classify';

/**
 * A CortexError without a stack trace. Rejections raised by the policies themselves (open
 * circuit, full bulkhead) happen on the hot path of an outage, where capturing a stack costs more
 * than everything else the rejection does, and the stack would only ever point at this package.
 */
export function fastError(code: ErrorCode, message: string, options?: CortexErrorOptions): CortexError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new CortexError(code, message, options);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * The error for "the signal fired": a timeout when the signal's reason is one (an outer timeout
 * layer, `AbortSignal.timeout()`), `aborted` otherwise.
 */
export function abortError(signal: AbortSignal): CodedError {
  const reason: unknown = signal.reason;
  if (reason !== undefined) {
    const classified = classify(reason);
    if (classified.code === 'timeout' || classified.code === 'aborted') return classified;
  }
  return new CortexError('aborted', 'the caller aborted the operation', { cause: reason });
}
