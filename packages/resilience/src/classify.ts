import {
  type CodedError,
  CortexError,
  ERROR_CODES,
  type ErrorCode,
  fromErrorBody,
  hasCode,
} from '@cortex/errors';

// Transport failures, by the `code` Node (libuv, getaddrinfo) and undici put on their errors. Every
// one is the dependency (or the path to it) failing, not our request being wrong: retriable and
// counted by the breaker. A connect timeout counts as `connection`: the request never left, which
// is what callers of non-idempotent operations need to know.
const CONNECTION_CODES = new Set([
  // The peer, or the path to it.
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ENOTCONN',
  'ENETRESET',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'EPROTO',
  // Name resolution (a name that does not resolve now may resolve after a redeploy).
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NONAME',
  'EAI_NODATA',
  // undici.
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_PRX_TLS',
]);
const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
const ABORT_CODES = new Set(['ABORT_ERR', 'UND_ERR_ABORTED']);
// An answer that arrived but cannot be read: retrying the same instance gets the same bytes.
const DATA_CODES = new Set([
  'UND_ERR_HEADERS_OVERFLOW',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_RES_EXCEEDED_MAX_SIZE',
]);

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
  errors?: unknown;
}

/**
 * The code a dependency's HTTP status means to its caller; the one mapping every client uses. 503
 * is `service_unavailable` (what our services answer when their own dependency is away), any other
 * 5xx a `server_error`.
 */
export function codeForUpstreamStatus(status: number): ErrorCode {
  if (status === 408 || status === 504) return 'timeout';
  if (status === 429) return 'rate_limited';
  if (status === 503) return 'service_unavailable';
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
  // llhttp's parse errors (HPE_*) and undici's unreadable answers.
  if (code !== undefined && (DATA_CODES.has(code) || code.startsWith('HPE_'))) {
    return new CortexError('data_error', message, { cause: err });
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
  // Happy eyeballs (autoSelectFamily) fails with an AggregateError of one error per address.
  if (Array.isArray(e.errors) && e.errors.length > 0 && depth < 3) {
    const inner = classifyForeign(e.errors[0], depth + 1);
    if (inner.code !== 'unknown') return new CortexError(inner.code, message, { cause: err });
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

// The upstream refused *this service's* credentials (a secret that differs between the two, a
// clock far off): our misconfiguration, never the end client's, so it must not reach the client
// as its own 401/403. It is a bad gateway that retrying cannot fix.
const REFUSED_US = new Set<ErrorCode>(['unauthorized', 'forbidden']);

/**
 * What an upstream's code means here. Its own failure (a tool that crashed) is a bad gateway, not
 * our internal error; a code outside the taxonomy means what its status means (a 429 with a code
 * of its own is still "slow down"); every other code keeps its meaning and its retriability.
 */
function relabel(code: ErrorCode, status: number): ErrorCode {
  if (code === 'unknown') return codeForUpstreamStatus(status);
  if (REFUSED_US.has(code)) return 'server_error';
  if (status >= 500 && (code === 'tool_execution_error' || code === 'internal_error')) return 'server_error';
  return code;
}

/**
 * A service's non-2xx answer (or in-band error item) as a CortexError. Our own services speak the
 * taxonomy, so a 4xx or 5xx keeps the upstream's code (a caller can tell `service_unavailable`
 * from `tool_execution_error`); without an error body the status decides. The status travels
 * along for retry classification; the message names the service, never its address.
 */
export function errorFromResponse(
  service: string,
  status: number,
  body: unknown,
  retryAfterMs: number | undefined,
): CortexError {
  const fromBody = fromErrorBody(status, body, retryAfterMs);
  if (fromBody) {
    const code = relabel(fromBody.code, status);
    const foreign = fromBody.code === 'unknown';
    const upstreamCode = foreign
      ? (fromBody.details as { upstream_code?: string }).upstream_code
      : fromBody.code;
    const upstreamDetails = foreign ? (fromBody.details as { details?: unknown }).details : fromBody.details;
    const refusedUs = REFUSED_US.has(fromBody.code);
    return new CortexError(code, `${service}: ${fromBody.message}`, {
      status: refusedUs ? 502 : status,
      noRetry: refusedUs,
      details: {
        service,
        upstream_status: status,
        ...(code === fromBody.code ? {} : { upstream_code: upstreamCode }),
        ...(upstreamDetails === undefined ? {} : { upstream: upstreamDetails }),
      },
      retryAfterMs: fromBody.retryAfterMs,
    });
  }
  if (status === 401 || status === 403) {
    return new CortexError('server_error', `${service} answered ${status}`, {
      status: 502,
      noRetry: true,
      details: { service, upstream_status: status },
    });
  }
  return new CortexError(codeForUpstreamStatus(status), `${service} answered ${status}`, {
    status,
    details: { service, upstream_status: status },
    retryAfterMs,
  });
}

// Transport messages name the service, never the address undici's own messages carry.
const TRANSPORT_MESSAGES: Partial<Record<ErrorCode, (service: string) => string>> = {
  timeout: (s) => `${s} did not answer in time`,
  connection: (s) => `${s} could not be reached`,
  data_error: (s) => `${s} answered with a malformed body`,
  aborted: (s) => `call to ${s} was aborted`,
};

/**
 * A call that got no (readable) HTTP answer as a CortexError, classified by `classify`. When the
 * call's signal fired, its reason decides: a timeout of ours (or an AbortSignal.timeout) is a
 * `timeout`, anything else the caller's abort, whatever undici made of it.
 */
export function errorFromTransport(service: string, err: unknown, signal?: AbortSignal): CodedError {
  if (hasCode(err)) return err;
  const details = { service };
  if (signal?.aborted) {
    const reason: unknown = signal.reason;
    if (hasCode(reason)) return reason;
    const code = (reason as { name?: unknown } | undefined)?.name === 'TimeoutError' ? 'timeout' : 'aborted';
    return new CortexError(code, TRANSPORT_MESSAGES[code]?.(service) ?? service, { cause: err, details });
  }
  const classified = classify(err);
  const message =
    (err as { name?: unknown } | undefined)?.name === 'SyntaxError'
      ? `${service} answered with malformed JSON`
      : (TRANSPORT_MESSAGES[classified.code]?.(service) ?? `call to ${service} failed`);
  return new CortexError(classified.code, message, {
    status: classified.status,
    retryAfterMs: classified.retryAfterMs,
    cause: err,
    details,
  });
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
