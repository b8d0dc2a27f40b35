import { CortexError, type ErrorCode } from '@cortex/errors';
import { FakeClock, rejection } from '@cortex/testing';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './circuit-breaker';
import {
  classify,
  codeForUpstreamStatus,
  errorForStatus,
  errorFromResponse,
  errorFromTransport,
  isCallerFault,
  isRetriable,
  isUpstreamFailure,
} from './classify';
import { RetryPolicy } from './retry';

/** An error as Node or undici raises it, its message naming an address as theirs do. */
const sys = (code: string) => Object.assign(new Error(`connect ${code} 10.1.2.3:9000`), { code });

// Every transport failure a dependency (or the network to it) can cause: retried, and counted by
// the breaker. Written out, not derived from the classifier's own tables, so a dropped code fails.
const TRANSIENT: [string, ErrorCode][] = [
  ['ETIMEDOUT', 'timeout'],
  ['ESOCKETTIMEDOUT', 'timeout'],
  ['ECONNABORTED', 'connection'],
  ['EHOSTDOWN', 'connection'],
  ['ENETDOWN', 'connection'],
  ['EADDRNOTAVAIL', 'connection'],
  ['ECONNRESET', 'connection'],
  ['ECONNREFUSED', 'connection'],
  ['EPIPE', 'connection'],
  ['EHOSTUNREACH', 'connection'],
  ['ENETUNREACH', 'connection'],
  ['ENETRESET', 'connection'],
  ['ENOTCONN', 'connection'],
  ['EPROTO', 'connection'],
  ['EAI_AGAIN', 'connection'],
  ['EAI_FAIL', 'connection'],
  ['EAI_NONAME', 'connection'],
  ['EAI_NODATA', 'connection'],
  ['ENOTFOUND', 'connection'],
  ['UND_ERR_SOCKET', 'connection'],
  ['UND_ERR_CLOSED', 'connection'],
  ['UND_ERR_DESTROYED', 'connection'],
  ['UND_ERR_CONNECT_TIMEOUT', 'connection'],
  ['UND_ERR_PRX_TLS', 'connection'],
  ['UND_ERR_HEADERS_TIMEOUT', 'timeout'],
  ['UND_ERR_BODY_TIMEOUT', 'timeout'],
];

