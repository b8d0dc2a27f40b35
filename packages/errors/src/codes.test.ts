import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { codeForOwnStatus, ERROR_CODES, type ErrorCode } from './codes';
import { CortexError, hasCode } from './cortex-error';
import { fromErrorBody, toErrorBody } from './error-body';

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
const documented = new Map<string, { status: number; retriable: boolean }>();
for (const m of doc.matchAll(/^\|\s*`([a-z_]+)`\s*\|\s*(\d{3})\s*\|\s*(yes|no)\s*\|/gm)) {
  documented.set(m[1] as string, { status: Number(m[2]), retriable: m[3] === 'yes' });
}

describe('error taxonomy', () => {
  it.each(Object.keys(ERROR_CODES) as ErrorCode[])(
    'documents %s with its status and retriability',
    (code) => {
      expect(documented.get(code)).toEqual(ERROR_CODES[code]);
    },
  );

  it('documents no code that is not defined', () => {
    expect([...documented.keys()].filter((c) => !(c in ERROR_CODES))).toEqual([]);
  });

  it('matches by code across copies, not by class', () => {
    const foreign = { code: 'timeout', message: 'x' };
    expect(hasCode(foreign, 'timeout')).toBe(true);
    expect(hasCode(foreign, 'connection')).toBe(false);
    expect(hasCode({ code: 'ECONNRESET' })).toBe(false);
    expect(hasCode(new CortexError('circuit_open', 'open'))).toBe(true);
  });

  it('round-trips through the wire body', () => {
    const body = toErrorBody({
      code: 'rate_limited',
      message: 'slow down',
      requestId: 'r1',
      retryAfterMs: 1500,
      now: new Date(0),
    });
    expect(body).toEqual({
      error: {
        code: 'rate_limited',
        message: 'slow down',
        request_id: 'r1',
        retry_after: 2,
        timestamp: '1970-01-01T00:00:00.000Z',
      },
    });
    const back = fromErrorBody(429, body);
    expect(back?.code).toBe('rate_limited');
    expect(back?.retryAfterMs).toBe(2000);
    expect(fromErrorBody(500, { error: { code: 'weird', message: 'm' } })?.code).toBe('unknown');
    expect(fromErrorBody(500, '<html>')).toBeUndefined();
  });

  it('maps HTTP statuses to codes', () => {
    expect(codeForOwnStatus(413)).toBe('payload_too_large');
    expect(codeForOwnStatus(422)).toBe('invalid_request');
    expect(codeForOwnStatus(599)).toBe('internal_error');
    expect(codeForOwnStatus(418)).toBe('client_error');
  });

  it('a no-retry answer is never retriable', () => {
    expect(new CortexError('service_unavailable', 'x').retriable).toBe(true);
    expect(new CortexError('service_unavailable', 'x', { noRetry: true }).retriable).toBe(false);
  });
});
