import { CortexError, hasCode } from '@cortex/errors';

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * Maps a database failure to the taxonomy: an unreachable or restarting server is
 * `service_unavailable` (503, retriable); data PostgreSQL cannot hold is the caller's fault (400);
 * anything else is a tool failure whose message never carries SQL.
 */
export function mapDbError(err: unknown): CortexError {
  if (hasCode(err)) return err as CortexError;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  if (
    CONNECTION_CODES.has(code) ||
    code.startsWith('08') || // connection exception
    code === '57P01' || // admin shutdown
    code === '57P02' ||
    code === '57P03' || // cannot connect now (starting up)
    code === '53300' || // too many connections
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end/i.test(
      message,
    )
  ) {
    return new CortexError('service_unavailable', 'The database is unavailable', {
      cause: err,
      retryAfterMs: 1000,
    });
  }
  if (code === '57014') {
    return new CortexError('service_unavailable', 'The database did not answer in time', { cause: err });
  }
  if (code === '22P05' || code === '22021' || code === '22P02' || code === '54000') {
    return new CortexError('invalid_request', 'The data cannot be stored', { cause: err });
  }
  return new CortexError('tool_execution_error', 'The database operation failed', { cause: err });
}
