import { isRetriable } from '@cortex/resilience';
import { describe, expect, it } from 'vitest';
import { errorFromResponse, parseRetryAfter } from './classify-http';

const body = (code: string, extra: Record<string, unknown> = {}) => ({
  error: { code, message: 'no', ...extra },
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-12-01T12:00:00Z');

  it('reads delta-seconds and HTTP dates', () => {
    expect(parseRetryAfter('3', now)).toBe(3_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Tue, 01 Dec 2026 12:00:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfter('Tue, 01 Dec 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(['2', '9'], now)).toBe(2_000);
  });

  it('ignores what is neither, rather than reading it as "now"', () => {
    // V8's Date.parse reads "1.5" as 2001-01-05 and "-1" as 2001-01-01: both would mean "retry now".
    for (const v of ['1.5', '-1', 'soon', '', undefined])
      expect(parseRetryAfter(v, now), String(v)).toBeUndefined();
  });
});

describe('errorFromResponse', () => {
  it("keeps a taxonomy code and the upstream's Retry-After", () => {
    const e = errorFromResponse('memory', 503, body('service_unavailable'), 2_000);
    expect(e).toMatchObject({ code: 'service_unavailable', retryAfterMs: 2_000, status: 503 });
    expect(
      errorFromResponse('memory', 503, body('service_unavailable', { retry_after: 4 }), undefined),
    ).toMatchObject({ retryAfterMs: 4_000 });
  });

  it("makes an upstream's own crash a bad gateway, naming its code", () => {
    const e = errorFromResponse('memory', 500, body('tool_execution_error'), undefined);
    expect(e.code).toBe('server_error');
    expect(e.details).toMatchObject({
      service: 'memory',
      upstream_status: 500,
      upstream_code: 'tool_execution_error',
    });
  });

  it('reads a code outside the taxonomy by its status, keeping Retry-After', () => {
    const unavailable = errorFromResponse('memory', 503, body('maintenance'), 5_000);
    expect(unavailable).toMatchObject({ code: 'service_unavailable', retryAfterMs: 5_000 });
    expect(unavailable.details).toMatchObject({ upstream_code: 'maintenance' });
    const slowDown = errorFromResponse('memory', 429, body('quota'), 1_000);
    expect(slowDown).toMatchObject({ code: 'rate_limited', retryAfterMs: 1_000 });
    expect(isRetriable(slowDown)).toBe(true);
    expect(errorFromResponse('memory', 408, body('late'), undefined).code).toBe('timeout');
    expect(errorFromResponse('memory', 418, body('teapot'), undefined).code).toBe('client_error');
  });

  it('classifies an answer without an error body by its status', () => {
    expect(errorFromResponse('memory', 502, 'Bad Gateway', undefined).code).toBe('server_error');
    expect(errorFromResponse('memory', 503, undefined, 1_000)).toMatchObject({
      code: 'service_unavailable',
      retryAfterMs: 1_000,
    });
  });

  it("makes a refusal of this service's own credentials a bad gateway that is not retried", () => {
    for (const [status, code] of [
      [401, 'unauthorized'],
      [403, 'forbidden'],
    ] as const) {
      for (const answer of [body(code), undefined]) {
        const e = errorFromResponse('memory', status, answer, undefined);
        // Never the end client's 401/403: it was our secret, not their token, that was refused.
        expect(e).toMatchObject({ code: 'server_error', status: 502, noRetry: true });
        expect(e.details).toMatchObject({ upstream_status: status });
        expect(isRetriable(e)).toBe(false);
      }
    }
  });
});
