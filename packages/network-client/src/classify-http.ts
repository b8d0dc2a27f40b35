import { CortexError, type ErrorCode, fromErrorBody, hasCode } from '@cortex/errors';

/** Retry-After as milliseconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  const t = v.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  // Only an HTTP date is read as a date: V8's lenient Date.parse takes "1.5" for 2001-01-05,
  // which would make a fractional or negative value mean "now".
  if (!/^[A-Za-z]{3},? .*\d{2}:\d{2}:\d{2} GMT$/.test(t)) return undefined;
  const at = Date.parse(t);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function codeForUpstreamStatus(status: number): ErrorCode {
  if (status === 408 || status === 504) return 'timeout';
  if (status === 429) return 'rate_limited';
  if (status === 503) return 'service_unavailable';
  if (status >= 500) return 'server_error';
  return 'client_error';
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
 * An upstream's non-2xx answer as a CortexError. A 4xx keeps the upstream's code (our own services
 * speak the taxonomy), a 5xx keeps it too, so a caller can tell `service_unavailable` (database down)
 * from `tool_execution_error`. The upstream's status travels along for retry classification.
 */
export function errorFromResponse(
  service: string,
  status: number,
  body: unknown,
  retryAfterMs: number | undefined,
) {
  const fromBody = fromErrorBody(status, body, retryAfterMs);
  if (fromBody) {
    const code = relabel(fromBody.code, status);
    const upstreamCode =
      fromBody.code === 'unknown'
        ? (fromBody.details as { upstream_code?: string }).upstream_code
        : fromBody.code;
    const upstreamDetails =
      fromBody.code === 'unknown' ? (fromBody.details as { details?: unknown }).details : fromBody.details;
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

const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** A transport failure (no HTTP answer) as a CortexError. Messages name the service, never its address. */
export function errorFromTransport(service: string, err: unknown, signal?: AbortSignal): CortexError {
  if (hasCode(err)) return err as CortexError;
  const e = err as { code?: string; name?: string };
  if (signal?.aborted) {
    const reason = signal.reason as unknown;
    if (hasCode(reason)) return reason as CortexError;
    if ((reason as { name?: string })?.name === 'TimeoutError') {
      return new CortexError('timeout', `${service} did not answer in time`, {
        cause: err,
        details: { service },
      });
    }
    return new CortexError('aborted', `call to ${service} was aborted`, { cause: err, details: { service } });
  }
  if (
    e?.code === 'UND_ERR_HEADERS_TIMEOUT' ||
    e?.code === 'UND_ERR_BODY_TIMEOUT' ||
    e?.name === 'TimeoutError'
  ) {
    return new CortexError('timeout', `${service} did not answer in time`, {
      cause: err,
      details: { service },
    });
  }
  if (e?.code !== undefined && CONNECTION_ERRORS.has(e.code)) {
    return new CortexError('connection', `${service} could not be reached`, {
      cause: err,
      details: { service },
    });
  }
  if (e?.name === 'SyntaxError') {
    return new CortexError('data_error', `${service} answered with malformed JSON`, {
      cause: err,
      details: { service },
    });
  }
  return new CortexError('unknown', `call to ${service} failed`, { cause: err, details: { service } });
}
