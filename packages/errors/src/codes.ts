/**
 * The one error taxonomy. Every service, package and client matches errors by these string
 * codes, never by class identity, because errors cross process and package boundaries.
 * `docs/errors.md` documents each code; a test keeps the two in step.
 */
export const ERROR_CODES = {
  // Resilience classification: what went wrong talking to a dependency.
  timeout: { status: 504, retriable: true },
  connection: { status: 503, retriable: true },
  circuit_open: { status: 503, retriable: false },
  server_error: { status: 502, retriable: true },
  rate_limited: { status: 429, retriable: true },
  client_error: { status: 400, retriable: false },
  data_error: { status: 502, retriable: false },
  unknown: { status: 500, retriable: false },
  bulkhead_full: { status: 503, retriable: false },
  aborted: { status: 499, retriable: false },
  // Service wire format (memory, cognition).
  tool_not_found: { status: 404, retriable: false },
  invalid_request: { status: 400, retriable: false },
  tool_execution_error: { status: 500, retriable: false },
  service_unavailable: { status: 503, retriable: true },
  service_not_found: { status: 503, retriable: false },
  // HTTP surface.
  unauthorized: { status: 401, retriable: false },
  forbidden: { status: 403, retriable: false },
  not_found: { status: 404, retriable: false },
  method_not_allowed: { status: 405, retriable: false },
  not_acceptable: { status: 406, retriable: false },
  conflict: { status: 409, retriable: false },
  payload_too_large: { status: 413, retriable: false },
  request_timeout: { status: 408, retriable: true },
  headers_too_large: { status: 431, retriable: false },
  unsupported_media_type: { status: 415, retriable: false },
  too_many_connections: { status: 429, retriable: true },
  overloaded: { status: 503, retriable: true },
  internal_error: { status: 500, retriable: false },
} as const satisfies Record<string, { status: number; retriable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

export function statusOf(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

/**
 * The code for a status a service answers itself (Fastify's own 4xx, an in-process answer) when
 * nothing more specific is known. A dependency's status means something else to its caller: see
 * @cortex/resilience's classifier (503 `service_unavailable`, other 5xx `server_error`).
 */
export function codeForOwnStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
    case 422:
      return 'invalid_request';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 405:
      return 'method_not_allowed';
    case 406:
      return 'not_acceptable';
    case 408:
    case 504:
      return 'timeout';
    case 409:
      return 'conflict';
    case 413:
      return 'payload_too_large';
    case 415:
      return 'unsupported_media_type';
    case 429:
      return 'rate_limited';
    case 502:
      return 'server_error';
    case 503:
      return 'service_unavailable';
    default:
      return status >= 500 ? 'internal_error' : 'client_error';
  }
}
