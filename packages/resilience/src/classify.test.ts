import { CortexError } from '@cortex/errors';
import { describe, expect, it } from 'vitest';
import { classify, isCallerFault, isRetriable, isUpstreamFailure } from './classify';

const sys = (code: string) => Object.assign(new Error(code), { code });

describe('classify', () => {
  it.each([
    ['ECONNREFUSED', 'connection'],
    ['ECONNRESET', 'connection'],
    ['ENOTFOUND', 'connection'],
    ['EAI_AGAIN', 'connection'],
    ['UND_ERR_SOCKET', 'connection'],
    ['UND_ERR_CONNECT_TIMEOUT', 'connection'],
    ['ETIMEDOUT', 'timeout'],
    ['UND_ERR_HEADERS_TIMEOUT', 'timeout'],
    ['UND_ERR_BODY_TIMEOUT', 'timeout'],
    ['UND_ERR_ABORTED', 'aborted'],
  ])('%s → %s', (code, expected) => {
    const c = classify(sys(code));
    expect(c.code).toBe(expected);
    expect((c as CortexError).cause).toBeInstanceOf(Error);
  });

  it('reads fetch failures through their cause', () => {
    const err = new TypeError('fetch failed', { cause: sys('ECONNRESET') });
    expect(classify(err).code).toBe('connection');
  });

  it('tells a timeout abort from a caller abort', () => {
    expect(classify(new DOMException('t', 'TimeoutError')).code).toBe('timeout');
    expect(classify(new DOMException('a', 'AbortError')).code).toBe('aborted');
    const timedOut = AbortSignal.abort(new CortexError('timeout', 'late'));
    expect(
      classify(Object.assign(new DOMException('a', 'AbortError'), { cause: timedOut.reason })).code,
    ).toBe('timeout');
  });

  it('maps HTTP statuses, keeping the status and Retry-After', () => {
    expect(classify({ status: 503, message: 'x', retryAfterMs: 1_000 })).toMatchObject({
      code: 'server_error',
      status: 503,
      retryAfterMs: 1_000,
    });
    expect(classify({ statusCode: 429 }).code).toBe('rate_limited');
    expect(classify({ status: 408 }).code).toBe('timeout');
    expect(classify({ status: 404 })).toMatchObject({ code: 'client_error', status: 404 });
  });

  it('bad JSON is a data error, anything else unknown, coded errors pass unchanged', () => {
    let syntax: unknown;
    try {
      JSON.parse('{');
    } catch (err) {
      syntax = err;
    }
    expect(classify(syntax).code).toBe('data_error');
    expect(classify('a string').code).toBe('unknown');
    expect(classify(new TypeError('x is undefined')).code).toBe('unknown');
    const coded = { code: 'overloaded', message: 'm' };
    expect(classify(coded)).toBe(coded);
  });
});

describe('isRetriable / isUpstreamFailure / isCallerFault', () => {
  const e = (code: ConstructorParameters<typeof CortexError>[0], status?: number, noRetry = false) =>
    new CortexError(code, code, { status, noRetry });

  it('classifies for retries', () => {
    expect(isRetriable(e('timeout'))).toBe(true);
    expect(isRetriable(e('internal_error', 500))).toBe(true);
    expect(isRetriable(e('overloaded', 503, true))).toBe(false);
    expect(isRetriable(e('circuit_open'))).toBe(false);
    expect(isRetriable(e('bulkhead_full'))).toBe(false);
    expect(isRetriable(e('unknown'))).toBe(false);
    expect(isRetriable(e('conflict'))).toBe(false);
    expect(isRetriable(e('service_unavailable', 422))).toBe(false);
    expect(isRetriable(e('server_error', 502))).toBe(true);
    expect(isRetriable(e('server_error', 501))).toBe(false);
    expect(isRetriable(e('server_error', 505))).toBe(false);
  });

  it('classifies for the breaker and the fallback', () => {
    expect(isUpstreamFailure(e('server_error'))).toBe(true);
    expect(isUpstreamFailure(e('overloaded', 503, true))).toBe(true);
    expect(isUpstreamFailure(e('tool_execution_error'))).toBe(true);
    expect(isUpstreamFailure(e('client_error'))).toBe(false);
    expect(isUpstreamFailure(e('aborted'))).toBe(false);
    expect(isCallerFault(e('not_found'))).toBe(true);
    expect(isCallerFault(e('aborted'))).toBe(true);
    expect(isCallerFault(e('rate_limited'))).toBe(false);
    expect(isCallerFault(e('timeout'))).toBe(false);
  });
});
