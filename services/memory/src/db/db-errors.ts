import { CortexError, hasCode } from '@cortex/errors';

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** Our code for a call that waited too long for a free pooled connection (see PgDatabase). */
export const POOL_EXHAUSTED = 'POOL_EXHAUSTED';

// pg reports lost or never-made connections with plain messages and no code.
const CONNECTION_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end|Query read timeout|Client was closed and is not queryable|Connection refused/i;

/**
 * What kind of failure a database error is:
 * - `connection`: the server cannot be reached or the connection broke; the database as a whole
 *   is in doubt, so the availability gate takes it out of use until a probe answers.
 * - `busy`: the server answered but could not serve this call now (statement timeout, too many
 *   connections); retriable, but no reason to stop every other call.
 * - `data`: PostgreSQL cannot hold the value; the caller's fault.
 * - `other`: a bug or a schema problem.
 */
export type DbFailureKind = 'connection' | 'busy' | 'data' | 'other';

export function classifyDbError(err: unknown): DbFailureKind {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  if (code === POOL_EXHAUSTED) return 'busy';
  if (
    CONNECTION_CODES.has(code) ||
    code.startsWith('08') || // connection exception
    code === '57P01' || // admin shutdown
    code === '57P02' || // crash shutdown
    code === '57P03' || // cannot connect now (starting up)
    code === '25P03' || // the server ended a session left idle in a transaction
    code === '57P05' || // the server ended an idle session
    CONNECTION_MESSAGES.test(message)
  ) {
    return 'connection';
  }
  // statement timeout, lock wait timeout, too many connections
  if (code === '57014' || code === '55P03' || code === '53300') return 'busy';
  // untranslatable or invalid characters, invalid text, a value too large, or a datetime
  // PostgreSQL cannot hold
  if (['22P05', '22021', '22P02', '54000', '22007', '22008', '22009'].includes(code)) return 'data';
  return 'other';
}

export const isConnectionFailure = (err: unknown) => !hasCode(err) && classifyDbError(err) === 'connection';

/**
 * PostgreSQL cancelled a statement (57014, `query_canceled`): its `statement_timeout` fired (or an
 * operator cancelled it). Where a statement runs under a timeout of its own, such as a search,
 * this is that statement's outcome, not the database failing.
 */
export const isStatementCancelled = (err: unknown) =>
  !hasCode(err) && (err as { code?: unknown } | null)?.code === '57014';

/**
 * Maps a database failure to the taxonomy: an unreachable or restarting server is
 * `service_unavailable` (503, retriable); data PostgreSQL cannot hold is the caller's fault (400);
 * anything else is a tool failure whose message never carries SQL.
 */
export function mapDbError(err: unknown): CortexError {
  if (hasCode(err)) return err as CortexError;
  switch (classifyDbError(err)) {
    case 'connection':
      return new CortexError('service_unavailable', 'The database is unavailable', {
        cause: err,
        retryAfterMs: 1000,
      });
    case 'busy':
      return new CortexError('service_unavailable', 'The database did not answer in time', {
        cause: err,
        retryAfterMs: 1000,
      });
    case 'data':
      return new CortexError('invalid_request', 'The data cannot be stored', { cause: err });
    default:
      return new CortexError('tool_execution_error', 'The database operation failed', { cause: err });
  }
}
