import { type CodedError, CortexError, ERROR_CODES, type ErrorCode, hasCode } from '@cortex/errors';

// Node and undici error codes. A connect timeout counts as `connection`: the request never left,
// which is what callers of non-idempotent operations need to know.
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
const ABORT_CODES = new Set(['ABORT_ERR', 'UND_ERR_ABORTED']);

// 501 and 505 are answers about what the server can do at all, not about now.
const NEVER_RETRY_STATUS = new Set([400, 401, 403, 404, 409, 422, 501, 505]);
const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);
// Raised here, not by the dependency: retrying them cannot help (or, for circuit_open and
// bulkhead_full, would defeat the protection that raised them).
const LOCAL_FINAL = new Set<ErrorCode>([
  'circuit_open',
  'bulkhead_full',
  'aborted',
  'data_error',
  'client_error',
  'unknown',
]);

interface ForeignError {
  name?: unknown;
  code?: unknown;
  status?: unknown;
  statusCode?: unknown;
  message?: unknown;
  cause?: unknown;
  retryAfterMs?: unknown;
}

/** The code a dependency's HTTP status means to its caller. */
export function codeForUpstreamStatus(status: number): ErrorCode {
  if (status === 408 || status === 504) return 'timeout';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'server_error';
  return 'client_error';
}

/** A dependency's non-2xx answer as a CortexError that keeps the status for retry decisions. */
export function errorForStatus(status: number, message?: string, retryAfterMs?: number): CortexError {
  return new CortexError(codeForUpstreamStatus(status), message ?? `upstream answered ${status}`, {
    status,
    retryAfterMs,
  });
}

/**
 * Any thrown thing as an error with one of our codes. Errors that already carry a code (from any
 * copy of @cortex/errors, or rebuilt from a wire body) are returned unchanged; everything else
 * becomes a CortexError with the original as `cause`.
 */
export function classify(err: unknown): CodedError {
  if (hasCode(err)) return err;
  return classifyForeign(err, 0);
}

function classifyForeign(err: unknown, depth: number): CortexError {
  if (typeof err !== 'object' || err === null) {
    return new CortexError('unknown', String(err), { cause: err });
  }
  const e = err as ForeignError;
  const message = typeof e.message === 'string' ? e.message : 'error';
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (e.name === 'TimeoutError' || (code !== undefined && TIMEOUT_CODES.has(code))) {
    return new CortexError('timeout', message, { cause: err });
  }
  if (code !== undefined && CONNECTION_CODES.has(code)) {
    return new CortexError('connection', message, { cause: err });
  }
  if (e.name === 'AbortError' || (code !== undefined && ABORT_CODES.has(code))) {
    // AbortSignal.timeout() and our own timeouts surface as an abort whose cause says why.
    const inner = e.cause === undefined || depth > 2 ? undefined : classify(e.cause);
    if (inner?.code === 'timeout') return new CortexError('timeout', message, { cause: err });
    return new CortexError('aborted', message, { cause: err });
  }
  const status = typeof e.status === 'number' ? e.status : e.statusCode;
  if (typeof status === 'number' && status >= 400 && status <= 599) {
    const retryAfterMs = typeof e.retryAfterMs === 'number' ? e.retryAfterMs : undefined;
    return new CortexError(codeForUpstreamStatus(status), message, { status, retryAfterMs, cause: err });
  }
  if (e.name === 'SyntaxError' || e.name === 'ZodError') {
    return new CortexError('data_error', message, { cause: err });
  }
  // fetch() reports every transport failure as TypeError('fetch failed') with the real one as cause.
  if (e.cause !== undefined && depth < 3) {
    const inner = hasCode(e.cause) ? e.cause : classifyForeign(e.cause, depth + 1);
    if (inner.code !== 'unknown') {
      return new CortexError(inner.code, message, {
        status: inner.status,
        retryAfterMs: inner.retryAfterMs,
        cause: err,
      });
    }
  }
  return new CortexError('unknown', message, { cause: err });
}

/**
 * Whether trying again can help: timeouts, connection failures and 408/429/500/502/503/504 yes;
 * 400/401/403/404/409/422 never; and never when the upstream (or a retry layer below) set noRetry.
 */
export function isRetriable(err: CodedError): boolean {
  if (err.noRetry === true || LOCAL_FINAL.has(err.code)) return false;
  const status = err.status;
  if (status !== undefined && NEVER_RETRY_STATUS.has(status)) return false;
  if (ERROR_CODES[err.code].retriable) return true;
  return status !== undefined && RETRY_STATUS.has(status);
}

/**
 * Whether an error says the dependency is unhealthy (the breaker's default): timeouts, connection
 * failures, overload and 5xx. A bad request of ours, a caller's abort, or a local rejection is not
 * the dependency's fault and must not open its circuit.
 */
export function isUpstreamFailure(err: CodedError): boolean {
  if (LOCAL_FINAL.has(err.code)) return false;
  if (ERROR_CODES[err.code].retriable) return true;
  return (err.status ?? 0) >= 500;
}

/** The caller's own doing (an abort, or a 4xx other than 408/429): no fallback should hide it. */
export function isCallerFault(err: CodedError): boolean {
  if (err.code === 'aborted') return true;
  const status = err.status ?? ERROR_CODES[err.code].status;
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}
