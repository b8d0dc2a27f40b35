import { codeForOwnStatus, ERROR_CODES, type ErrorCode, hasCode } from '@cortex/errors';

export interface MappedError {
  status: number;
  code: ErrorCode;
  message: string;
  details?: unknown;
  retryAfterMs?: number | undefined;
  /** 5xx that are not a dependency's fault are bugs and are logged at error level. */
  isBug: boolean;
}

// A 5xx never echoes the underlying message: it may hold SQL, a stack or an internal address.
const SERVER_MESSAGES: Partial<Record<ErrorCode, string>> = {
  timeout: 'A dependency did not answer in time',
  connection: 'A dependency could not be reached',
  circuit_open: 'A dependency is unavailable; its circuit is open',
  server_error: 'A dependency failed',
  data_error: 'A dependency answered with malformed data',
  bulkhead_full: 'Too many requests to a dependency are in flight',
  service_unavailable: 'The service is temporarily unavailable',
  service_not_found: 'No instance of a dependency is configured',
  overloaded: 'The service is overloaded',
  tool_execution_error: 'The tool failed',
};

/** The circuit a `circuit_open` error names (set by @cortex/resilience's breaker), if any. */
function circuitName(err: { code: string; details?: unknown }): string | undefined {
  if (err.code !== 'circuit_open') return undefined;
  const circuit = (err.details as { circuit?: unknown } | undefined)?.circuit;
  return typeof circuit === 'string' && /^[\w:.-]{1,64}$/.test(circuit) ? circuit : undefined;
}

interface ValidationIssue {
  path: PropertyKey[];
  message: string;
}

function isZodError(err: unknown): err is { issues: ValidationIssue[] } {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as { name?: unknown }).name === 'ZodError' &&
    Array.isArray((err as { issues?: unknown }).issues)
  );
}

function validationDetails(issues: readonly ValidationIssue[]) {
  return issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

/** The one mapping from anything thrown to the contract's status, code and safe message. */
export function mapError(err: unknown): MappedError {
  if (isZodError(err)) {
    return {
      status: 400,
      code: 'invalid_request',
      message: 'Request validation failed',
      details: validationDetails(err.issues),
      isBug: false,
    };
  }
  if (hasCode(err)) {
    const status = ERROR_CODES[err.code].status;
    const circuit = circuitName(err);
    if (circuit !== undefined) {
      // The circuit's name is ours (the dependency's), not the dependency's words: safe to say.
      return {
        status,
        code: err.code,
        message: `Dependency "${circuit}" is unavailable; its circuit is open`,
        details: { circuit },
        retryAfterMs: err.retryAfterMs,
        isBug: false,
      };
    }
    const safe = status >= 500 ? (SERVER_MESSAGES[err.code] ?? 'Internal server error') : err.message;
    return {
      status,
      code: err.code,
      message: safe,
      details: status >= 500 ? undefined : err.details,
      retryAfterMs: err.retryAfterMs,
      isBug: err.code === 'internal_error' || err.code === 'unknown',
    };
  }
  const e = err as { statusCode?: unknown; code?: unknown; message?: unknown; validation?: unknown };
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    // Fastify's own errors (bad JSON, 413, 415, schema validation, rate limit) keep their status.
    const code =
      e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ? 'invalid_request' : codeForOwnStatus(e.statusCode);
    return {
      status: e.statusCode,
      code,
      message: typeof e.message === 'string' ? e.message : 'Bad request',
      details: e.validation,
      isBug: false,
    };
  }
  if (typeof e?.statusCode === 'number' && e.statusCode >= 500 && e.statusCode < 600) {
    const code = codeForOwnStatus(e.statusCode);
    return {
      status: e.statusCode,
      code,
      message: SERVER_MESSAGES[code] ?? 'Internal server error',
      isBug: true,
    };
  }
  return { status: 500, code: 'internal_error', message: 'Internal server error', isBug: true };
}
