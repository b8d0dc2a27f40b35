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

/**
 * A promise that rejects one microtask from now. Node does bookkeeping for every promise rejected
 * while nothing handles it yet (for 'unhandledRejection'), and that costs more than everything
 * else a fast rejection does (~2 µs on a small machine); one microtask later the caller has
 * attached its handler and the bookkeeping is skipped. No `throw` either: throwing costs more
 * than the rest. Return it straight to the caller: an async function that `return`s it adopts it
 * a microtask too late and pays the bookkeeping anyway.
 */
export function rejectSoon<T = never>(err: unknown): Promise<T> {
  return new Promise<T>((_, reject) => queueMicrotask(() => reject(err)));
}
