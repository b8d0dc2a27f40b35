import { ERROR_CODES, type ErrorCode, isErrorCode } from './codes';

export interface CortexErrorOptions {
  /** HTTP status; defaults to the code's status. */
  status?: number;
  details?: unknown;
  /** When the caller may try again, in milliseconds from now. */
  retryAfterMs?: number;
  cause?: unknown;
  /** Set by an upstream that says "do not retry" (overload, or a budget it spent). */
  noRetry?: boolean;
}

/**
 * The error every package throws. Match it with `hasCode(err, 'timeout')`, not `instanceof`:
 * two copies of this package (or an error rebuilt from a wire body) must compare equal.
 */
export class CortexError extends Error {
  override readonly name = 'CortexError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;
  readonly retryAfterMs: number | undefined;
  readonly noRetry: boolean;

  constructor(code: ErrorCode, message: string, options: CortexErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? ERROR_CODES[code].status;
    this.details = options.details;
    this.retryAfterMs = options.retryAfterMs;
    this.noRetry = options.noRetry ?? false;
  }

  get retriable(): boolean {
    return !this.noRetry && ERROR_CODES[this.code].retriable;
  }
}

export interface CodedError {
  code: ErrorCode;
  message: string;
  status?: number;
  retryAfterMs?: number | undefined;
  noRetry?: boolean;
  details?: unknown;
}

/** True when `err` carries one of our codes (and, if given, that one), whatever created it. */
export function hasCode(err: unknown, code?: ErrorCode): err is CodedError {
  if (typeof err !== 'object' || err === null) return false;
  const c = (err as { code?: unknown }).code;
  return isErrorCode(c) && (code === undefined || c === code);
}