// Failures that are not worth a retry: an answer that cannot be read (the same bytes again; like
// any data_error, not held against the breaker either), our own abort, our own bug.
const FINAL: [string, ErrorCode, boolean][] = [
  // [code, classified as, counted by the breaker]
  ['UND_ERR_HEADERS_OVERFLOW', 'data_error', false],
  ['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'data_error', false],
  ['UND_ERR_RES_EXCEEDED_MAX_SIZE', 'data_error', false],
  ['HPE_INVALID_CONSTANT', 'data_error', false],
  ['UND_ERR_ABORTED', 'aborted', false],
  ['ABORT_ERR', 'aborted', false],
  ['UND_ERR_INVALID_ARG', 'unknown', false],
  ['ERR_SOMETHING_ELSE', 'unknown', false],
];

describe('classify: transport errors', () => {
  it.each(TRANSIENT)('%s → %s, retriable, counted by the breaker', (code, expected) => {
    const c = classify(sys(code));
    expect(c.code).toBe(expected);
    expect((c as CortexError).cause).toBeInstanceOf(Error);
    expect(isRetriable(c)).toBe(true);
    expect(isUpstreamFailure(c)).toBe(true);
    expect(isCallerFault(c)).toBe(false);
    // However it is wrapped: fetch's TypeError, or happy eyeballs' AggregateError.
    expect(classify(new TypeError('fetch failed', { cause: sys(code) })).code).toBe(expected);
    expect(classify(new AggregateError([sys(code), sys('ECONNREFUSED')], 'x')).code).toBe(expected);
    // The network client's view: the same code, a message naming the service and not the address.
    const t = errorFromTransport('memory', sys(code));
    expect(t).toMatchObject({ code: expected, details: { service: 'memory' } });
    expect(t.message).toContain('memory');
    expect(t.message).not.toContain('10.1.2.3');
  });

  it.each(FINAL)('%s → %s, never retried', (code, expected, counted) => {
    const c = classify(sys(code));
    expect(c.code).toBe(expected);
    expect(isRetriable(c)).toBe(false);
    expect(isUpstreamFailure(c)).toBe(counted);
    expect(errorFromTransport('memory', sys(code)).code).toBe(expected);
  });

  it('an OS-level timeout from the socket is retried and opens the circuit', async () => {
    const clock = new FakeClock(0);
    const retry = new RetryPolicy({ maxAttempts: 3, budget: false, clock, random: () => 0 });
    let calls = 0;
    const err = await rejection(
      retry.execute(async () => {
        calls++;
        throw sys('ETIMEDOUT');
      }),
    );
    expect(calls).toBe(3);
    expect(err).toMatchObject({ code: 'timeout' });
    const breaker = new CircuitBreaker({ clock, failureThreshold: 2 });
    for (const code of ['EHOSTDOWN', 'ESOCKETTIMEDOUT'])
      await rejection(
        breaker.execute(async () => {
          throw sys(code);
        }),
      );
    expect(breaker.state).toBe('open');
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

  it("a fired signal's reason decides what a transport failure was", () => {
    const undiciAbort = sys('UND_ERR_ABORTED');
    const caller = new AbortController();
    caller.abort();
    expect(errorFromTransport('memory', undiciAbort, caller.signal).code).toBe('aborted');
    expect(
      errorFromTransport('memory', undiciAbort, AbortSignal.abort(new DOMException('t', 'TimeoutError'))),
    ).toMatchObject({ code: 'timeout', message: 'memory did not answer in time' });
    const ours = new CortexError('timeout', 'attempt timed out');
    expect(errorFromTransport('memory', undiciAbort, AbortSignal.abort(ours))).toBe(ours);
    // Even a connection error is the caller's abort once the caller aborted.
    expect(errorFromTransport('memory', sys('ECONNRESET'), caller.signal).code).toBe('aborted');
  });

  it('bad JSON is a data error, anything else unknown, coded errors pass unchanged', () => {
    let syntax: unknown;
    try {
      JSON.parse('{');
    } catch (err) {
      syntax = err;
    }
    expect(classify(syntax).code).toBe('data_error');
    expect(errorFromTransport('memory', syntax)).toMatchObject({
      code: 'data_error',
      message: 'memory answered with malformed JSON',
    });
    expect(classify('a string').code).toBe('unknown');
    expect(classify(new TypeError('x is undefined')).code).toBe('unknown');
    expect(errorFromTransport('memory', new TypeError('x')).message).toBe('call to memory failed');
    const coded = { code: 'overloaded', message: 'm' };
    expect(classify(coded)).toBe(coded);
    expect(errorFromTransport('memory', coded)).toBe(coded);
  });
});

// [status, code, retriable, counted by the breaker, the caller's fault]
const STATUSES: [number, ErrorCode, boolean, boolean, boolean][] = [
  [400, 'client_error', false, false, true],
  [401, 'client_error', false, false, true],
  [403, 'client_error', false, false, true],
  [404, 'client_error', false, false, true],
  [408, 'timeout', true, true, false],
  [409, 'client_error', false, false, true],
  [413, 'client_error', false, false, true],
  [418, 'client_error', false, false, true],
  [422, 'client_error', false, false, true],
  [429, 'rate_limited', true, true, false],
  [500, 'server_error', true, true, false],
  [501, 'server_error', false, true, false],
  [502, 'server_error', true, true, false],
  [503, 'service_unavailable', true, true, false],
  [504, 'timeout', true, true, false],
  [505, 'server_error', false, true, false],
  [599, 'server_error', true, true, false],
];

describe('classify: HTTP statuses, the same through every entry point', () => {
  it.each(STATUSES)('%i → %s', (status, code, retriable, counted, callersFault) => {
    expect(codeForUpstreamStatus(status)).toBe(code);
    const all = [
      classify({ status, message: 'x' }),
      classify({ statusCode: status, message: 'x' }),
      errorForStatus(status),
      // A service's answer as the network client sees it, except a refusal of our own service
      // credentials, which is ours to fix (see "errorFromResponse: error bodies").
      ...(status === 401 || status === 403
        ? []
        : [
            errorFromResponse('memory', status, 'Bad Gateway', undefined),
            errorFromResponse('memory', status, undefined, undefined),
            // With an error body whose code is outside the taxonomy: its status decides.
            errorFromResponse('memory', status, { error: { code: 'proprietary', message: 'm' } }, undefined),
          ]),
    ];
    for (const e of all) {
      expect(e).toMatchObject({ code, status });
      expect(isRetriable(e)).toBe(retriable);
      expect(isUpstreamFailure(e)).toBe(counted);
      expect(isCallerFault(e)).toBe(callersFault);
    }
  });

  it('keeps Retry-After, from the header or the body', () => {
    expect(classify({ status: 503, message: 'x', retryAfterMs: 1_000 })).toMatchObject({
      code: 'service_unavailable',
      status: 503,
      retryAfterMs: 1_000,
    });
    expect(errorFromResponse('memory', 503, undefined, 1_000)).toMatchObject({ retryAfterMs: 1_000 });
    expect(
      errorFromResponse(
        'memory',
        503,
        { error: { code: 'service_unavailable', message: 'm', retry_after: 4 } },
        undefined,
      ),
    ).toMatchObject({ retryAfterMs: 4_000 });
  });
});

describe('errorFromResponse: error bodies', () => {
  const body = (code: string, extra: Record<string, unknown> = {}) => ({
    error: { code, message: 'no', ...extra },
  });

  it("keeps a taxonomy code and the upstream's Retry-After", () => {
    const e = errorFromResponse('memory', 503, body('service_unavailable'), 2_000);
    expect(e).toMatchObject({ code: 'service_unavailable', retryAfterMs: 2_000, status: 503 });
    expect(e.message).toBe('memory: no');
    expect(errorFromResponse('memory', 404, body('tool_not_found'), undefined).code).toBe('tool_not_found');
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

  it('reads a code outside the taxonomy by its status, keeping what it said', () => {
    const unavailable = errorFromResponse('memory', 503, body('maintenance', { details: { eta: 5 } }), 5_000);
    expect(unavailable).toMatchObject({ code: 'service_unavailable', retryAfterMs: 5_000 });
    expect(unavailable.details).toMatchObject({ upstream_code: 'maintenance', upstream: { eta: 5 } });
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
