import { z } from 'zod';
import { type ErrorCode, isErrorCode } from './codes';
import { CortexError } from './cortex-error';

/** The contract's error body, as read by clients (and by our own network client). */
const errorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    request_id: z.string().optional(),
    timestamp: z.string().optional(),
    details: z.unknown().optional(),
    retry_after: z.number().optional(),
  }),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

export interface ErrorBodyInput {
  code: ErrorCode;
  message: string;
  requestId?: string | undefined;
  details?: unknown;
  retryAfterMs?: number | undefined;
  now?: Date;
}

export function toErrorBody(input: ErrorBodyInput): ErrorBody {
  const body: ErrorBody = {
    error: {
      code: input.code,
      message: input.message,
      timestamp: (input.now ?? new Date()).toISOString(),
    },
  };
  if (input.requestId !== undefined) body.error.request_id = input.requestId;
  if (input.details !== undefined) body.error.details = input.details;
  if (input.retryAfterMs !== undefined) body.error.retry_after = Math.ceil(input.retryAfterMs / 1000);
  return body;
}

/**
 * Rebuilds a CortexError from an upstream's error body, so that a code raised two services away
 * is still matched by `code` here. Unknown codes become `unknown` with the original kept in details.
 */
export function fromErrorBody(status: number, body: unknown, retryAfterMs?: number): CortexError | undefined {
  const parsed = errorBodySchema.safeParse(body);
  if (!parsed.success) return undefined;
  const { code, message, details, retry_after } = parsed.data.error;
  const retry = retryAfterMs ?? (retry_after === undefined ? undefined : retry_after * 1000);
  if (!isErrorCode(code)) {
    return new CortexError('unknown', message, {
      status,
      details: { upstream_code: code, details },
      retryAfterMs: retry,
    });
  }
  return new CortexError(code, message, { status, details, retryAfterMs: retry });
}

/**
 * The contract's in-band error item of a streamed resource, or undefined for anything else. Items
 * are told apart by shape, not by a key: an event that merely has an `error` field (a
 * `task_failed` event carries `error: "<message>"`) has a `type` and is data, never a failure.
 */
export function inBandError(item: unknown): ErrorBody | undefined {
  if (typeof item !== 'object' || item === null || Array.isArray(item) || 'type' in item) return undefined;
  if (!('error' in item)) return undefined;
  const parsed = errorBodySchema.safeParse(item);
  return parsed.success ? parsed.data : undefined;
}
