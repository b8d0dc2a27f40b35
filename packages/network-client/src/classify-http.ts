import { CortexError, type ErrorCode, fromErrorBody, hasCode } from '@cortex/errors';

/** Retry-After as milliseconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function codeForUpstreamStatus(status: number): ErrorCode {
  if (status === 408 || status === 504) return 'timeout';
  if (status === 429) return 'rate_limited';
  if (status === 503) return 'service_unavailable';
  if (status >= 500) return 'server_error';
  return 'client_error';
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
  // An upstream's own failure (a tool that crashed) is a bad gateway here, not our internal error;
  // unavailability codes keep their meaning (and their retriability).
  if (
    fromBody &&
    status >= 500 &&
    ['tool_execution_error', 'internal_error', 'unknown'].includes(fromBody.code)
  ) {
    return new CortexError('server_error', `${service}: ${fromBody.message}`, {
      status,
      details: { service, upstream_status: status, upstream_code: fromBody.code },
      retryAfterMs: fromBody.retryAfterMs,
    });
  }
  if (fromBody) {
    return new CortexError(fromBody.code, `${service}: ${fromBody.message}`, {
      status,
      details: {
        service,
        upstream_status: status,
        ...(fromBody.details === undefined ? {} : { upstream: fromBody.details }),
      },
      retryAfterMs: fromBody.retryAfterMs,
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
